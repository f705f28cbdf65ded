"""A Redis stand-in on 127.0.0.1 that either never answers or passes through to a real one.

`hang()`: connections are accepted (the kernel completes the handshake) and what they send
is read and dropped, with no reply: a Redis stopped with SIGSTOP, or behind a network
black hole. A connection that was hung stays hung (its client gives up on it and
reconnects). `answer()`: new connections are relayed to the real Redis at `upstream`
(host, port), byte for byte; `url` then names database `db` of it. `connections` counts the connections accepted.
"""

from __future__ import annotations

import socket
import threading


class FakeRedis:
    def __init__(self, *, upstream: tuple[str, int] | None = None, db: int = 0) -> None:
        self.upstream = upstream
        self.db = db
        self.hung = upstream is None
        self.connections = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._listener.getsockname()[1]}/{self.db}"

    def start(self) -> FakeRedis:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def hang(self) -> None:
        self.hung = True

    def answer(self) -> None:
        assert self.upstream is not None, "no real Redis to pass through to"
        self.hung = False

    def stop(self) -> None:
        self._stopped = True
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in [self._listener, *sockets]:
            try:
                sock.close()
            except OSError:
                pass

    def __enter__(self) -> FakeRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._track(client)
            if self.hung:
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            upstream = socket.create_connection(self.upstream, timeout=5)
            upstream.settimeout(None)
            self._track(upstream)
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._relay, args=(upstream, client), daemon=True).start()

    def _swallow(self, client: socket.socket) -> None:
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass

    def _relay(self, source: socket.socket, target: socket.socket) -> None:
        """Bytes from `source` to `target` until either closes; dropped once hung."""
        try:
            while data := source.recv(65536):
                if self.hung:
                    continue
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
