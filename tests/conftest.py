"""Shared fixtures: two tenants (org_a, org_b), their owners, and keys of each kind."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts import counters
from accounts.services import tenant_create
from billing.services import credits_add
from config import redis_breaker
from keys.services import api_key_create

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.exists():
        pytest.skip(f"corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture
def org_a(db):
    return tenant_create(slug="org-a", owner_email="owner-a@example.com", password="pw-a-123456")


@pytest.fixture
def org_b(db):
    return tenant_create(slug="org-b", owner_email="owner-b@example.com", password="pw-b-123456")


@pytest.fixture
def funded_org_a(org_a):
    credits_add(organization=org_a, amount_micros=10_000_000, idempotency_key="test-fund-a")
    return org_a


@pytest.fixture
def api_key(org_a):
    """(ApiKey, secret) for org_a."""
    return api_key_create(organization=org_a, name="test api key")


@pytest.fixture
def management_key(org_a):
    return api_key_create(organization=org_a, kind="management", name="test mgmt key")


@pytest.fixture
def api_key_b(org_b):
    return api_key_create(organization=org_b, name="b api key")


@pytest.fixture
def management_key_b(org_b):
    return api_key_create(organization=org_b, kind="management", name="b mgmt key")


@pytest.fixture
def client_for():
    """client_for(secret) -> an APIClient sending `Authorization: Bearer <secret>`."""

    def make(secret: str | None) -> APIClient:
        client = APIClient()
        if secret:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.fixture(autouse=True)
def _sign_in_counters_apart(monkeypatch):
    """Each test counts sign-ins, resets and sign-ups afresh: the shared cache (Redis, the
    file cache) outlives a test, and every test client is 127.0.0.1 (accounts/counters.py)."""
    monkeypatch.setattr(counters, "namespace", f"authlimit-test-{uuid.uuid4().hex}")


@pytest.fixture(autouse=True)
def _provider_list_uncached(settings):
    """Routing and fee policies are read fresh in tests (production keeps a 2-second
    snapshot per worker), and so is provider health (1 second per worker)."""
    settings.OCR_PROVIDER_CACHE_S = 0
    settings.OCR_PROVIDER_HEALTH_CACHE_S = 0


@pytest.fixture(autouse=True)
def _redis_breakers_closed():
    """A Redis one test made unreachable is not skipped in the next (the breakers are per
    process and keyed by URL: config/redis_breaker.py)."""
    yield
    redis_breaker.reset_all()


def _serialized_rollback(item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(marker and marker.kwargs.get("serialized_rollback"))


def _transactional(item) -> bool:
    marker = item.get_closest_marker("django_db")
    if marker and marker.kwargs.get("transaction"):
        return True
    return bool({"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items) -> None:
    """Serialized-rollback tests go first among the transactional ones, whatever subset
    runs. A transactional test's flush recreates the content types under new ids; a
    serialized rollback after it then re-inserts the old ones and hits their unique
    constraint (tests/billing/helpers.py SEEDED_TRANSACTIONS)."""
    first = next((i for i, item in enumerate(items) if _transactional(item)), None)
    if first is None:
        return
    tail = items[first:]
    items[first:] = [t for t in tail if _serialized_rollback(t)] + [
        t for t in tail if not _serialized_rollback(t)
    ]
