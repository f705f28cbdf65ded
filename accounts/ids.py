"""Random public identifiers (base62), used instead of database ids in URLs and APIs."""

import secrets

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def random_base62(length: int) -> str:
    # Unbiased: bytes of 248 and above (62 * 4) are dropped rather than folded modulo 62.
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(BASE62[byte % 62] for byte in secrets.token_bytes(length + 8) if byte < 248)
    return "".join(chars[:length])


def public_id(prefix: str, length: int = 16) -> str:
    return f"{prefix}{random_base62(length)}"


def org_public_id() -> str:
    return public_id("org_")
