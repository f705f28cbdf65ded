"""The rate-limit decision in Redis: one Lua script, so it is atomic across every worker.

Two sorted sets per key: the requests of the last minute (scored by arrival time) and
the slots in flight (scored by when they lapse). The clock is Redis's own (`TIME`), so
app hosts with skewed clocks still share one window.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import threading

import redis
from django.conf import settings
from redis.connection import parse_url

from billing.ratelimit import WINDOW_S, Decision, slot_ttl_ms
from config.redis_breaker import Breaker, breaker_for
from keys.cache import EPOCH_KEY

KEY_PREFIX = "ocrgw:rl:"

# KEYS: window set, in-flight set, key epoch. ARGV: rpm, max in flight, window ms, slot
# ttl ms, token. Returns {allowed, refused_by (0 none, 1 rpm, 2 in flight), used, wait_ms,
# now_ms, key epoch}; the epoch (keys/cache.py) is created from the clock when missing.
DECIDE_LUA = """
local limit = tonumber(ARGV[1])
local max_in_flight = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = 'clock-' .. clock[1] .. '.' .. clock[2]
  redis.call('SET', KEYS[3], epoch)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local used = redis.call('ZCARD', KEYS[1])
local function wait_ms()
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if oldest[2] then return tonumber(oldest[2]) + window - now end
  return 0
end
if used >= limit then
  return {0, 1, used, wait_ms(), now, epoch}
end
if redis.call('ZCARD', KEYS[2]) >= max_in_flight then
  return {0, 2, used, wait_ms(), now, epoch}
end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], window)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[5])
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, 0, used + 1, wait_ms(), now, epoch}
"""


class RedisUnavailable(Exception):
    def __init__(self, message: str, *, skipped: bool = False) -> None:
        super().__init__(message)
        self.skipped = skipped  # not tried: the breaker is open (config/redis_breaker.py)


@functools.cache
def _client(url: str) -> redis.Redis:
    """A pooled client for looking at the limiter's keys (tests, a shell); requests use
    `_connection`."""
    return redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=0.5)


_SCRIPT_SHA = hashlib.sha1(DECIDE_LUA.encode()).hexdigest()
_local = threading.local()


def _connection(url: str) -> tuple[redis.Connection, Breaker]:
    """This thread's own connection: the two commands of every request skip the client's
    pool, retry and instrumentation layers, which cost more CPU than the commands."""
    connection = getattr(_local, "connection", None)
    if connection is None or _local.url != url:
        options = parse_url(url)
        connection_class = options.pop("connection_class", redis.Connection)
        connection = connection_class(**options, socket_timeout=1.0, socket_connect_timeout=0.5)
        _local.connection, _local.url, _local.breaker = connection, url, breaker_for(url)
    return connection, _local.breaker


def _call(url: str, *args):
    connection, breaker = _connection(url)
    if not breaker.allow():
        raise RedisUnavailable(
            f"Redis at {breaker.name} skipped: its breaker is open", skipped=True
        )
    try:
        connection.send_command(*args)
        reply = connection.read_response()
    except (redis.ConnectionError, redis.TimeoutError) as error:
        connection.disconnect()  # reconnects on the next command
        breaker.failure(error)
        raise RedisUnavailable(str(error)) from error
    except redis.exceptions.NoScriptError:
        breaker.success()
        raise  # the caller sends the script whole
    except redis.RedisError as error:
        breaker.success()  # an error reply is an answer
        raise RedisUnavailable(str(error)) from error
    breaker.success()
    return reply


# (sorted set, token) of releases and refunds Redis did not take (it hung, or its breaker
# was open): sent before this process's next decision there, so a slot held when Redis
# went away does not block its key until the slot's TTL (5 min) once Redis is back.
_unsent: collections.deque[tuple[str, str]] = collections.deque(maxlen=10_000)


def _remove(url: str, name: str, token: str) -> None:
    try:
        _call(url, "ZREM", name, token)
    except RedisUnavailable:
        _unsent.append((name, token))


def _send_unsent(url: str) -> None:
    """Raises RedisUnavailable when Redis is still away (what is left stays queued)."""
    while True:
        try:
            name, token = _unsent.popleft()
        except IndexError:
            return
        try:
            _call(url, "ZREM", name, token)
        except RedisUnavailable:
            _unsent.appendleft((name, token))
            raise


def set_value(name: str, value: str) -> None:
    _call(settings.REDIS_URL, "SET", name, value)


def _keys(api_key) -> tuple[str, str]:
    # The public id, not the database id: ids repeat across databases sharing a Redis.
    base = f"{KEY_PREFIX}{api_key.public_id}"
    return f"{base}:rpm", f"{base}:inflight"


def decide(*, api_key, rpm: int, max_in_flight: int, token: str):
    window_key, slots_key = _keys(api_key)
    url = settings.REDIS_URL
    args = (3, window_key, slots_key, EPOCH_KEY, rpm, max_in_flight, WINDOW_S * 1000)
    args += (slot_ttl_ms(), token)
    if _unsent:
        _send_unsent(url)
    try:
        reply = _call(url, "EVALSHA", _SCRIPT_SHA, *args)
    except redis.exceptions.NoScriptError:  # a restarted or flushed Redis: send it whole
        reply = _call(url, "EVAL", DECIDE_LUA, *args)
    allowed, refused, used, wait, now, epoch = reply
    decision = Decision(
        allowed=bool(allowed),
        refused_by=("", "rpm", "in_flight")[int(refused)],
        used=int(used),
        wait_ms=int(wait),
        now_ms=int(now),
        key_epoch=epoch.decode() if isinstance(epoch, bytes) else str(epoch),
    )
    if not decision.allowed:
        return decision, None, None

    def release() -> None:
        _remove(url, slots_key, token)

    def refund() -> None:
        _remove(url, window_key, token)

    return decision, release, refund
