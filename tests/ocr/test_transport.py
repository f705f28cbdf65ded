"""The upstream transport (ocr/providers/transport.py) against raw HTTP servers on
127.0.0.1: keep-alive reuse, connections the server closed, chunked bodies, and the httpx
exception types the retry logic depends on."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time

import httpx
import pytest

from ocr.providers.transport import StdlibTransport


class RawServer:
    """Answers each request on a connection with `reply(n)` (raw bytes); `n` counts the
    requests on that connection. `close_after` closes every connection after that many
    answers, without saying so in a header."""

    def __init__(self, reply, *, close_after: int | None = None) -> None:
        self.reply = reply
        self.close_after = close_after
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._answer(conn)
        except OSError:
            pass  # the client hung up (on purpose, in some tests)

    def _answer(self, conn: socket.socket) -> None:
        served = 0
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                buffer = buffer[length:]
                served += 1
                conn.sendall(self.reply(served))
                if self.close_after is not None and served >= self.close_after:
                    return

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/ocr"

    def stop(self) -> None:
        self.sock.close()


def ok(body: bytes = b'{"ok": true}') -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


@pytest.fixture
def client():
    with httpx.Client(transport=StdlibTransport(), timeout=2.0) as client:
        yield client


def test_it_reuses_a_keep_alive_connection(client):
    server = RawServer(lambda n: ok(b'{"n": %d}' % n))
    try:
        answers = [client.post(server.url, json={"a": 1}).json()["n"] for _ in range(3)]
    finally:
        server.stop()
    assert answers == [1, 2, 3]  # one connection, three requests on it
    assert server.connections == 1


def test_a_connection_the_server_closed_is_not_reused(client):
    server = RawServer(lambda n: ok(), close_after=1)
    try:
        first = client.post(server.url, content=b"x")
        time.sleep(0.05)  # the server's close reaches our idle socket
        second = client.post(server.url, content=b"y")
    finally:
        server.stop()
    assert (first.status_code, second.status_code) == (200, 200)
    assert server.connections == 2


def test_a_connection_closed_as_we_send_is_retried_once_on_a_new_one(client):
    server = RawServer(lambda n: ok(), close_after=1)
    try:
        assert client.post(server.url, content=b"x").status_code == 200
        # No pause: the close may not have arrived yet when the pooled connection is
        # taken. Either way the request is answered, on a second connection.
        assert client.post(server.url, content=b"y").status_code == 200
    finally:
        server.stop()
    assert server.connections == 2


def test_it_reads_chunked_bodies_and_keeps_the_connection(client):
    chunked = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"a":\r\n3\r\n 1}\r\n0\r\n\r\n'
    )
    server = RawServer(lambda n: chunked)
    try:
        bodies = [client.post(server.url, content=b"x").json() for _ in range(2)]
    finally:
        server.stop()
    assert bodies == [{"a": 1}, {"a": 1}]
    assert server.connections == 1


def test_an_abandoned_body_does_not_go_back_to_the_pool(client):
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1_000_000
    server = RawServer(lambda n: big)
    try:
        with client.stream("POST", server.url, content=b"x") as response:
            next(response.iter_bytes())  # read a little, then give up
        assert client.post(server.url, content=b"y").status_code == 200
    finally:
        server.stop()
    assert server.connections == 2


def test_a_server_that_never_answers_is_a_read_timeout():
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        with httpx.Client(transport=StdlibTransport(), timeout=0.2) as client:
            with pytest.raises(httpx.ReadTimeout):
                client.post(f"http://127.0.0.1:{silent.getsockname()[1]}/", content=b"x")
    finally:
        silent.close()


def test_nothing_listening_is_a_connect_error(client):
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(httpx.ConnectError):
        client.post(f"http://127.0.0.1:{port}/", content=b"x")


def test_a_reset_without_an_answer_is_a_transport_error(client):
    server = RawServer(lambda n: b"", close_after=0)
    try:
        with pytest.raises(httpx.TransportError):
            client.post(server.url, content=b"x")
    finally:
        server.stop()


def test_a_garbled_status_line_is_a_transport_error(client):
    server = RawServer(lambda n: b"SPEAK FRIEND\r\n\r\n")
    try:
        with pytest.raises(httpx.TransportError):
            client.post(server.url, content=b"x")
    finally:
        server.stop()


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for 'localhost'."""
    import ssl

    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            try:
                with context.wrap_socket(raw, server_side=True) as conn:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        request += conn.recv(65536)
                    head, _, body = request.partition(b"\r\n\r\n")
                    length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
                    while len(body) < length:  # all of it: closing on unread data resets
                        body += conn.recv(65536)
                    conn.sendall(ok(b'{"tls": true}'))
            except (OSError, ssl.SSLError):
                pass  # a client that refused our certificate

    threading.Thread(target=serve, daemon=True).start()
    yield f"https://localhost:{port}/v1/ocr", cert
    listener.close()


def test_https_verifies_the_certificate_by_default(tls_server):
    url, _ = tls_server
    with httpx.Client(transport=StdlibTransport(), timeout=2.0) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.post(url, content=b"x")


def test_https_works_with_a_trusted_certificate(tls_server):
    import ssl

    url, cert = tls_server
    context = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(transport=StdlibTransport(ssl_context=context), timeout=2.0) as client:
        assert client.post(url, content=b"x").json() == {"tls": True}
