"""A small threaded HTTP server on 127.0.0.1 that upstream fakes build on.

Each fake records every request (`requests`), checks the bearer key, and answers through
`handle()`. Faults are injected per request, in order, with `fail("500", "timeout")`, or
on every request with `fail_always("429")`:

- `"timeout"`: wait `fault_delay_s` before answering (the client's timeout fires first)
- `"slow_body"`: send the headers, then the body a few bytes at a time, slowly
- `"malformed"`: 200 with a truncated JSON body
- `"reset"`: close the connection without answering
- `"echo_auth"`: 500 whose body repeats the Authorization header (a leaky upstream)
- `"slow_headers"`: send the status line, then the headers a byte at a time, slowly
- `"short_body"`: announce a Content-Length longer than the body sent, then close
- `"bad_gzip"`: 200 with `Content-Encoding: gzip` on a body that is not gzip
- `"redirect"`: 302 to another URL, with a valid-looking JSON body
- any status code as a string (`"500"`, `"429"`, `"503"`, `"400"`): that status with the
  kind's error body; 429 and 503 carry `Retry-After: 0`

`answer(Reply(...), ...)` makes the next requests get exactly those replies (raw bytes
allowed: NaN, wrong shapes), after the key check. `latency_s` delays every answer;
`latency_for(request)`, when set, gives each request its own delay instead (a slow page),
and `fault_for(request)` its own fault (or None) in place of the queued ones.
A hung upstream is `fail_always("timeout")` with a `fault_delay_s` longer than the test.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: Any  # dict/list (sent as JSON) or bytes
    headers: dict[str, str] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256


class FakeUpstream:
    """Base of the fakes. Subclasses implement `handle(request) -> Reply` and `error()`."""

    def __init__(
        self, *, api_key: str = "sk-fake-upstream-0123456789", latency_s: float = 0.0
    ) -> None:
        self.api_key = api_key
        self.latency_s = latency_s
        self.fault_delay_s = 5.0
        self.latency_for: Callable[[Recorded], float] | None = None
        self.fault_for: Callable[[Recorded], str | None] | None = None
        self.requests: list[Recorded] = []
        self.replies_sent: list[Reply] = []  # every answer, in order
        self.record = True  # benchmarks turn it off: the lists would grow without end
        self._faults: deque[str] = deque()
        self._always: str | None = None
        self._scripted: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> FakeUpstream:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real upstreams
            # Headers and body leave in separate writes; with Nagle on, the client's
            # delayed ACK would add ~40 ms to every keep-alive response.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802
                fake._serve(self)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- faults --------------------------------------------------------------------
    def fail(self, *faults: str) -> None:
        with self._lock:
            self._faults.extend(faults)

    def fail_always(self, fault: str | None) -> None:
        self._always = fault

    def answer(self, *replies: Reply) -> None:
        with self._lock:
            self._scripted.extend(replies)

    def _next_scripted(self) -> Reply | None:
        with self._lock:
            return self._scripted.popleft() if self._scripted else None

    def _next_fault(self) -> str | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
        return self._always

    # --- what kinds implement --------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def error(self, status: int, message: str) -> Reply:
        return Reply(status, {"error": {"message": message}})

    def malformed_body(self) -> bytes:
        return b'{"result": [{"data": "trunc'

    # --- serving -------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = Recorded(
            method=handler.command,
            path=handler.path,
            headers={name.lower(): value for name, value in handler.headers.items()},
            body=body,
        )
        if self.record:
            with self._lock:
                self.requests.append(request)
        delay = self.latency_s if self.latency_for is None else self.latency_for(request)
        if delay:
            time.sleep(delay)
        fault = self._next_fault() if self.fault_for is None else self.fault_for(request)
        if fault == "reset":
            handler.close_connection = True
            handler.connection.close()
            return
        if fault == "timeout":
            self._stopped.wait(self.fault_delay_s)
            fault = None
        if fault == "echo_auth":
            reply = self.error(500, f"internal error for {request.headers.get('authorization')}")
        elif fault == "bad_gzip":
            reply = Reply(200, b"this is not gzip at all", {"Content-Encoding": "gzip"})
        elif fault == "redirect":
            reply = Reply(302, {"pages": []}, {"Location": "http://169.254.169.254/"})
        elif fault == "malformed":
            reply = Reply(200, self.malformed_body())
        elif fault and fault.isdigit():
            reply = self.error(int(fault), f"injected fault {fault}")
            if fault in ("429", "503"):
                reply.headers["Retry-After"] = "0"
        elif request.headers.get("authorization") != f"Bearer {self.api_key}":
            reply = self.error(401, "Unauthorized: invalid or missing API key")
        elif (scripted := self._next_scripted()) is not None:
            reply = scripted
        else:
            try:
                reply = self.handle(request)
            except (ValueError, KeyError, TypeError) as exc:
                reply = self.error(422, f"invalid request: {exc}")
        if self.record:
            with self._lock:
                self.replies_sent.append(reply)
        if fault == "slow_headers":
            self._write_headers_slowly(handler, reply)
            return
        if fault == "short_body":
            self._write_short(handler, reply)
            return
        self._write(handler, reply, slow=fault == "slow_body")

    def _write_headers_slowly(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        head = (
            f"HTTP/1.1 {reply.status} OK\r\nContent-Type: application/json\r\n"
            f"X-Padding: {'p' * 200}\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode()
        try:
            handler.wfile.write(head[:17])
            handler.wfile.flush()
            for byte in head[17:]:
                if self._stopped.wait(0.1):
                    return
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        handler.close_connection = True

    def _write_short(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data) + 100))
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        handler.close_connection = True
        handler.connection.close()

    def _write(self, handler: BaseHTTPRequestHandler, reply: Reply, *, slow: bool) -> None:
        data = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if not slow:
                handler.wfile.write(data)
                return
            handler.wfile.flush()
            # A trickle: each read succeeds well within a read timeout, the whole never ends.
            for start in range(0, len(data), 4):
                if self._stopped.wait(0.1):
                    return
                handler.wfile.write(data[start : start + 4])
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
