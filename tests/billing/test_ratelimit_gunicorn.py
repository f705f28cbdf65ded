"""One limit of 60/min across 4 gunicorn workers: 200 rapid requests, 60 get through.

The image is not valid base64, so a request that passes the rate limit ends at once in
400 (the parser runs after the limit) and a refused one in 429: the two counts say
exactly how many requests the limiter let through, without running any OCR.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.db import connection

from accounts.services import tenant_create
from keys.services import api_key_create
from tests.billing.helpers import SEEDED_TRANSACTIONS
from tests.billing.test_ratelimit_processes import database_url, needs_postgres, redis_url_or_skip
from tests.live_gunicorn import manage, sqlite_env, stop

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(*, database: str, redis_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "DEFAULT_MAX_IN_FLIGHT": "1000",
        "PORT": str(port),
        "WEB_CONCURRENCY": "4",
        "GUNICORN_THREADS": "4",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "config/gunicorn.py",
            "--workers",
            "4",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start within 60 s")


def fire(base: str, secret: str, count: int = 200) -> dict[int, int]:
    body = {"image": "this is not base64 !"}
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, timeout=30, headers=headers) as client:

        def one(_):
            return client.post("/api/v1/ocr/extract", json=body).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(one, range(count)))
    counts: dict[int, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts


def _limited_key():
    org = tenant_create(slug="gunicorn-burst", owner_email="gburst@example.com")
    return api_key_create(organization=org, rate_limit_rpm=60, max_in_flight=1000)[1]


@needs_postgres
@pytest.mark.parametrize("backend", ["redis", "database"])
@SEEDED_TRANSACTIONS
def test_four_gunicorn_workers_share_one_limit(backend):
    redis_url = redis_url_or_skip() if backend == "redis" else ""
    secret = _limited_key()
    process, base = start_gunicorn(database=database_url(), redis_url=redis_url)
    try:
        counts = fire(base, secret)
    finally:
        stop(process)
    assert sum(counts.values()) == 200
    assert set(counts) <= {400, 429}, counts
    assert 59 <= counts.get(400, 0) <= 61, counts


@pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="the PostgreSQL run covers the database fallback on the test database",
)
def test_four_gunicorn_workers_share_one_limit_on_sqlite(tmp_path):
    """`make run` with no variables at all: a SQLite file shared by the workers."""
    env = sqlite_env(tmp_path / "burst.sqlite3")
    manage(env, "migrate", "--noinput")
    manage(env, "create_tenant", "burst", "--owner-email", "burst@example.com")
    secret = manage(env, "create_key", "burst", "--rpm", "60")
    process, base = start_gunicorn(database=env["DATABASE_URL"], redis_url="")
    try:
        counts = fire(base, secret)
    finally:
        stop(process)
    assert set(counts) <= {400, 429}, counts
    assert 59 <= counts.get(400, 0) <= 61, counts
