"""Attempt counters in the shared cache, for limits on the dashboard's sign-in forms.

An attempt takes its place in every counter that applies (an address, a client
network) before anything is checked. On Redis the place is an atomic increment, which
hands each of N concurrent attempts its own number, so the (limit + 1)th is refused
whatever the timing. A refused attempt gives its places back, so it neither counts nor
prolongs a lock.

Each counted attempt restarts its counter's window: the count lapses `window_s` after
the last counted attempt. Django's file and database caches increment by a read and a
write that also resets the entry's expiry, so on those the counter is read and written
here with the window as its timeout: not atomic (without Redis the limits hold on one
host, and concurrent attempts may pass a limit by a few).

The cache is advice, not a gate: when it cannot be reached (Redis down) nothing is
counted and every attempt goes ahead, rather than locking everybody out or failing
with a 500. `namespace` keeps tests apart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.utils.crypto import salted_hmac

logger = logging.getLogger(__name__)

namespace = "authlimit"


@dataclass(frozen=True)
class Limit:
    scope: str  # what is counted, e.g. "login:account"
    limit: int  # attempts allowed in the window; 0 turns the limit off
    window_s: int  # 0 turns it off too


@dataclass
class Attempt:
    """The counter keys an allowed attempt was counted in."""

    keys: dict[str, int] = field(default_factory=dict)  # key -> its window

    def undo(self) -> None:
        """Stop counting this attempt (a sign-in that succeeded, for the network)."""
        _quietly(lambda: _give_back_all(self.keys))

    def clear(self, scope: str) -> None:
        """Forget every attempt counted under this scope's key (a successful sign-in
        clears its account's failures)."""
        prefix = f"{namespace}:{scope}:"
        _quietly(lambda: cache.delete_many([key for key in self.keys if key.startswith(prefix)]))


def counter_key(scope: str, subject: str) -> str:
    # Keyed by an HMAC: addresses are not kept in the cache, and any typed text makes a
    # valid cache key.
    digest = salted_hmac("accounts.counters", subject, algorithm="sha256").hexdigest()[:32]
    return f"{namespace}:{scope}:{digest}"


def attempt_take(counted: list[tuple[Limit, str]]) -> Attempt | None:
    """Count one attempt under each (limit, subject); None when a limit is reached (the
    attempt is then counted nowhere). Without the cache, an attempt that counts nowhere."""
    attempt = Attempt()
    try:
        for limit, subject in counted:
            if limit.limit <= 0 or limit.window_s <= 0:
                continue  # off
            key = counter_key(limit.scope, subject)
            if not _take(key, limit.limit, limit.window_s):
                attempt.undo()
                return None
            attempt.keys[key] = limit.window_s
    except Exception:  # noqa: BLE001 - any backend's outage (Redis, a full disk)
        logger.warning("auth limits: the shared cache is unavailable, not limiting")
        return Attempt()
    return attempt


def _atomic() -> bool:
    """Whether the backend increments atomically and leaves the expiry alone."""
    return isinstance(caches["default"], RedisCache | LocMemCache)


def _take(key: str, limit: int, window_s: int) -> bool:
    if not _atomic():
        count = cache.get(key, 0)
        if count >= limit:
            return False
        cache.set(key, count + 1, timeout=window_s)
        return True
    cache.add(key, 0, timeout=window_s)
    try:
        count = cache.incr(key)
    except ValueError:  # the counter lapsed between add and incr
        cache.add(key, 0, timeout=window_s)
        count = cache.incr(key)
    if count > limit:
        _give_back(key, window_s)
        return False
    # The window runs from the latest attempt (this also gives an expiry to a key that
    # Redis's INCR made afresh after it lapsed between Django's EXISTS and the INCR).
    cache.touch(key, window_s)
    return True


def _give_back_all(keys: dict[str, int]) -> None:
    for key, window_s in keys.items():
        _give_back(key, window_s)


def _give_back(key: str, window_s: int) -> None:
    if not _atomic():
        count = cache.get(key, 0)
        if count > 0:
            cache.set(key, count - 1, timeout=window_s)
        return
    try:
        count = cache.decr(key)
    except ValueError:  # lapsed meanwhile: nothing left to give back
        return
    if count < 0:
        # Redis's DECR made the key afresh (it lapsed between the check and the
        # decrement), without an expiry: a counter nobody would ever clear.
        cache.delete(key)


def _quietly(action) -> None:
    try:
        action()
    except Exception:  # noqa: BLE001 - see the module docstring
        logger.warning("auth limits: the shared cache is unavailable, attempt not updated")
