"""Per-key rate limits: requests per minute (sliding window) and requests in flight.

Both limits are decided together, atomically, in one place shared by every worker and
host: one Lua script in Redis when `REDIS_URL` is set, one locked transaction in the
database otherwise (never in process memory, so N workers do not get N times the limit).
A request refused by one limit consumes nothing of the other.

The window is an exact sliding log of the last 60 seconds: a burst lets through exactly
the limit, however the requests fall across minute boundaries. An in-flight slot carries
a TTL, so slots held by a worker that crashed lapse instead of blocking the key forever.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from config.api import ApiError
from keys.models import ApiKey

logger = logging.getLogger(__name__)

WINDOW_S = 60


def slot_ttl_ms() -> int:
    # Longer than any request may run (gunicorn's timeout is 180 s by default).
    return int(getattr(settings, "RATE_LIMIT_SLOT_TTL_S", 300) * 1000)


@dataclass
class Decision:
    allowed: bool
    refused_by: str  # "", "rpm" or "in_flight"
    used: int  # requests counted in the window, this one included when allowed
    wait_ms: int  # until the oldest counted request leaves the window
    now_ms: int
    key_epoch: str | None = None  # keys/cache.py; None when Redis did not decide


@dataclass
class RateLimitTicket:
    """What a request that passed holds: its quota figures and its in-flight slot."""

    limit: int
    remaining: int
    reset_s: int
    now_ms: int
    _release: Callable[[], None] | None = field(default=None, repr=False)
    _refund: Callable[[], None] | None = field(default=None, repr=False)

    def headers(self) -> dict[str, str]:
        return rate_limit_headers(
            limit=self.limit, remaining=self.remaining, reset_s=self.reset_s, now_ms=self.now_ms
        )

    def release(self) -> None:
        """Free the in-flight slot; safe to call more than once, never raises."""
        release, self._release = self._release, None
        _quietly(release, "could not free an in-flight slot")  # it lapses by its TTL

    def refund(self) -> None:
        """Give back this request's place in the window and its slot: for a request that
        another limit refused (402), which must use up nothing of this one (§6)."""
        refund, self._refund = self._refund, None
        if refund is not None:
            _quietly(refund, "could not give back a rate-limit hit")
            # The answer's headers count what is left after the refund.
            self.remaining = min(self.limit, self.remaining + 1)
        self.release()


def _quietly(action: Callable[[], None] | None, warning: str) -> None:
    if action is None:
        return
    try:
        action()
    except Exception:
        logger.warning(warning, exc_info=True)


def rate_limit_headers(*, limit: int, remaining: int, reset_s: int, now_ms: int) -> dict[str, str]:
    """IETF draft (Structured Fields) headers plus the older X-RateLimit-* trio.

    X-RateLimit-Reset is a Unix time in seconds (GitHub's convention); `t` is a delta.
    Both round up: rounding `now` down made the reset up to a second early, and a client
    that waited for it was refused again.
    """
    return {
        "RateLimit-Policy": f'"rpm";q={limit};w={WINDOW_S}',
        "RateLimit": f'"rpm";r={remaining};t={reset_s}',
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(-(-now_ms // 1000) + reset_s),
    }


def limits_for(api_key: ApiKey) -> tuple[int, int]:
    """(requests per minute, requests in flight): the key's, else tenant's, else platform's."""
    rpm = api_key.rate_limit_rpm
    if rpm is None:
        rpm = api_key.organization.rate_limit_rpm
    if rpm is None:
        rpm = settings.DEFAULT_RATE_LIMIT_RPM
    in_flight = api_key.max_in_flight
    if in_flight is None:
        in_flight = settings.DEFAULT_MAX_IN_FLIGHT
    return rpm, in_flight


def _seconds(ms: int) -> int:
    return max(1, math.ceil(ms / 1000))


def ratelimit_acquire(
    *, api_key: ApiKey, key_check: Callable[[str | None], ApiKey | None] | None = None
) -> RateLimitTicket:
    """Count this request against the key's limits, or raise 429 `rate_limited`.

    `key_check(epoch)` runs on the decision's key epoch before anything else is answered
    (a key read from the process cache is checked there, keys/cache.py); when it raises,
    the request gives back what it took and its error is the answer. When it returns the
    key read again and that key's limits differ, the decision (made under the cached
    limits) is given back and made again under the current ones."""
    rpm, max_in_flight = limits_for(api_key)
    token = uuid.uuid4().hex
    decision, release, refund = _backend_decide(
        api_key=api_key, rpm=rpm, max_in_flight=max_in_flight, token=token
    )
    if key_check is not None:
        try:
            fresh = key_check(decision.key_epoch)
        except BaseException:
            if decision.allowed:
                _quietly(refund, "could not give back a rate-limit hit")
                _quietly(release, "could not free an in-flight slot")
            raise
        if fresh is not None and limits_for(fresh) != (rpm, max_in_flight):
            # The limits changed since the key was cached (a PATCH on another worker):
            # a burst right after it was admitted under the old ones.
            if decision.allowed:
                _quietly(refund, "could not give back a rate-limit hit")
                _quietly(release, "could not free an in-flight slot")
            return ratelimit_acquire(api_key=fresh)
    if not decision.allowed:
        raise _refusal(decision=decision, rpm=rpm, max_in_flight=max_in_flight)
    return RateLimitTicket(
        limit=rpm,
        remaining=max(0, rpm - decision.used),
        reset_s=_seconds(decision.wait_ms),
        now_ms=decision.now_ms,
        _release=release,
        _refund=refund,
    )


def _refusal(*, decision: Decision, rpm: int, max_in_flight: int) -> ApiError:
    if decision.refused_by == "rpm":
        retry = _seconds(decision.wait_ms)
        message = (
            f"Rate limit exceeded: {rpm} requests per minute for this key. Retry in {retry} s."
        )
        remaining = 0
    else:
        # A slot frees when any request in flight finishes: ask to come back soon.
        retry = 1
        message = (
            f"Too many requests in flight for this key (at most {max_in_flight}). "
            "Retry when one finishes."
        )
        remaining = max(0, rpm - decision.used)
    headers = rate_limit_headers(
        limit=rpm,
        remaining=remaining,
        reset_s=_seconds(decision.wait_ms) if decision.used else retry,
        now_ms=decision.now_ms,
    )
    headers["Retry-After"] = str(retry)
    return ApiError(429, "rate_limited", message, headers=headers)


def _backend_decide(*, api_key, rpm, max_in_flight, token):
    if settings.REDIS_URL:
        from billing import ratelimit_redis

        try:
            return ratelimit_redis.decide(
                api_key=api_key, rpm=rpm, max_in_flight=max_in_flight, token=token
            )
        except ratelimit_redis.RedisUnavailable as error:
            if not error.skipped:  # while the breaker is open, its own line says so
                logger.warning("Redis unavailable: rate limits decided in the database")
    from billing import ratelimit_db

    return ratelimit_db.decide(api_key=api_key, rpm=rpm, max_in_flight=max_in_flight, token=token)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ratelimited(*, api_key: ApiKey, respond: Callable[[], Any]) -> Any:
    """`respond()` inside one rate-limit slot, with the limit's headers on its response;
    the slot is released however it ends."""
    ticket = ratelimit_acquire(api_key=api_key)
    try:
        response = respond()
        for name, value in ticket.headers().items():
            response[name] = value
        return response
    finally:
        ticket.release()
