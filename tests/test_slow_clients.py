"""Clients that stall mid-request cannot hold every thread (config/gunicorn_worker.py).

Through real gunicorn with one worker of eight threads: without the read timeout, eight
clients that send half a request and then nothing held every thread and the server
answered nobody until they hung up; with it, but closing them gracefully, the worker's
main thread lingered 2 s on each (16 s during which nobody was answered).
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.live_gunicorn import gunicorn_running, manage, sqlite_env

CLIENT_TIMEOUT_S = 1.5


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    env = sqlite_env(
        tmp_path_factory.mktemp("slow") / "db.sqlite3",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="8",
        GUNICORN_CLIENT_TIMEOUT=str(CLIENT_TIMEOUT_S),
        OCR_WARM_ON_START="0",
        LOG_LEVEL="ERROR",
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    with gunicorn_running(env) as base:
        yield base


def _stalled(base_url: str, first_bytes: bytes) -> socket.socket:
    port = int(base_url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(first_bytes)
    return sock


@pytest.mark.parametrize(
    "first_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # headers never end
        b'POST /ocr HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"ima',  # nor the body
    ],
)
def test_stalled_clients_are_let_go_and_others_are_served(base_url, first_bytes):
    stalled = [_stalled(base_url, first_bytes) for _ in range(12)]  # more than the threads
    try:
        time.sleep(0.3)  # they hold every thread now
        started = time.monotonic()
        first = httpx.get(f"{base_url}/healthz", timeout=CLIENT_TIMEOUT_S * 4 + 5)
        first_wait = time.monotonic() - started
        # Just after the stalled ones timed out, while they are being closed: closing
        # must not linger (gunicorn's graceful close waited 2 s on each, on the main
        # thread that accepts connections: 16 s during which nobody was answered).
        time.sleep(0.2)
        started = time.monotonic()
        second = httpx.get(f"{base_url}/healthz", timeout=30)
        second_wait = time.monotonic() - started

        assert first.status_code == 200 and second.status_code == 200
        assert first_wait < CLIENT_TIMEOUT_S * 2 + 2, first_wait
        assert second_wait < 3, second_wait
        for sock in stalled:  # each was closed by the server, not left open
            sock.settimeout(CLIENT_TIMEOUT_S * 4)
            try:
                while sock.recv(4096):
                    pass
            except ConnectionResetError:
                pass
    finally:
        for sock in stalled:
            sock.close()


def test_gunicorns_error_page_becomes_the_json_envelope():
    from gunicorn import util

    from config.gunicorn_worker import json_error_page

    class Capture:
        sent = b""

        def gettimeout(self):
            return 0.0

        def sendall(self, data):
            self.sent += data

    sock = Capture()
    util.write_error(sock, 431, "Request Header Fields Too Large", "Error parsing headers: 'x<'")
    answer = json_error_page(sock.sent)

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"HTTP/1.1 431 Request Header Fields Too Large",
        b"Connection: close",
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(body),
    ]
    assert json.loads(body) == {
        "error": {"code": "headers_too_large", "message": "Error parsing headers: 'x<'"}
    }
