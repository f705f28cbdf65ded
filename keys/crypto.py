"""Key format, checksum and hashing.

A key is `<prefix><body><checksum>`: prefix `sk-ar-` (API) or `ak_` (management), a body
of 32 random base62 characters, and a 6-character base62 CRC32 of prefix+body. The
checksum lets a mistyped key be refused before any database lookup, and the fixed
prefixes make a leaked key recognisable by secret scanners. Only an HMAC-SHA256 of the
whole key (keyed with `API_KEY_PEPPER`) is stored; keys are high-entropy, so a fast keyed
hash is the right tool and no slow password hash is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from dataclasses import dataclass

from django.conf import settings

from accounts.ids import BASE62, random_base62

API_PREFIX = "sk-ar-"
MANAGEMENT_PREFIX = "ak_"
PREFIX_BY_KIND = {"api": API_PREFIX, "management": MANAGEMENT_PREFIX}
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6
LOOKUP_LENGTH = 12
_BASE62_SET = frozenset(BASE62)


@dataclass(frozen=True)
class ParsedKey:
    kind: str
    lookup_prefix: str


@dataclass(frozen=True)
class GeneratedKey:
    secret: str
    lookup_prefix: str
    secret_hash: str
    label: str


def _base62_fixed(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        chars.append(BASE62[rem])
    return "".join(reversed(chars))


def checksum(text: str) -> str:
    return _base62_fixed(zlib.crc32(text.encode()), CHECKSUM_LENGTH)


def hash_key(secret: str) -> str:
    return hmac.new(settings.API_KEY_PEPPER.encode(), secret.encode(), hashlib.sha256).hexdigest()


def mask(secret: str) -> str:
    prefix = PREFIX_BY_KIND["api"] if secret.startswith(API_PREFIX) else MANAGEMENT_PREFIX
    return f"{prefix}{secret[len(prefix) : len(prefix) + 4]}…{secret[-4:]}"


def generate(kind: str) -> GeneratedKey:
    prefix = PREFIX_BY_KIND[kind]
    body = random_base62(BODY_LENGTH)
    secret = f"{prefix}{body}{checksum(prefix + body)}"
    return GeneratedKey(
        secret=secret,
        lookup_prefix=body[:LOOKUP_LENGTH],
        secret_hash=hash_key(secret),
        label=mask(secret),
    )


def parse(secret: str) -> ParsedKey | None:
    """Check format and checksum without touching the database. None when malformed."""
    if secret.startswith(API_PREFIX):
        kind, prefix = "api", API_PREFIX
    elif secret.startswith(MANAGEMENT_PREFIX):
        kind, prefix = "management", MANAGEMENT_PREFIX
    else:
        return None
    rest = secret[len(prefix) :]
    if len(rest) < BODY_LENGTH + CHECKSUM_LENGTH or len(rest) > 128:
        return None
    if not _BASE62_SET.issuperset(rest):
        return None
    body, check = rest[:-CHECKSUM_LENGTH], rest[-CHECKSUM_LENGTH:]
    if not hmac.compare_digest(checksum(prefix + body), check):
        return None
    return ParsedKey(kind=kind, lookup_prefix=body[:LOOKUP_LENGTH])


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(secret), stored_hash)
