"""Provider health shared by every worker: failures counted in the cache, then a cool-down.

A provider that fails `OCR_PROVIDER_FAILURE_THRESHOLD` times within
`OCR_PROVIDER_FAILURE_WINDOW_S` seconds is skipped for `OCR_PROVIDER_COOLDOWN_S` seconds.
The state lives in Django's cache (Redis, or the file cache on one host) so that N
gunicorn workers agree, never in process memory. The cool-down stores its end time so it
works below the cache's one-second TTL granularity; `clock` is an attribute for tests.

Reading the health costs a cache round trip on every request, so each worker keeps what
it read for `OCR_PROVIDER_HEALTH_CACHE_S` seconds (default 1; 0 in tests): another
worker's cool-down reaches this one within that time, and what this worker records
itself is seen at once (its own copy is dropped on every write).

Health is advice: when the cache cannot be reached (Redis down), providers count as
healthy and nothing is recorded, rather than every OCR request failing with a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

from config.redis_breaker import RedisCircuitOpen

logger = logging.getLogger(__name__)
T = TypeVar("T")

clock = time.time
snapshot_clock = time.monotonic

# {slug: (read at, cooling-down-until or None, failures)}; replaced entry by entry.
_seen: dict[str, tuple[float, float | None, int]] = {}


def _failures_key(slug: str) -> str:
    return f"provider:failures:{slug}"


def _cooldown_key(slug: str) -> str:
    return f"provider:cooldown:{slug}"


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def _shared(action: Callable[[], T], unavailable: T) -> T:
    """`action()` on the shared cache, or `unavailable` when the cache cannot be reached."""
    try:
        return action()
    except RedisCircuitOpen:
        return unavailable  # not tried: the breaker logged the outage once
    except Exception:  # noqa: BLE001 - any backend's outage (Redis, a full disk)
        logger.warning("provider health: the shared cache is unavailable", exc_info=True)
        return unavailable


def provider_cooling_down(*, slug: str) -> bool:
    until = _shared(lambda: cache.get(_cooldown_key(slug)), None)
    return until is not None and float(until) > clock()


def provider_health_get(*, slugs: list[str]) -> dict[str, tuple[bool, int]]:
    """{slug: (cooling down, failures in the current streak)} in at most one cache round
    trip, none while this worker's copy is fresh."""
    max_age = _setting("OCR_PROVIDER_HEALTH_CACHE_S", 1.0)
    read_at = snapshot_clock()
    # Entries are taken once into a local dict: another thread may drop one meanwhile.
    entries: dict[str, tuple[float, float | None, int]] = {}
    for slug in slugs:
        entry = _seen.get(slug)
        if max_age > 0 and entry is not None and 0 <= read_at - entry[0] < max_age:
            entries[slug] = entry
    missing = [slug for slug in slugs if slug not in entries]
    if missing:
        keys = {slug: (_cooldown_key(slug), _failures_key(slug)) for slug in missing}
        names = [key for pair in keys.values() for key in pair]
        found = _shared(lambda: cache.get_many(names), {})
        for slug, (cooldown_key, failures_key) in keys.items():
            until = found.get(cooldown_key)
            entry = (
                read_at,
                None if until is None else float(until),
                int(found.get(failures_key) or 0),
            )
            _seen[slug] = entries[slug] = entry
    now = clock()
    return {
        slug: (until is not None and until > now, failures)
        for slug, (_, until, failures) in entries.items()
    }


def _forget(slug: str) -> None:
    _seen.pop(slug, None)


def provider_failure_record(*, slug: str) -> bool:
    """Count one failure; returns True when this failure started a cool-down."""
    try:
        return _shared(lambda: _failure_count(slug), False)
    finally:
        _forget(slug)  # after the writes, so no thread here re-reads the state before them


def _failure_count(slug: str) -> bool:
    window = _setting("OCR_PROVIDER_FAILURE_WINDOW_S", 60)
    threshold = int(_setting("OCR_PROVIDER_FAILURE_THRESHOLD", 3))
    key = _failures_key(slug)
    cache.add(key, 0, timeout=max(1, int(window)))
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=max(1, int(window)))
        failures = 1
    if failures < threshold:
        return False
    cooldown = _setting("OCR_PROVIDER_COOLDOWN_S", 30)
    cache.set(_cooldown_key(slug), clock() + cooldown, timeout=int(cooldown) + 1)
    cache.delete(key)
    return True


def provider_success_record(*, slug: str) -> None:
    """A success ends the streak (callers skip this when they know there is none)."""
    _shared(lambda: cache.delete(_failures_key(slug)), None)
    _forget(slug)


def provider_health_reset(*, slug: str) -> None:
    _shared(lambda: cache.delete_many([_failures_key(slug), _cooldown_key(slug)]), None)
    _forget(slug)
