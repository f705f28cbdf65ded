"""A hung Redis under the real server: one gunicorn worker, OCR routed to a fake upstream.

The worker's first request (a /healthz while it starts) waits for one Redis timeout and
opens the breaker; the OCR requests then skip Redis and are served, charged and
rate-limited (in the database) as usual.
Set up with the operator commands on a SQLite file of its own, as the other live tests.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time

import httpx
import pytest

from tests.fakes.documents import png_bytes
from tests.fakes.openai import FakeOpenAI
from tests.fakes.redis_server import FakeRedis
from tests.live_gunicorn import gunicorn_running, manage, sqlite_env

REQUESTS = 8
PER_PAGE_USD = "0.003"


@pytest.fixture
def upstream():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def setup(tmp_path, upstream):
    """(server environment, API key) with the provider loaded and credits added; set up
    without Redis, so that only the server meets the hung one."""
    env = sqlite_env(
        tmp_path / "hung.sqlite3",
        FILE_CACHE_DIR=str(tmp_path / "cache"),
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="4",
        FAKE_UPSTREAM_KEY=upstream.api_key,
        REDIS_BREAKER_COOLDOWN_S="60",
    )
    providers = {
        "providers": [
            {
                "id": "fake-openai",
                "kind": "openai_compatible",
                "base_url": upstream.base_url,
                "secret_env": "FAKE_UPSTREAM_KEY",
                "models": [
                    {
                        "name": "vision",
                        "upstream_model": "gpt-4o-mini",
                        "price": {"per_page_usd": PER_PAGE_USD},
                    }
                ],
            }
        ]
    }
    (tmp_path / "providers.json").write_text(json.dumps(providers))
    manage(env, "migrate", "--noinput")
    manage(env, "load_providers", str(tmp_path / "providers.json"))
    manage(env, "create_tenant", "hung", "--owner-email", "ops@hung.test")
    manage(env, "add_credits", "hung", "10")
    secret = manage(env, "create_key", "hung", "--rpm", str(REQUESTS)).splitlines()[-1]
    return env, secret


def _charges(database) -> list[int]:
    with sqlite3.connect(database) as db:
        return [
            row[0]
            for row in db.execute(
                "SELECT amount_micros FROM billing_ledgerentry WHERE kind = 'charge'"
            )
        ]


def test_a_hung_redis_costs_the_worker_one_timeout(setup, tmp_path):
    env, secret = setup
    body = {"base64": base64.b64encode(png_bytes()).decode(), "model": "vision"}
    headers = {"Authorization": f"Bearer {secret}"}
    with FakeRedis() as hung, gunicorn_running(env | {"REDIS_URL": hung.url}) as base:
        # The /healthz calls made while the worker started found Redis hung (one per
        # thread already waiting on it when the first timed out) and opened the breaker.
        connections = hung.connections
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            started = time.monotonic()
            statuses = [client.post("/v1/ocr", json=body).status_code for _ in range(REQUESTS)]
            elapsed = time.monotonic() - started
            refused = client.post("/v1/ocr", json=body)
            health = client.get("/healthz")

    print(f"{REQUESTS} OCR requests on a hung Redis: {elapsed:.2f} s")
    assert statuses == [200] * REQUESTS
    assert hung.connections == connections  # the requests did not wait on Redis
    assert elapsed < REQUESTS * 0.5, elapsed  # 2 s each without the breaker
    assert refused.status_code == 429  # the limit, kept in the database
    assert (health.status_code, health.json()["redis"]) == (200, "degraded")
    charges = _charges(tmp_path / "hung.sqlite3")
    assert len(charges) == REQUESTS and all(amount < 0 for amount in charges)
