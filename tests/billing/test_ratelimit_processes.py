"""Rate limits shared by separate processes (as gunicorn workers are), on real backends."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from accounts.services import tenant_create
from keys.services import api_key_create
from tests.billing.helpers import SEEDED_TRANSACTIONS

BURST = Path(__file__).with_name("ratelimit_burst.py")
ROOT = BURST.parents[2]

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): the test database must be shared by processes",
)


def database_url() -> str:
    """The URL of the test database pytest-django created (other processes connect to it)."""
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def redis_url_or_skip() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: the Redis rate limiter needs a real Redis")
    return url


def burst(*, key_id: int, redis_url: str, processes: int = 4, each: int = 50) -> tuple[int, int]:
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": redis_url}
    start = time.time() + 3  # time for every process to import Django first
    children = [
        subprocess.Popen(
            [sys.executable, str(BURST), str(key_id), str(each), str(start)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    granted = refused = 0
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        g, r = map(int, out.split())
        granted, refused = granted + g, refused + r
    return granted, refused


def _key(rpm: int):
    org = tenant_create(slug="burst", owner_email="burst@example.com")
    return api_key_create(organization=org, rate_limit_rpm=rpm, max_in_flight=1000)[0]


@needs_postgres
@SEEDED_TRANSACTIONS
def test_four_processes_share_one_limit_in_redis():
    key = _key(60)
    granted, refused = burst(key_id=key.pk, redis_url=redis_url_or_skip())
    assert granted + refused == 200
    assert 59 <= granted <= 61


@needs_postgres
@SEEDED_TRANSACTIONS
def test_four_processes_share_one_limit_in_the_database():
    key = _key(60)
    granted, refused = burst(key_id=key.pk, redis_url="")
    assert granted + refused == 200
    assert 59 <= granted <= 61
