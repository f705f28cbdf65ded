"""A revoked key stops working on every gunicorn worker at once (no per-process cache).

Runs the real server: three gunicorn workers over a SQLite file of its own, set up with
the operator commands. Revocation does not depend on the database engine, and a file of
its own keeps this test independent of the suite's test database.
"""

from __future__ import annotations

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


@pytest.fixture
def server(server_env, tmp_path):
    with (
        open(tmp_path / "gunicorn.log", "w+") as log,  # read back by the test
        gunicorn_running(server_env, log=log) as base,
    ):
        yield base, tmp_path / "gunicorn.log"


def burst(base: str, secret: str, count: int = 60) -> list[int]:
    """Concurrent requests on fresh connections, so every worker gets some."""

    def one(_):
        headers = {"Authorization": f"Bearer {secret}", "Connection": "close"}
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


def burst_until_every_worker_answers(base: str, secret: str, log_path, status: int) -> list[int]:
    """Bursts until each worker has answered with `status` (the kernel, not us, picks
    which worker accepts a connection, so one burst can miss a worker), at most 10."""
    statuses: list[int] = []
    for _ in range(10):
        statuses += burst(base, secret)
        if len(answers_by_worker(log_path.read_text(), status)) == WORKERS:
            break
    return statuses


def answers_by_worker(log: str, status: int) -> set[str]:
    """Pids of the workers that answered GET /api/v1/key with `status`."""
    pids = set()
    for line in log.splitlines():
        parts = line.split()
        if parts[:1] == ["access"] and parts[2:5] == ["GET", "/api/v1/key", str(status)]:
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
