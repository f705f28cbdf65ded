import os
import re
import time

import pytest

from billing.models import RateLimitHit, RateLimitSlot
from billing.ratelimit import limits_for, rate_limit_headers, ratelimit_acquire
from config.api import ApiError
from keys.services import api_key_create


@pytest.fixture(params=["database", "redis"])
def backend(request, settings):
    if request.param == "redis":
        url = os.environ.get("REDIS_URL")
        if not url:
            pytest.skip("REDIS_URL is not set: the Redis rate limiter needs a real Redis")
        settings.REDIS_URL = url
    else:
        settings.REDIS_URL = ""
    return request.param


def _age_window(backend: str, key, seconds: int) -> None:
    """Move every counted request of `key` `seconds` into the past."""
    if backend == "database":
        hits = RateLimitHit.objects.filter(api_key_id=key.pk)
        for hit in hits:
            hit.at_ms -= seconds * 1000
            hit.save()
        return
    from django.conf import settings

    from billing.ratelimit_redis import _client, _keys

    client, window_key = _client(settings.REDIS_URL), _keys(key)[0]
    for member, score in client.zrange(window_key, 0, -1, withscores=True):
        client.zadd(window_key, {member: score - seconds * 1000})


def _refusal(key) -> ApiError:
    with pytest.raises(ApiError) as caught:
        ratelimit_acquire(api_key=key)
    assert (caught.value.status, caught.value.code) == (429, "rate_limited")
    return caught.value


def test_it_lets_through_the_limit_then_refuses(backend, org_a):
    key = api_key_create(organization=org_a, rate_limit_rpm=3, max_in_flight=100)[0]
    tickets = [ratelimit_acquire(api_key=key) for _ in range(3)]
    assert [t.remaining for t in tickets] == [2, 1, 0]
    headers = tickets[0].headers()
    assert headers["RateLimit-Policy"] == '"rpm";q=3;w=60'
    assert re.fullmatch(r'"rpm";r=2;t=(59|60)', headers["RateLimit"])
    assert headers["X-RateLimit-Limit"] == "3"
    assert headers["X-RateLimit-Remaining"] == "2"
    assert abs(int(headers["X-RateLimit-Reset"]) - (time.time() + 60)) <= 2

    error = _refusal(key)
    assert 1 <= int(error.headers["Retry-After"]) <= 60
    assert error.headers["X-RateLimit-Remaining"] == "0"
    assert error.headers["RateLimit"].startswith('"rpm";r=0;t=')
    assert "3 requests per minute" in error.message
    # Freeing slots does not give back quota: only time does.
    for ticket in tickets:
        ticket.release()
    _refusal(key)
    _age_window(backend, key, 61)
    assert ratelimit_acquire(api_key=key).remaining == 2


def test_the_reset_time_is_never_before_the_quota_comes_back():
    """`t=60` at 1_000_000.9 s means quota back by 1_000_060.9 s: a client that waits
    until X-RateLimit-Reset must not be refused again (it said 1_000_060)."""
    headers = rate_limit_headers(limit=2, remaining=0, reset_s=60, now_ms=1_000_000_900)
    assert headers["X-RateLimit-Reset"] == "1000061"
    headers = rate_limit_headers(limit=2, remaining=0, reset_s=60, now_ms=1_000_000_000)
    assert headers["X-RateLimit-Reset"] == "1000060"


def test_the_window_slides_instead_of_resetting_each_minute(backend, org_a):
    key = api_key_create(organization=org_a, rate_limit_rpm=2, max_in_flight=100)[0]
    ratelimit_acquire(api_key=key)
    _age_window(backend, key, 40)  # the first request was 40 s ago
    ratelimit_acquire(api_key=key)
    error = _refusal(key)
    assert 19 <= int(error.headers["Retry-After"]) <= 21
    _age_window(backend, key, 21)  # now the first is 61 s old, the second 21 s
    assert ratelimit_acquire(api_key=key).remaining == 0


def test_in_flight_refusals_use_up_no_quota(backend, org_a):
    key = api_key_create(organization=org_a, rate_limit_rpm=5, max_in_flight=2)[0]
    first, second = ratelimit_acquire(api_key=key), ratelimit_acquire(api_key=key)
    for _ in range(4):
        error = _refusal(key)
        assert error.headers["Retry-After"] == "1"
        assert "in flight" in error.message
    first.release()
    first.release()  # idempotent: frees one slot, not two
    third = ratelimit_acquire(api_key=key)
    assert third.remaining == 2  # 5 - 3 counted; the four refusals counted nothing
    _refusal(key)
    second.release()
    third.release()
    assert ratelimit_acquire(api_key=key).remaining == 1


def test_rpm_refusals_take_no_slot(backend, org_a):
    key = api_key_create(organization=org_a, rate_limit_rpm=1, max_in_flight=1)[0]
    ticket = ratelimit_acquire(api_key=key)
    ticket.release()
    for _ in range(3):
        assert "per minute" in _refusal(key).message
    if backend == "database":
        assert RateLimitSlot.objects.filter(api_key_id=key.pk).count() == 0
    else:
        from django.conf import settings

        from billing.ratelimit_redis import _client, _keys

        assert _client(settings.REDIS_URL).zcard(_keys(key)[1]) == 0


def test_slots_of_crashed_workers_lapse(backend, org_a, settings):
    settings.RATE_LIMIT_SLOT_TTL_S = 0.3
    key = api_key_create(organization=org_a, rate_limit_rpm=100, max_in_flight=1)[0]
    ratelimit_acquire(api_key=key)  # never released: the worker "crashed"
    _refusal(key)
    time.sleep(0.4)
    ratelimit_acquire(api_key=key).release()


def test_keys_do_not_share_limits(backend, org_a):
    key = api_key_create(organization=org_a, rate_limit_rpm=1)[0]
    other = api_key_create(organization=org_a, rate_limit_rpm=1)[0]
    ratelimit_acquire(api_key=key)
    ratelimit_acquire(api_key=other)
    _refusal(key)


def test_the_limits_come_from_key_then_tenant_then_platform(org_a, settings):
    settings.DEFAULT_RATE_LIMIT_RPM = 77
    settings.DEFAULT_MAX_IN_FLIGHT = 5
    key = api_key_create(organization=org_a)[0]
    assert limits_for(key) == (77, 5)
    org_a.rate_limit_rpm = 30
    assert limits_for(key) == (30, 5)
    key.rate_limit_rpm, key.max_in_flight = 10, 2
    assert limits_for(key) == (10, 2)


def test_an_unreachable_redis_falls_back_to_the_database(org_a, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    key = api_key_create(organization=org_a, rate_limit_rpm=1)[0]
    ratelimit_acquire(api_key=key).release()
    assert RateLimitHit.objects.filter(api_key_id=key.pk).count() == 1
    _refusal(key)


def test_a_refund_gives_back_the_quota_and_the_slot(backend, org_a):
    """For a request another limit refused (402): it must use up nothing of this one."""
    key = api_key_create(organization=org_a, rate_limit_rpm=2, max_in_flight=1)[0]
    refused_elsewhere = ratelimit_acquire(api_key=key)
    refused_elsewhere.refund()
    refused_elsewhere.refund()  # idempotent
    refused_elsewhere.release()  # and a release after it is harmless
    first = ratelimit_acquire(api_key=key)
    assert first.remaining == 1
    first.release()
    first.refund()  # a refund after the release still gives back the quota
    assert ratelimit_acquire(api_key=key).remaining == 1


def test_a_redis_that_forgot_the_script_still_decides(org_a, settings):
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: the Redis rate limiter needs a real Redis")
    settings.REDIS_URL = url
    from billing.ratelimit_redis import _client, _keys

    key = api_key_create(organization=org_a, rate_limit_rpm=2, max_in_flight=100)[0]
    ratelimit_acquire(api_key=key).release()
    _client(url).script_flush()  # what a restarted Redis looks like to a running worker

    ticket = ratelimit_acquire(api_key=key)
    assert ticket.remaining == 0
    _refusal(key)
    ticket.release()
    assert _client(url).zcard(_keys(key)[1]) == 0  # the slot was freed
    assert not RateLimitHit.objects.exists()  # decided in Redis, not the database fallback
