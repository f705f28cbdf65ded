"""A revoked key stops working on every gunicorn worker at once.

Runs the real server: three gunicorn workers over a SQLite file of its own, set up with
the operator commands. Revocation does not depend on the database engine, and a file of
its own keeps this test independent of the suite's test database. The management API
reads keys from the database on every request; the OCR endpoints keep them per worker
when Redis is there (keys/cache.py), and the second test shows that cache on every
worker giving way at once.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.live_gunicorn import gunicorn_running, manage, sqlite_env

WORKERS = 3


@pytest.fixture
def server_env(tmp_path) -> dict[str, str]:
    return sqlite_env(
        tmp_path / "workers.sqlite3",
        FILE_CACHE_DIR=str(tmp_path / "cache"),
        WEB_CONCURRENCY=str(WORKERS),
        GUNICORN_THREADS="2",
        GUNICORN_ACCESSLOG="-",
        # The worker's pid in each access-log line shows which worker answered.
        GUNICORN_CMD_ARGS="--access-logformat 'access %(p)s %(m)s %(U)s %(s)s'",
    )


@pytest.fixture(params=["database only", "redis"])
def server_env_with(request, server_env) -> dict[str, str]:
    if request.param == "database only":
        return server_env
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: the OCR endpoints' key cache needs a real Redis")
    server_env.pop("FILE_CACHE_DIR")
    return server_env | {"REDIS_URL": url}


@pytest.fixture
def server(server_env, tmp_path):
    with (
        open(tmp_path / "gunicorn.log", "w+") as log,  # read back by the test
        gunicorn_running(server_env, log=log) as base,
    ):
        yield base, tmp_path / "gunicorn.log"


def burst(base: str, secret: str, count: int = 60, *, ocr: bool = False) -> list[int]:
    """Concurrent requests on fresh connections, so every worker gets some: GET
    /api/v1/key, or (`ocr`) POST /v1/ocr with a body the dialect refuses (400 once the
    key and the rate limit have passed)."""

    def one(_):
        headers = {"Authorization": f"Bearer {secret}", "Connection": "close"}
        if ocr:
            return httpx.post(
                f"{base}/v1/ocr", json={"base64": 5}, headers=headers, timeout=30
            ).status_code
        return httpx.get(f"{base}/api/v1/key", headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=WORKERS * 4) as pool:
        return list(pool.map(one, range(count)))


@pytest.fixture
def keys(server_env) -> tuple[str, str]:
    manage(server_env, "migrate", "--noinput")
    manage(server_env, "create_tenant", "workers", "--owner-email", "ops@workers.test")
    api = manage(server_env, "create_key", "workers", "--name", "victim")
    management = manage(server_env, "create_key", "workers", "--kind", "management")
    return api, management


def burst_until_every_worker_answers(
    base: str, secret: str, log_path, status: int, *, ocr: bool = False
) -> list[int]:
    """Bursts until each worker has answered with `status` (the kernel, not us, picks
    which worker accepts a connection, so one burst can miss a worker), at most 10."""
    statuses: list[int] = []
    for _ in range(10):
        statuses += burst(base, secret, ocr=ocr)
        if len(answers_by_worker(log_path.read_text(), status, ocr=ocr)) == WORKERS:
            break
    return statuses


def answers_by_worker(log: str, status: int, *, ocr: bool = False) -> set[str]:
    """Pids of the workers that answered GET /api/v1/key (or POST /v1/ocr) with `status`."""
    request = ["POST", "/v1/ocr"] if ocr else ["GET", "/api/v1/key"]
    pids = set()
    for line in log.splitlines():
        parts = line.split()
        if parts[:1] == ["access"] and parts[2:5] == [*request, str(status)]:
            pids.add(parts[1])
    return pids


def test_a_revoked_key_is_refused_by_every_worker_at_once(keys, server):
    api, management = keys
    base, log_path = server
    assert set(burst_until_every_worker_answers(base, api, log_path, 200)) == {200}
    assert len(answers_by_worker(log_path.read_text(), 200)) == WORKERS
    manager = {"Authorization": f"Bearer {management}"}
    victim = httpx.get(f"{base}/api/v1/key", headers={"X-API-Key": api}).json()["data"]["id"]
    revoked = httpx.delete(f"{base}/api/v1/keys/{victim}", headers=manager, timeout=30)
    assert revoked.status_code == 200
    # Every request sent after the DELETE answered is refused, by every worker: the
    # revocation delay is zero, well inside the 5 s allowed.
    statuses = burst_until_every_worker_answers(base, api, log_path, 401)
    assert set(statuses) == {401}, statuses
    log = log_path.read_text()
    assert len(answers_by_worker(log, 401)) == WORKERS
    assert api not in log and management not in log


def test_a_revoked_key_is_refused_at_once_by_every_workers_ocr_endpoints(server_env_with, tmp_path):
    manage(server_env_with, "migrate", "--noinput")
    manage(server_env_with, "create_tenant", "ocr-workers", "--owner-email", "ops@ocr.test")
    api = manage(server_env_with, "create_key", "ocr-workers", "--name", "victim")
    management = manage(server_env_with, "create_key", "ocr-workers", "--kind", "management")
    with (
        open(tmp_path / "gunicorn.log", "w+") as log,
        gunicorn_running(server_env_with, log=log) as base,
    ):
        log_path = tmp_path / "gunicorn.log"
        # Twice over every worker: with Redis, the second round is served from each
        # worker's cache.
        for _ in range(2):
            statuses = burst_until_every_worker_answers(base, api, log_path, 400, ocr=True)
            assert set(statuses) == {400}, statuses
        manager = {"Authorization": f"Bearer {management}"}
        victim = httpx.get(f"{base}/api/v1/key", headers={"X-API-Key": api}).json()["data"]["id"]
        revoked = httpx.delete(f"{base}/api/v1/keys/{victim}", headers=manager, timeout=30)
        assert revoked.status_code == 200

        statuses = burst_until_every_worker_answers(base, api, log_path, 401, ocr=True)

        assert set(statuses) == {401}, statuses
        assert len(answers_by_worker(log_path.read_text(), 401, ocr=True)) == WORKERS
