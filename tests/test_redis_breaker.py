"""The Redis breaker on its own (config/redis_breaker.py): open, cool-down, one probe, close."""

from __future__ import annotations

import logging
import threading

import pytest
import redis

from config.redis_breaker import Breaker, RedisCircuitOpen, breaker_for, server_name


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def breaker(settings):
    settings.REDIS_BREAKER_COOLDOWN_S = 5
    breaker = Breaker("127.0.0.1:6379/0")
    breaker.clock = Clock()
    return breaker


def _timeout():
    raise redis.exceptions.TimeoutError("Timeout reading from 127.0.0.1:6379")


def test_it_lets_calls_through_while_closed(breaker):
    assert breaker.call(lambda: "PONG") == "PONG"
    assert breaker.allow() and not breaker.is_open


def test_a_timeout_opens_it_and_later_calls_are_skipped(breaker):
    calls = []

    with pytest.raises(redis.exceptions.TimeoutError):
        breaker.call(_timeout)
    with pytest.raises(RedisCircuitOpen):
        breaker.call(lambda: calls.append(1))

    assert breaker.is_open and calls == []


def test_a_refused_connection_opens_it_too(breaker):
    def refused():
        raise redis.exceptions.ConnectionError("Error 111 connecting. Connection refused.")

    with pytest.raises(redis.exceptions.ConnectionError):
        breaker.call(refused)

    assert not breaker.allow()


def test_an_error_reply_is_an_answer(breaker):
    def error_reply():
        raise redis.exceptions.ResponseError("WRONGTYPE")

    with pytest.raises(redis.exceptions.ResponseError):
        breaker.call(error_reply)

    assert not breaker.is_open


def test_after_the_cooldown_one_call_probes_and_an_answer_closes_it(breaker):
    breaker.failure(redis.exceptions.TimeoutError("t"))
    breaker.clock.now += 4.9
    assert not breaker.allow()

    breaker.clock.now += 0.2
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # the others wait for it
    breaker.success()

    assert not breaker.is_open and breaker.allow()


def test_a_failed_probe_starts_another_cooldown(breaker):
    breaker.failure(redis.exceptions.TimeoutError("t"))
    breaker.clock.now += 5
    assert breaker.allow()
    breaker.failure(redis.exceptions.TimeoutError("t"))

    breaker.clock.now += 4.9
    assert not breaker.allow()
    breaker.clock.now += 0.2
    assert breaker.allow()


def test_a_probe_that_never_reports_only_delays_the_next(breaker):
    breaker.failure(redis.exceptions.TimeoutError("t"))
    breaker.clock.now += 5
    assert breaker.allow()  # and then nothing: an exception of another kind, say

    breaker.clock.now += 5
    assert breaker.allow()


def test_one_probe_among_many_threads(breaker):
    breaker.failure(redis.exceptions.TimeoutError("t"))
    breaker.clock.now += 5
    start = threading.Barrier(16)
    allowed = []

    def ask():
        start.wait()
        allowed.append(breaker.allow())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(allowed) == [False] * 15 + [True]


def test_it_logs_the_opening_and_the_closing_once_each(breaker, caplog):
    caplog.set_level(logging.WARNING, logger="config.redis_breaker")
    for _ in range(3):  # threads that were waiting on the same hung Redis
        breaker.failure(redis.exceptions.TimeoutError("Timeout reading from 127.0.0.1:6379"))
    for _ in range(100):
        breaker.allow()
    breaker.clock.now += 5
    breaker.allow()
    breaker.success()
    breaker.success()

    opened, closed = (record.getMessage() for record in caplog.records)
    assert opened.startswith("Redis at 127.0.0.1:6379/0 failed (Timeout reading from")
    assert "skips it for 5 s at a time" in opened
    assert (
        closed
        == "Redis at 127.0.0.1:6379/0 answers again: calls resume (away 5.0 s, 100 calls skipped)"
    )


def test_its_name_never_holds_the_password():
    url = "redis://:hunter2-secret@cache.internal:6380/3"
    assert server_name(url) == "cache.internal:6380/3"
    assert "hunter2" not in breaker_for(url).name


def test_one_breaker_per_url():
    assert breaker_for("redis://127.0.0.1:6379/0") is breaker_for("redis://127.0.0.1:6379/0")
    assert breaker_for("redis://127.0.0.1:6379/0") is not breaker_for("redis://127.0.0.1:1/0")
