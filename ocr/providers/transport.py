"""An httpx transport on the standard library's `http.client`, for upstream calls.

httpx's default transport (httpcore + h11, both pure Python) costs about three times the
CPU of `http.client` per request, and on a small host the gateway is CPU-bound: an
upstream call was a quarter of all the CPU a gateway request used. This transport keeps
the httpx API (the `Client`, `Request`/`Response`, timeouts, the exception types that
`ProviderClient.request_json` retries on) and only replaces the wire:

- HTTP/1.1 with keep-alive, a LIFO pool of idle connections per origin (at most
  `max_idle` each); a connection goes back to the pool only once its response has been
  read to the end and the server did not ask to close it; an idle connection whose
  socket has become readable (the server closed it, or sent something unasked) is
  dropped instead of reused.
- Timeouts from the request (`connect`, then `read`/`write` on the socket), the same
  ones httpx's own transport honours, and the caller's overall deadline (the request
  extension `deadline`, a `time.monotonic()` instant) on every read of the status line,
  the headers and the body: an upstream trickling its headers a byte at a time no
  longer holds the request past it.
- TLS with httpx's default context (certificate verification, SNI).
- No proxies: upstream calls never take one (the client is built with trust_env off).
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterator

import httpx

_READ_CHUNK = 64 * 1024

# Socket -> (deadline, per-read timeout) of the exchange it carries now.
_DEADLINES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _arm(sock) -> None:
    limits = _DEADLINES.get(sock)
    if limits is None:
        return
    deadline, per_read = limits
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the upstream's answer is past its deadline")
    sock.settimeout(remaining if per_read is None else min(per_read, remaining))


class _DeadlineReads:
    """Every read of the socket keeps to the exchange's deadline (mixed into the socket
    classes; no slots of its own, so a socket's class can be swapped for it)."""

    __slots__ = ()

    def recv(self, *args, **kwargs):
        _arm(self)
        return super().recv(*args, **kwargs)

    def recv_into(self, *args, **kwargs):
        _arm(self)
        return super().recv_into(*args, **kwargs)


class _DeadlineSocket(_DeadlineReads, socket.socket):
    __slots__ = ()


class _DeadlineSSLSocket(_DeadlineReads, ssl.SSLSocket):
    pass


def _with_deadlines(sock) -> None:
    if type(sock) is socket.socket:
        sock.__class__ = _DeadlineSocket
    elif type(sock) is ssl.SSLSocket:
        sock.__class__ = _DeadlineSSLSocket


class _StaleConnection(Exception):
    """The connection failed before any byte of a response arrived."""


def _timeouts(request: httpx.Request) -> tuple[float | None, float | None, float | None]:
    timeout = request.extensions.get("timeout") or {}
    return timeout.get("connect"), timeout.get("read"), timeout.get("write")


def _quiet(connection: http.client.HTTPConnection) -> bool:
    """True when an idle connection can carry another request."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, transport: StdlibTransport, origin, connection, response) -> None:
        self._transport = transport
        self._origin = origin
        self._connection = connection
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        try:
            while True:
                chunk = self._response.read1(_READ_CHUNK)
                if not chunk:
                    if self._response.length:  # http.client leaves a cut body unsaid
                        self._discard()
                        raise httpx.ReadError("the body ended before its Content-Length")
                    return
                yield chunk
        except TimeoutError as exc:
            self._discard()
            raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
        except (OSError, http.client.HTTPException) as exc:
            self._discard()
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from exc

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        response = self._response
        if response.length == 0 and not response.isclosed():
            # http.client marks a Content-Length body finished only on a read past its
            # end; ours stopped exactly there.
            response.close()
        if response.isclosed() and not response.will_close:
            self._transport._checkin(self._origin, connection)
        else:
            connection.close()  # unread body or the server's "close": not reusable


class StdlibTransport(httpx.BaseTransport):
    def __init__(self, *, max_idle: int = 64, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_idle = max_idle
        self._ssl_context = ssl_context
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    # --- the pool --------------------------------------------------------------------
    def _checkout(self, origin) -> http.client.HTTPConnection | None:
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                connection = idle.pop() if idle else None
            if connection is None or _quiet(connection):
                return connection
            connection.close()

    def _checkin(self, origin, connection: http.client.HTTPConnection) -> None:
        if connection.sock is not None:
            _DEADLINES.pop(connection.sock, None)
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self._max_idle:
                idle.append(connection)
                return
        connection.close()

    def _connect(self, origin, connect_timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = origin
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            connection = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._ssl_context
            )
        elif scheme == "http":
            connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        else:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}")
        try:
            connection.connect()
        except TimeoutError as exc:
            connection.close()
            raise httpx.ConnectTimeout(str(exc) or "connect timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            connection.close()
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}") from exc
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _with_deadlines(connection.sock)
        return connection

    # --- httpx's interface -----------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        connect_timeout, read_timeout, write_timeout = _timeouts(request)
        body = request.read()
        connection = self._checkout(origin)
        if connection is not None:
            try:
                return self._exchange(
                    origin, connection, request, body, read_timeout, write_timeout
                )
            except _StaleConnection:
                pass  # the server closed it as we sent: once more, on a new connection
        connection = self._connect(origin, connect_timeout)
        try:
            return self._exchange(origin, connection, request, body, read_timeout, write_timeout)
        except _StaleConnection as stale:
            raise httpx.RemoteProtocolError(str(stale)) from stale.__cause__

    def _exchange(self, origin, connection, request, body, read_timeout, write_timeout):
        url = request.url
        try:
            connection.sock.settimeout(write_timeout)
            connection.putrequest(
                request.method,
                url.raw_path.decode("ascii"),
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in request.headers.raw:
                connection.putheader(name, value)
            connection.endheaders(body or None)
            connection.sock.settimeout(read_timeout)
            deadline = request.extensions.get("deadline")
            if deadline is not None:
                _DEADLINES[connection.sock] = (deadline, read_timeout)
            else:
                _DEADLINES.pop(connection.sock, None)
            response = connection.getresponse()
        except TimeoutError as exc:
            connection.close()
            raise httpx.ReadTimeout(str(exc) or "timed out") from exc
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected) as exc:
            # Nothing of a response arrived: the request may be sent again.
            connection.close()
            raise _StaleConnection(f"{type(exc).__name__}: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise httpx.RemoteProtocolError(f"{type(exc).__name__}: {exc}") from exc
        return httpx.Response(
            response.status,
            headers=response.getheaders(),
            stream=_ResponseStream(self, origin, connection, response),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": response.reason.encode()},
        )

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()
