"""The rate-limit decision in Redis: one Lua script, so it is atomic across every worker.

Two sorted sets per key: the requests of the last minute (scored by arrival time) and
the slots in flight (scored by when they lapse). The clock is Redis's own (`TIME`), so
app hosts with skewed clocks still share one window.
"""

from __future__ import annotations

import functools

import redis
from django.conf import settings

from billing.ratelimit import WINDOW_S, Decision, slot_ttl_ms

KEY_PREFIX = "ocrgw:rl:"

# KEYS: window set, in-flight set. ARGV: rpm, max in flight, window ms, slot ttl ms, token.
# Returns {allowed, refused_by (0 none, 1 rpm, 2 in flight), used, wait_ms, now_ms}.
DECIDE_LUA = """
local limit = tonumber(ARGV[1])
local max_in_flight = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local used = redis.call('ZCARD', KEYS[1])
local function wait_ms()
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if oldest[2] then return tonumber(oldest[2]) + window - now end
  return 0
end
if used >= limit then
  return {0, 1, used, wait_ms(), now}
end
if redis.call('ZCARD', KEYS[2]) >= max_in_flight then
  return {0, 2, used, wait_ms(), now}
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[5])
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, 0, used + 1, wait_ms(), now}
"""


class RedisUnavailable(Exception):
    pass


@functools.cache
def _client(url: str) -> redis.Redis:
    # One pool per process (connections, not limit state, live in the process).
    return redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=0.5)


@functools.cache
def _script(url: str):
    return _client(url).register_script(DECIDE_LUA)


def _keys(api_key) -> tuple[str, str]:
    # The public id, not the database id: ids repeat across databases sharing a Redis.
    base = f"{KEY_PREFIX}{api_key.public_id}"
    return f"{base}:rpm", f"{base}:inflight"


def decide(*, api_key, rpm: int, max_in_flight: int, token: str):
    window_key, slots_key = _keys(api_key)
    url = settings.REDIS_URL
    try:
        allowed, refused, used, wait, now = _script(url)(
            keys=[window_key, slots_key],
            args=[rpm, max_in_flight, WINDOW_S * 1000, slot_ttl_ms(), token],
        )
    except redis.RedisError as error:
        raise RedisUnavailable(str(error)) from error
    decision = Decision(
        allowed=bool(allowed),
        refused_by=("", "rpm", "in_flight")[int(refused)],
        used=int(used),
        wait_ms=int(wait),
        now_ms=int(now),
    )
    if not decision.allowed:
        return decision, None, None

    def release() -> None:
        _client(url).zrem(slots_key, token)

    def refund() -> None:
        _client(url).zrem(window_key, token)

    return decision, release, refund
