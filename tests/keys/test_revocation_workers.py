"""A revoked key stops working on every gunicorn worker at once (no per-process cache).

Runs the real server: three gunicorn workers over a SQLite file of its own, set up with
the operator commands. Revocation does not depend on the database engine, and a file of
its own keeps this test independent of the suite's test database.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return env | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'workers.sqlite3'}",
        "FILE_CACHE_DIR": str(tmp_path / "cache"),
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_THREADS": "2",
        "GUNICORN_ACCESSLOG": "-",
        # The worker's pid in each access-log line shows which worker answered.
        "GUNICORN_CMD_ARGS": "--access-logformat 'access %(p)s %(m)s %(U)s %(s)s'",
    }


def manage(env, *args) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


@pytest.fixture
def server(server_env, tmp_path):
    log = open(tmp_path / "gunicorn.log", "w+")  # noqa: SIM115 - read back by the test
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "config/gunicorn.py",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=server_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{server_env['PORT']}"
    deadline = time.monotonic() + 90
    try:
        while True:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not start within 90 s"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base, tmp_path / "gunicorn.log"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()


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
    assert set(burst(base, api)) == {200}
    assert len(answers_by_worker(log_path.read_text(), 200)) == WORKERS
    manager = {"Authorization": f"Bearer {management}"}
    victim = httpx.get(f"{base}/api/v1/key", headers={"X-API-Key": api}).json()["data"]["id"]
    revoked = httpx.delete(f"{base}/api/v1/keys/{victim}", headers=manager, timeout=30)
    assert revoked.status_code == 200
    # Every request sent after the DELETE answered is refused, by every worker: the
    # revocation delay is zero, well inside the 5 s allowed.
    statuses = burst(base, api)
    assert set(statuses) == {401}, statuses
    log = log_path.read_text()
    assert len(answers_by_worker(log, 401)) == WORKERS
    assert api not in log and management not in log
