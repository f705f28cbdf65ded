"""A circuit breaker per Redis server, per process: a Redis that fails is left alone for a
cool-down instead of costing every request its timeout.

A Redis that refuses connections costs nothing, but one that accepts and never answers (a
stopped process, a network black hole) costs each call its timeout (1 s), and an OCR
request makes several. After one such failure (a timeout or a connection error) the
breaker *opens*: for `REDIS_BREAKER_COOLDOWN_S` seconds every call is skipped at once with
`RedisCircuitOpen` (a `redis.ConnectionError`, so callers take the path they take when
Redis is down: rate limits in the database, providers counted healthy). Then one call
goes through (half-open): when Redis answers, the breaker closes; when it fails, another
cool-down starts. Any call that gets an answer closes it.

The rate limiter (billing/ratelimit_redis.py) and the shared cache (config/redis_cache.py)
share the breaker of their URL, so the first failure anywhere spares the others. Closed,
the hot path reads one attribute before a call and one after it. The opening and the
closing are logged once each (the host and port, never the URL's password).
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

import redis
from django.conf import settings

logger = logging.getLogger(__name__)


class RedisCircuitOpen(redis.exceptions.ConnectionError):
    """Raised instead of calling a Redis whose breaker is open."""


def _cooldown_s() -> float:
    return float(getattr(settings, "REDIS_BREAKER_COOLDOWN_S", 5.0))


def server_name(url: str) -> str:
    """host:port/db of a Redis URL, without its user or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


class Breaker:
    clock = staticmethod(time.monotonic)  # an attribute, so tests can move time

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._open_until = 0.0  # 0: closed
        self._opened_at = 0.0
        self._skipped = 0

    @property
    def is_open(self) -> bool:
        return bool(self._open_until)

    def allow(self) -> bool:
        """True when the call may go to Redis: closed, or the one probe after a cool-down."""
        if not self._open_until:
            return True
        with self._lock:
            if not self._open_until:
                return True
            now = self.clock()
            if now < self._open_until:
                self._skipped += 1
                return False
            # This caller is the probe; the others wait another cool-down unless it
            # answers first (a probe that never reports only delays the next one).
            self._open_until = now + _cooldown_s()
            return True

    def success(self) -> None:
        """Redis answered (any reply, an error reply included)."""
        if not self._open_until:
            return
        with self._lock:
            if not self._open_until:
                return
            self._open_until = 0.0
            outage, skipped = self.clock() - self._opened_at, self._skipped
        logger.warning(
            "Redis at %s answers again: calls resume (away %.1f s, %d calls skipped)",
            self.name,
            outage,
            skipped,
        )

    def failure(self, error: BaseException) -> None:
        """A call timed out or could not connect."""
        with self._lock:
            opening = not self._open_until
            now = self.clock()
            self._open_until = now + _cooldown_s()
            if opening:
                self._opened_at, self._skipped = now, 0
        if opening:
            logger.warning(
                "Redis at %s failed (%s): this process skips it for %g s at a time "
                "until it answers (rate limits in the database meanwhile)",
                self.name,
                error,
                _cooldown_s(),
            )

    def call(self, action, *args, **kwargs):
        """`action(*args, **kwargs)` through the breaker; raises `RedisCircuitOpen` while it
        is open."""
        if not self.allow():
            raise RedisCircuitOpen(f"Redis at {self.name} skipped: its breaker is open")
        try:
            result = action(*args, **kwargs)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            self.failure(error)
            raise
        except redis.exceptions.RedisError:
            self.success()  # an error reply is an answer
            raise
        self.success()
        return result

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


_breakers: dict[str, Breaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(url: str) -> Breaker:
    breaker = _breakers.get(url)
    if breaker is None:
        with _breakers_lock:
            breaker = _breakers.setdefault(url, Breaker(server_name(url)))
    return breaker


def reset_all() -> None:
    """Close every breaker (tests: one test's dead Redis must not skip the next one's)."""
    for breaker in list(_breakers.values()):
        breaker.reset()
