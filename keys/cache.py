"""Keys remembered by each process, trusted only while the shared key epoch is unchanged.

The OCR endpoints authenticate with a key read from this cache and then ask Redis for
the rate-limit decision; the same Lua script returns the *key epoch*, a random token that
every change to any key or tenant replaces (after its transaction commits). A cached
key is used only when it was read from the database after its epoch was seen and the
epoch the rate-limit call returns is still that one; otherwise the request reads the key
again, and a key revoked, disabled or expired in between is refused with 401 before any
of its work begins. So a revocation holds on the very next request on every worker, as
it does without the cache, and a request pays one query fewer.

The rest is a backstop: entries live at most `TTL_S` seconds (a change that did not go
through the ORM or the services, such as SQL typed by an operator, is seen after that
long), and without Redis there is no cache at all.
"""

from __future__ import annotations

import logging
import time
import uuid

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

EPOCH_KEY = "ocrgw:keys:epoch"
TTL_S = 10.0
MAX_ENTRIES = 10_000

# lookup prefix -> (key with its organization, epoch seen before the read, read at)
_entries: dict[str, tuple[object, str, float]] = {}
_state: dict[str, str | None] = {"epoch": None}  # the newest epoch a request has seen


def enabled() -> bool:
    return bool(settings.REDIS_URL) and settings.API_KEY_CACHE


def epoch_seen(epoch: str | None) -> None:
    """Record the epoch a rate-limit decision returned.

    None: Redis could not be asked (the decision fell back to the database). A change
    made meanwhile could not replace the epoch, and Redis may come back with the one it
    had (a network blip, a restart from its dump file), so nothing read before or during
    the outage is filed under it: this process forgets its entries and files none until
    a decision returns an epoch again."""
    if epoch is None:
        if _state["epoch"] is not None or _entries:
            _state["epoch"] = None
            forget_all()
        return
    _state["epoch"] = epoch


def cached(lookup_prefix: str):
    """(key, epoch) of a trusted entry, or None."""
    entry = _entries.get(lookup_prefix)
    if entry is None:
        return None
    key, epoch, read_at = entry
    if time.monotonic() - read_at > TTL_S:
        _entries.pop(lookup_prefix, None)
        return None
    return key, epoch


def epoch_before_read() -> str | None:
    """The epoch to file a key under that is about to be read from the database."""
    return _state["epoch"]


def remember(lookup_prefix: str, key, epoch: str | None) -> None:
    if epoch is None:
        return  # no epoch seen yet in this process: nothing to check the entry against
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[lookup_prefix] = (key, epoch, time.monotonic())


def forget(lookup_prefix: str) -> None:
    _entries.pop(lookup_prefix, None)


def forget_all() -> None:
    _entries.clear()


def epoch_bump() -> None:
    """Replace the shared epoch now and again once the current transaction commits: every
    process then reads each key again before trusting it. The second time covers a
    request that read the row between the first and the commit (and filed the old row
    under the new epoch); the first covers readers on this connection before the commit."""
    _bump_now()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_bump_now)


def _bump_now() -> None:
    forget_all()  # this process at least, even if Redis cannot be told
    if not settings.REDIS_URL:
        return
    from billing import ratelimit_redis

    try:
        ratelimit_redis.set_value(EPOCH_KEY, uuid.uuid4().hex)
    except ratelimit_redis.RedisUnavailable as error:
        # Other workers trust their entries for at most TTL_S more seconds; while Redis
        # is down they do not use them at all (the rate limit falls back to the database
        # and returns no epoch). One line, no traceback: the operator commands that
        # change keys print to the same terminal (create_key wrote 74 lines of them).
        logger.warning("could not replace the key epoch in Redis: %s", error)
