"""A Redis that accepts connections and never answers (SIGSTOP, a network black hole).

Requests go through Django's test client with `REDIS_URL` and the shared cache pointed at
a fake Redis (tests/fakes/redis_server.py) and upstreams at the fakes. The first request
waits for one Redis timeout (1 s) and opens the breaker; the next ones skip Redis until
the cool-down ends, and are still rate-limited (in the database) and charged.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from billing import ratelimit_redis
from billing.models import LedgerEntry, RateLimitHit, UsageRecord
from billing.ratelimit import ratelimit_acquire
from billing.selectors import credits_available_micros
from config.redis_breaker import breaker_for
from keys import cache as key_cache
from keys.models import ApiKey
from keys.services import api_key_create
from tests.fakes.documents import png_bytes
from tests.fakes.redis_server import FakeRedis

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_retries")]

REQUESTS = 8
COOLDOWN_S = 30  # longer than the test: no probe midway
# The key and the provider come first in each test's arguments: made before Redis hangs.


def _point_at(settings, url: str) -> None:
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "config.redis_cache.BreakerRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "ocrgw",
            "OPTIONS": {"socket_timeout": 1.0, "socket_connect_timeout": 0.5},
        }
    }
    settings.REDIS_BREAKER_COOLDOWN_S = COOLDOWN_S
    key_cache.forget_all()


@pytest.fixture
def hung_redis(settings):
    with FakeRedis() as fake:
        _point_at(settings, fake.url)
        yield fake
    key_cache.forget_all()


@pytest.fixture
def relayed_redis(settings):
    """A fake Redis passing through to the real one (REDIS_URL) until it is told to hang."""
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: Redis coming back needs a real Redis")
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    with FakeRedis(upstream=(parts.hostname, parts.port or 6379), db=db) as fake:
        fake.answer()
        _point_at(settings, fake.url)
        ratelimit_redis._unsent.clear()
        yield fake
    key_cache.forget_all()


@pytest.fixture
def model(fake_openai, provider_for):
    return provider_for(fake_openai, model="vision", prices={"per_page_micros": 3000})


@pytest.fixture
def key(funded_org_a):
    return api_key_create(organization=funded_org_a, name="limited", rate_limit_rpm=REQUESTS)


def _ocr(client_for, secret):
    body = {"base64": base64.b64encode(png_bytes()).decode(), "model": "vision"}
    return client_for(secret).post("/v1/ocr", body, format="json")


def test_requests_wait_for_one_timeout_not_one_each(model, key, hung_redis, client_for):
    api_key, secret = key
    before = credits_available_micros(organization=api_key.organization)

    started = time.monotonic()
    statuses = [_ocr(client_for, secret).status_code for _ in range(REQUESTS)]
    elapsed = time.monotonic() - started

    assert statuses == [200] * REQUESTS
    # One connection, one timeout (1 s); without the breaker each request waited for the
    # rate limit's timeout and the provider health's: 2 s each, 16 s in all.
    assert hung_redis.connections == 1
    assert 1.0 <= elapsed < 1.0 + REQUESTS * 0.25, elapsed
    # Charged as usual.
    usages = list(UsageRecord.objects.filter(api_key=api_key))
    assert [u.status for u in usages] == ["succeeded"] * REQUESTS
    assert LedgerEntry.objects.filter(kind="charge").count() == REQUESTS
    spent = sum(u.total_micros for u in usages)
    assert spent > 0
    assert credits_available_micros(organization=api_key.organization) == before - spent


def test_the_rate_limit_is_kept_in_the_database_meanwhile(model, key, hung_redis, client_for):
    _, secret = key
    for _ in range(REQUESTS):
        assert _ocr(client_for, secret).status_code == 200

    refused = _ocr(client_for, secret)

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert RateLimitHit.objects.filter(api_key_id=key[0].pk).count() == REQUESTS


def test_healthz_says_degraded_without_waiting(hung_redis, client):
    slow = client.get("/healthz")  # the check that finds Redis hung opens the breaker
    started = time.monotonic()
    fast = client.get("/healthz")
    elapsed = time.monotonic() - started

    for response in (slow, fast):
        assert response.status_code == 200
        assert response.json() == {"status": "degraded", "database": "ok", "redis": "degraded"}
    assert elapsed < 0.2
    assert hung_redis.connections == 1


def test_the_breaker_closes_when_redis_answers_again(model, key, relayed_redis, client_for, caplog):
    api_key, secret = key
    window_key = ratelimit_redis._keys(api_key)[0]
    real = ratelimit_redis._client(os.environ["REDIS_URL"])
    real.delete(window_key)
    caplog.set_level(logging.WARNING, logger="config.redis_breaker")
    assert _ocr(client_for, secret).status_code == 200  # decided in Redis
    relayed_redis.hang()
    for _ in range(3):
        assert _ocr(client_for, secret).status_code == 200  # decided in the database
    assert RateLimitHit.objects.filter(api_key_id=api_key.pk).count() == 3

    relayed_redis.answer()
    breaker = breaker_for(relayed_redis.url)
    breaker.clock = lambda: time.monotonic() + COOLDOWN_S
    assert _ocr(client_for, secret).status_code == 200

    assert not breaker.is_open
    assert real.zcard(window_key) == 2  # the probe's request was decided in Redis
    assert RateLimitHit.objects.filter(api_key_id=api_key.pk).count() == 3
    # One line when it opened, one when it closed; none for the requests between.
    opened, closed = (r.getMessage() for r in caplog.records if r.name == "config.redis_breaker")
    assert "failed (Timeout reading" in opened
    assert "answers again" in closed


def test_a_key_revoked_while_redis_hung_is_refused_when_it_answers(
    model, key, relayed_redis, client_for
):
    """The key cache trusts a key only under the epoch Redis returns; while the breaker
    skips Redis there is none, so the cache is dropped and nothing is filed under the
    epoch Redis comes back with (keys/cache.py)."""
    api_key, secret = key
    for _ in range(2):  # filed under the epoch, then served from the cache
        assert _ocr(client_for, secret).status_code == 200
    relayed_redis.hang()
    assert _ocr(client_for, secret).status_code == 200  # the breaker opens
    # Another process revokes the key; its epoch bump cannot reach Redis either.
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())

    relayed_redis.answer()
    breaker_for(relayed_redis.url).clock = lambda: time.monotonic() + COOLDOWN_S
    response = _ocr(client_for, secret)

    assert response.status_code == 401


def test_a_slot_freed_while_redis_hung_is_freed_when_it_answers(org_a, relayed_redis):
    """Released during the outage, the slot would stay in Redis for its TTL (5 min), and
    a key allowed one request at a time would be refused 429 all that while."""
    api_key, _ = api_key_create(organization=org_a, name="one at a time", max_in_flight=1)
    slots_key = ratelimit_redis._keys(api_key)[1]
    real = ratelimit_redis._client(os.environ["REDIS_URL"])
    ticket = ratelimit_acquire(api_key=api_key)  # its slot taken in Redis
    relayed_redis.hang()
    ticket.release()  # times out: kept to send later

    relayed_redis.answer()
    breaker_for(relayed_redis.url).clock = lambda: time.monotonic() + COOLDOWN_S
    ratelimit_acquire(api_key=api_key).release()

    assert not RateLimitHit.objects.filter(api_key_id=api_key.pk).exists()  # Redis decided
    assert real.zcard(slots_key) == 0
