"""Django's Redis cache behind the Redis breaker (config/redis_breaker.py).

Every cache operation goes through the breaker of the cache's (first) server: while it is
open, the operation raises `RedisCircuitOpen` at once instead of waiting for a timeout,
and its callers take their "cache unreachable" path (ocr/providers/health.py, /healthz).
"""

from __future__ import annotations

import functools

from django.core.cache.backends import redis as django_redis

from config.redis_breaker import breaker_for

_OPERATIONS = (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "set_many",
    "delete_many",
    "clear",
)


class BreakerRedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, servers, **options) -> None:
        super().__init__(servers, **options)
        self.breaker = breaker_for(servers[0])


def _guarded(operation):
    @functools.wraps(operation)
    def guarded(self, *args, **kwargs):
        return self.breaker.call(operation, self, *args, **kwargs)

    return guarded


for _name in _OPERATIONS:
    setattr(BreakerRedisCacheClient, _name, _guarded(getattr(django_redis.RedisCacheClient, _name)))


class BreakerRedisCache(django_redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = BreakerRedisCacheClient
