"""The OCR endpoints' per-process key cache (keys/cache.py), against the real Redis.

A request with a body the dialect refuses (400) has passed authentication and the rate
limit, so it shows which key answered without running the engine.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import ratelimit_redis
from keys import cache as key_cache
from keys.crypto import API_PREFIX, CHECKSUM_LENGTH, checksum, parse
from keys.models import ApiKey
from keys.services import api_key_create, api_key_revoke, api_key_update
from tests.ocr.dialect_support import b64, phototest_png

pytestmark = pytest.mark.django_db

URL = "/v1/ocr"


@pytest.fixture
def redis_on(settings):
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: the key cache needs a real Redis")
    settings.REDIS_URL = url
    key_cache.forget_all()
    yield url
    key_cache.forget_all()


@pytest.fixture
def key(funded_org_a, redis_on):
    return api_key_create(organization=funded_org_a, name="cached")


def _key_queries(captured) -> int:
    return sum(1 for q in captured.captured_queries if "lookup_prefix" in q["sql"])


def _refused_body(client_for, secret):
    return client_for(secret).post(URL, {"base64": 5}, format="json")


def _warm(client_for, secret) -> None:
    """Two requests: the first files the key under the epoch it saw, the second is
    served from the cache."""
    for _ in range(2):
        assert _refused_body(client_for, secret).status_code == 400


def test_a_key_seen_before_is_not_read_again(key, client_for):
    _, secret = key
    _warm(client_for, secret)

    with CaptureQueriesContext(connection) as captured:
        response = _refused_body(client_for, secret)

    assert response.status_code == 400
    assert _key_queries(captured) == 0


def test_an_ocr_request_with_a_cached_key_is_charged_to_its_tenant(key, client_for):
    api_key, secret = key
    _warm(client_for, secret)

    with CaptureQueriesContext(connection) as captured:
        response = client_for(secret).post(URL, {"base64": b64(phototest_png())}, format="json")

    assert response.status_code == 200, response.content
    assert _key_queries(captured) == 0
    assert "quick brown dog" in response.json()["result"]["text"]
    api_key.refresh_from_db()
    assert api_key.total_usage_micros > 0
    assert float(response["X-Cost-Usd"]) * 1_000_000 == pytest.approx(api_key.total_usage_micros)


def test_a_revoked_key_is_refused_on_the_next_request(key, client_for):
    api_key, secret = key
    _warm(client_for, secret)

    api_key_revoke(key=api_key)
    response = _refused_body(client_for, secret)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert "X-Credits-Remaining-Usd" not in response


def test_another_workers_revocation_is_seen_through_the_epoch(key, client_for, redis_on):
    """Another worker revokes (the row changes, the epoch is replaced in Redis); this
    process's entry still looks valid, and the epoch alone makes it read the row again."""
    api_key, secret = key
    _warm(client_for, secret)

    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())  # no signal
    assert _refused_body(client_for, secret).status_code == 400  # the epoch did not move
    ratelimit_redis.set_value(key_cache.EPOCH_KEY, "another-worker-bumped")
    with CaptureQueriesContext(connection) as captured:
        response = _refused_body(client_for, secret)

    assert response.status_code == 401
    assert _key_queries(captured) == 1


def test_a_refused_revoked_key_gives_back_its_rate_limit_hit(key, client_for, redis_on):
    api_key, secret = key
    _warm(client_for, secret)
    window_key = ratelimit_redis._keys(api_key)[0]
    redis = ratelimit_redis._client(redis_on)
    before = redis.zcard(window_key)

    ApiKey.objects.filter(pk=api_key.pk).update(disabled=True)
    ratelimit_redis.set_value(key_cache.EPOCH_KEY, "another-worker-disabled-it")
    response = _refused_body(client_for, secret)

    assert response.status_code == 401
    assert "disabled" in response.json()["error"]["message"]
    assert redis.zcard(window_key) == before
    assert redis.zcard(ratelimit_redis._keys(api_key)[1]) == 0


def test_a_revoked_key_at_its_rate_limit_is_told_it_is_revoked(key, client_for):
    api_key, secret = key
    api_key_update(key=api_key, rate_limit_rpm=2)
    _warm(client_for, secret)
    assert _refused_body(client_for, secret).status_code == 429

    api_key_revoke(key=api_key)

    assert _refused_body(client_for, secret).status_code == 401


def test_a_changed_limit_applies_from_the_next_request(key, client_for):
    api_key, secret = key
    _warm(client_for, secret)

    api_key_update(key=api_key, rate_limit_rpm=3)
    response = _refused_body(client_for, secret)

    assert response["X-RateLimit-Limit"] == "3"


def test_another_workers_lower_limit_holds_on_the_next_request(key, client_for, redis_on):
    """Another worker lowers the key's rate limit: this process's entry still carries the
    old limit, and the request it would have admitted under it is refused under the new
    one, leaving the window as it was (a burst right after a PATCH got through)."""
    api_key, secret = key
    _warm(client_for, secret)  # two requests in the window
    window_key = ratelimit_redis._keys(api_key)[0]
    redis = ratelimit_redis._client(redis_on)

    ApiKey.objects.filter(pk=api_key.pk).update(rate_limit_rpm=2)  # no signal
    ratelimit_redis.set_value(key_cache.EPOCH_KEY, "another-worker-lowered-the-limit")
    response = _refused_body(client_for, secret)

    assert response.status_code == 429
    assert response["X-RateLimit-Limit"] == "2"
    assert redis.zcard(window_key) == 2
    assert redis.zcard(ratelimit_redis._keys(api_key)[1]) == 0


def test_a_flushed_redis_gets_a_new_epoch_and_the_key_is_read_again(key, client_for, redis_on):
    _, secret = key
    _warm(client_for, secret)

    ratelimit_redis._client(redis_on).delete(key_cache.EPOCH_KEY)
    with CaptureQueriesContext(connection) as captured:
        assert _refused_body(client_for, secret).status_code == 400

    assert _key_queries(captured) == 1


def test_without_the_setting_every_request_reads_the_key(key, client_for, settings):
    _, secret = key
    settings.API_KEY_CACHE = False
    _warm(client_for, secret)

    with CaptureQueriesContext(connection) as captured:
        assert _refused_body(client_for, secret).status_code == 400

    assert _key_queries(captured) == 1


def test_a_wrong_secret_with_a_cached_keys_prefix_is_refused(key, client_for):
    api_key, secret = key
    _warm(client_for, secret)
    body = secret[len(API_PREFIX) : -CHECKSUM_LENGTH]
    forged = API_PREFIX + body[:-1] + ("A" if body[-1] != "A" else "B")
    forged += checksum(forged)
    assert parse(forged).lookup_prefix == parse(secret).lookup_prefix

    response = _refused_body(client_for, forged)

    assert response.status_code == 401


def test_with_redis_unreachable_every_request_reads_the_key(key, client_for, settings):
    """The rate limit falls back to the database and returns no epoch: a cached key is
    then read again, so a change that could not replace the epoch is still seen."""
    api_key, secret = key
    _warm(client_for, secret)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())  # no signal
    response = _refused_body(client_for, secret)

    assert response.status_code == 401


def test_a_key_read_while_redis_was_away_is_not_trusted_when_it_comes_back(
    key, client_for, settings, redis_on
):
    """Redis unreachable for a moment, then back with its data (a network blip, a restart
    from its dump): a revocation made meanwhile could not replace the epoch, so nothing
    this process read before or during the outage may be trusted under the old one."""
    api_key, secret = key
    _warm(client_for, secret)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    assert _refused_body(client_for, secret).status_code == 400  # the key, read again
    # Another process revokes it; its epoch bump cannot reach Redis either.
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())

    settings.REDIS_URL = redis_on  # back, with the epoch it had
    response = _refused_body(client_for, secret)

    assert response.status_code == 401
