"""gunicorn's threaded worker with a read timeout on client sockets.

gunicorn's gthread worker waits for a new connection's first bytes without holding a
thread, but once a client has sent part of a request it reads the rest on a blocking
socket with no timeout: 64 clients that send half a header line and then nothing hold
every thread of both workers, and the server stops answering anyone (slowloris). Here
each client socket gets `GUNICORN_CLIENT_TIMEOUT` seconds (15 by default) per read and
per write: a client silent that long in the middle of a request is treated as gone,
its connection closed and its thread freed. A client that keeps trickling a byte
before each timeout is still served slowly; a server exposed to the internet belongs
behind a buffering proxy (docs/architecture.md).

A request gunicorn itself cannot take (a malformed request line or header, a bad or
duplicated Content-Length, Content-Length with Transfer-Encoding, a header section or
request line over its limits, an unknown `Expect`) is answered by gunicorn before the
application sees it, with an HTML page. Here that answer goes out as the API's JSON
envelope, with the same status and gunicorn's own sentence.
"""

from __future__ import annotations

import html
import json
import os
import re
import socket

from gunicorn.workers.gthread import ThreadWorker

CLIENT_TIMEOUT_S = float(os.environ.get("GUNICORN_CLIENT_TIMEOUT", "15"))


class _TimedSocket(socket.socket):
    """A client socket whose blocking mode has a timeout. gunicorn switches a socket to
    blocking (`setblocking(True)`, which means no timeout) before reading a request."""

    __slots__ = ()

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(CLIENT_TIMEOUT_S)
        else:
            super().setblocking(False)

    def recv(self, *args, **kwargs) -> bytes:
        try:
            return super().recv(*args, **kwargs)
        except TimeoutError:
            # Silent past the timeout mid-request: the same as a client that hung up
            # (gunicorn then closes the connection without logging an error). Both
            # directions are shut first: gunicorn's graceful close, on the worker's
            # main thread, would otherwise linger 2 s on each silent client, and 32 of
            # them stalled every other connection of the worker for a minute.
            try:
                self.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return b""

    def sendall(self, data, flags: int = 0) -> None:
        """Each send may wait the timeout, not the whole answer (Python bounds a whole
        `sendall` by it): a slow reader of a large answer still gets all of it."""
        view = memoryview(data).cast("B")
        while view:
            sent = self.send(view, flags)
            view = view[sent:]


_ERROR_CODES = {
    400: "invalid_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    501: "not_implemented",
}
_ERROR_PAGE = re.compile(rb"\AHTTP/1\.1 (\d{3}) ([^\r]*)\r\n.*?\r\n\r\n(.*)\Z", re.S)
_PAGE_MESSAGE = re.compile(rb"</h1>\s*(.*?)\s*</body>", re.S)


def json_error_page(page: bytes) -> bytes:
    """gunicorn's HTML error answer (`gunicorn.util.write_error`) as the JSON envelope."""
    found = _ERROR_PAGE.match(page)
    if found is None:
        return page
    status, reason = int(found[1]), found[2].decode("latin-1")
    text = _PAGE_MESSAGE.search(found[3])
    message = html.unescape(text[1].decode("latin-1")) if text else ""
    code = _ERROR_CODES.get(status, "internal_error" if status >= 500 else "invalid_request")
    body = json.dumps({"error": {"code": code, "message": message or reason}}).encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1") + body


class _JsonErrorSocket:
    """The client socket as gunicorn's `handle_error` writes its answer to it."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def __getattr__(self, name: str):
        return getattr(self._sock, name)

    def sendall(self, data, flags: int = 0) -> None:
        self._sock.sendall(json_error_page(bytes(data)), flags)


class TimedThreadWorker(ThreadWorker):
    def enqueue_req(self, conn) -> None:
        if type(conn.sock) is socket.socket:
            conn.sock.__class__ = _TimedSocket
        super().enqueue_req(conn)

    def handle_error(self, req, client, addr, exc) -> None:
        super().handle_error(req, _JsonErrorSocket(client), addr, exc)
