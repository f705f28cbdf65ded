"""Request bodies at the WSGI boundary (config/bodies.py), through real gunicorn.

- A request answered before its body was read leaves its keep-alive connection usable:
  gunicorn alone drains at most 64 KiB of an unread body and otherwise closes the
  connection it has just announced as keep-alive, so a pooled client's next request on
  it failed with "server disconnected".
- A chunked body (no Content-Length) reaches the endpoint: Django reads a body only up
  to CONTENT_LENGTH, so it used to see an empty one.
- A body cut off before its Content-Length is refused, not run: gunicorn handed what
  had arrived on as the whole body, and a JSON document complete by chance was run and
  charged (also when the client, silent, never got the answer).
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket

import pytest
from django.core.handlers.wsgi import LimitedStream

from config.bodies import IncompleteBody, drain_request_body, with_whole_bodies
from tests.live_gunicorn import gunicorn_running, manage, sqlite_env

MALFORMED_KEY = "sk-ar-not-a-real-key"  # refused before any database lookup: 401


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> tuple[int, str]:
    """(port, an API key of a funded tenant) of a gunicorn on its own SQLite database."""
    env = sqlite_env(
        tmp_path_factory.mktemp("bodies") / "db.sqlite3",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
        OCR_WARM_ON_START="0",
        LOG_LEVEL="ERROR",
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "create_tenant", "bodies", "--owner-email", "bodies@example.test")
    manage(env, "add_credits", "bodies", "1")
    secret = manage(env, "create_key", "bodies", "--rpm", "100000").splitlines()[-1]
    with gunicorn_running(env):
        yield int(env["PORT"]), secret


def _send(conn, path: str, body, *, key: str, content_type: str, chunked: bool = False):
    conn.request(
        "POST",
        path,
        body=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
        encode_chunked=chunked,
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
def test_the_next_request_on_the_connection_is_answered(server, path, content_type):
    port, _ = server
    body = b"x" * (2 * 1024 * 1024)  # far above gunicorn's own 64 KiB drain
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(3):
            status, connection, payload = _send(
                conn, path, body, key=MALFORMED_KEY, content_type=content_type
            )
            assert status == 401, payload[:200]
            assert b"invalid_api_key" in payload
            assert connection == "keep-alive"
    finally:
        conn.close()


def test_an_unread_chunked_body_is_drained_too(server):
    port, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(2):
            status, _, _ = _send(
                conn,
                "/v1/ocr",
                iter([b"y" * 300_000] * 4),
                key=MALFORMED_KEY,
                content_type="application/json",
                chunked=True,
            )
            assert status == 401
    finally:
        conn.close()


def test_a_chunked_body_reaches_the_endpoint(server):
    port, secret = server
    damaged = json.dumps({"base64": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode()})
    body = damaged.encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(2):  # and the connection stays usable
            status, _, payload = _send(
                conn,
                "/v1/ocr",
                iter([body[:10], body[10:]]),
                key=secret,
                content_type="application/json",
                chunked=True,
            )
            # The document was read and judged (damaged), not reported missing.
            assert status == 400, payload[:300]
            assert json.loads(payload)["error"]["code"] == "invalid_document"
    finally:
        conn.close()


def _app_seeing(seen: dict):
    def app(environ, start_response):
        seen["length"] = environ.get("CONTENT_LENGTH")
        seen["body"] = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b""]

    return app


def _chunked_environ(body: bytes, *, key: str | None = None) -> dict:
    from keys import crypto

    return {
        "wsgi.input": LimitedStream(io.BytesIO(body), len(body)),
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_AUTHORIZATION": f"Bearer {key or crypto.generate('api').secret}",
    }


def test_a_chunked_body_is_handed_on_with_its_length():
    seen: dict = {}
    with_whole_bodies(_app_seeing(seen))(_chunked_environ(b"abc" * 1000), lambda *a: None)
    assert seen == {"length": "3000", "body": b"abc" * 1000}


def test_a_chunked_body_without_a_well_formed_key_is_not_spooled():
    seen: dict = {}
    environ = _chunked_environ(b"abc" * 1000, key="sk-ar-not-a-real-key")

    with_whole_bodies(_app_seeing(seen))(environ, lambda *a: None)

    assert seen["length"] is None  # left as it came: the endpoint answers 401


def test_a_chunked_body_over_the_limit_is_announced_over_it(settings):
    settings.OCR_004_MAX_BYTES = 3000  # largest accepted body: 4000 + 64 KiB
    from config.bodies import largest_accepted_body

    limit = largest_accepted_body()
    seen: dict = {}
    with_whole_bodies(_app_seeing(seen))(_chunked_environ(b"z" * (limit + 5000)), lambda *a: None)
    assert seen["length"] == str(limit + 1)
    assert len(seen["body"]) == limit + 1


def test_a_broken_chunked_body_is_a_400():
    class Broken(io.RawIOBase):
        def read(self, size=-1):
            raise OSError("client went away")

    environ = {**_chunked_environ(b""), "wsgi.input": LimitedStream(Broken(), 10**6)}
    statuses = []
    body = with_whole_bodies(_app_seeing({}))(
        environ, lambda status, headers: statuses.append(status)
    )
    assert statuses == ["400 Bad Request"]
    assert json.loads(b"".join(body))["error"]["code"] == "invalid_request_body"


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


def test_a_body_cut_off_before_its_content_length_is_refused_not_run(server):
    port, secret = server
    # Complete JSON, announced 100 bytes longer than sent: the client then closes its side
    # (or falls silent past the read timeout, which reads the same).
    damaged = json.dumps({"base64": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode()})
    body = damaged.encode()
    head = (
        f"POST /v1/ocr HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body) + 100}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    payload = json.loads(rest.partition(b"\r\n\r\n")[2])
    # Not "invalid_document": the document never reached the pipeline (a readable one
    # was run and charged).
    assert status_line == b"HTTP/1.1 400 Bad Request", answer[:300]
    assert payload["error"]["code"] == "invalid_request_body"
    assert "100 bytes before its Content-Length" in payload["error"]["message"]


def _reading(size: int):
    """An application that reads `size` bytes of the body and returns them."""
    return with_whole_bodies(lambda environ, _: [environ["wsgi.input"].read(size)])


def _body_of(data: bytes, length: int) -> dict:
    return {"wsgi.input": LimitedStream(io.BytesIO(data), length), "CONTENT_LENGTH": str(length)}


@pytest.mark.parametrize("size", [-1, 10, 100])
def test_a_body_shorter_than_its_content_length_raises_where_it_ends(size):
    with pytest.raises(IncompleteBody, match="4 bytes before its Content-Length"):
        _reading(size)(_body_of(b"abcdef", 10), lambda *a: None)


def test_a_whole_body_reads_as_before():
    assert _reading(-1)(_body_of(b"abcdef", 6), lambda *a: None) == [b"abcdef"]
    assert _reading(4)(_body_of(b"abcdef", 10), lambda *a: None) == [b"abcd"]  # not there yet


@pytest.mark.parametrize(
    "headers,status,code",
    [
        ("Content-Length: -5\r\n", 400, "invalid_request"),
        ("Content-Length: 5\r\nContent-Length: 6\r\n", 400, "invalid_request"),
        ("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400, "invalid_request"),
        ("Expect: something\r\n", 417, "expectation_failed"),
        (f"X-Long: {'a' * 9000}\r\n", 431, "headers_too_large"),
    ],
)
def test_a_request_gunicorn_refuses_is_answered_in_json(server, headers, status, code):
    """gunicorn answers these before the application, with an HTML page of its own."""
    port, secret = server
    request = (
        f"POST /api/v1/ocr/extract HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {secret}\r\n{headers}\r\n12345"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:300]
    assert b"\r\nContent-Type: application/json\r\n" in head
    assert json.loads(body)["error"]["code"] == code
