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
"""

from __future__ import annotations

import os
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


class TimedThreadWorker(ThreadWorker):
    def enqueue_req(self, conn) -> None:
        if type(conn.sock) is socket.socket:
            conn.sock.__class__ = _TimedSocket
        super().enqueue_req(conn)
