"""The real server for tests that need it: gunicorn with config/gunicorn.py, on a port of
its own, set up with the operator commands."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sqlite_env(database: Path, **extra: str) -> dict[str, str]:
    """This process's environment on a SQLite file of its own, without Redis."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return env | {"DATABASE_URL": f"sqlite:///{database}", "PORT": str(free_port()), **extra}


def manage(env: dict[str, str], *args: str) -> str:
    """Run a management command; its standard output, stripped."""
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


@contextlib.contextmanager
def gunicorn_running(
    env: dict[str, str], *, log: IO | None = None, timeout: float = 90
) -> Iterator[str]:
    """gunicorn serving `env` (its PORT) until the block ends; yields the base URL once
    /healthz answers 200."""
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "config/gunicorn.py",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            assert process.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, f"gunicorn did not start within {timeout} s"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to gunicorn's process group, SIGKILL after 20 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
