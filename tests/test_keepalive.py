"""A request answered before its body was read leaves its keep-alive connection usable.

Through real gunicorn (config/gunicorn.py): gunicorn alone drains at most 64 KiB of an
unread body and otherwise closes the connection it has just announced as keep-alive,
so a pooled client's next request on it fails with "server disconnected".
"""

from __future__ import annotations

import http.client
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.handlers.wsgi import LimitedStream

from config.drain import drain_request_body

ROOT = Path(__file__).resolve().parents[1]
MALFORMED_KEY = "sk-ar-not-a-real-key"  # refused before any database lookup: 401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn_port(tmp_path_factory):
    port = _free_port()
    database = tmp_path_factory.mktemp("keepalive") / "db.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": "",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        "OCR_WARM_ON_START": "0",
        "LOG_LEVEL": "ERROR",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "config/gunicorn.py",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("gunicorn exited") from None
            time.sleep(0.2)
    yield port
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(20)


def _post(conn: http.client.HTTPConnection, path: str, body: bytes, content_type: str):
    conn.request(
        "POST",
        path,
        body=body,
        headers={"Authorization": f"Bearer {MALFORMED_KEY}", "Content-Type": content_type},
    )
    response = conn.getresponse()
    return response.status, response.getheader("Connection"), response.read()


@pytest.mark.parametrize(
    "path,content_type",
    [
        ("/v1/ocr", "application/json"),
        ("/api/v1/ocr/extract", "multipart/form-data; boundary=zz"),
        ("/ocr", "text/plain"),
    ],
)
def test_the_next_request_on_the_connection_is_answered(gunicorn_port, path, content_type):
    body = b"x" * (2 * 1024 * 1024)  # far above gunicorn's own 64 KiB drain
    conn = http.client.HTTPConnection("127.0.0.1", gunicorn_port, timeout=30)
    try:
        for _ in range(3):
            status, connection, payload = _post(conn, path, body, content_type)
            assert status == 401, payload[:200]
            assert b"invalid_api_key" in payload
            assert connection == "keep-alive"
    finally:
        conn.close()


def test_a_chunked_body_is_drained_too(gunicorn_port):
    conn = http.client.HTTPConnection("127.0.0.1", gunicorn_port, timeout=30)
    try:
        for _ in range(2):
            conn.request(
                "POST",
                "/v1/ocr",
                body=iter([b"y" * 300_000] * 4),
                headers={"Authorization": f"Bearer {MALFORMED_KEY}"},
                encode_chunked=True,
            )
            response = conn.getresponse()
            assert response.status == 401
            response.read()
    finally:
        conn.close()


def test_drain_stops_at_its_byte_cap():
    raw = io.BytesIO(b"z" * 1000)
    drain_request_body(
        {"wsgi.input": LimitedStream(raw, 1000), "CONTENT_LENGTH": "1000"}, max_bytes=400
    )
    assert raw.tell() == 0  # announced larger than the cap: left to the server

    raw = io.BytesIO(b"z" * 1000)
    drain_request_body(
        {"wsgi.input": LimitedStream(raw, 1000), "CONTENT_LENGTH": "1000"}, max_bytes=4000
    )
    assert raw.tell() == 1000

    raw = io.BytesIO(b"z" * 1000)
    drain_request_body(
        {"wsgi.input": LimitedStream(raw, 1000), "HTTP_TRANSFER_ENCODING": "chunked"},
        max_bytes=300,
    )
    assert raw.tell() == 300


def test_a_stream_that_may_not_end_with_the_body_is_left_alone():
    raw = io.BytesIO(b"z" * 1000)  # what a server handing over its socket file looks like
    drain_request_body({"wsgi.input": raw, "CONTENT_LENGTH": "10"}, max_bytes=4000)
    assert raw.tell() == 0
