"""Random public identifiers (base62), used instead of database ids in URLs and APIs."""

import secrets

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def random_base62(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


def public_id(prefix: str, length: int = 16) -> str:
    return f"{prefix}{random_base62(length)}"


def org_public_id() -> str:
    return public_id("org_")
