"""Request bodies at the WSGI boundary: chunked uploads made whole, unread rests drained.

Chunked bodies. A client that streams its upload (`Transfer-Encoding: chunked`, no
Content-Length: `curl -T -`, fetch with a stream, httpx with a generator) gets its body
dechunked by gunicorn, but Django reads a body only up to CONTENT_LENGTH, which is then
absent: it saw an empty body and the client got a misleading 400 ("image is required").
Such a body is read here first, into a spooled file (memory up to Django's
FILE_UPLOAD_MAX_MEMORY_SIZE, then disk), up to the largest body any endpoint accepts,
and handed on with its length, when the request presents a well-formed API key (a
caller without one is refused before its body is written anywhere). One larger than
that is handed on with a length one above the limit, so the endpoint answers its own
413 without reading it.

Unread rests. An API answers many requests before reading their bodies: 401, 429 and
402 come before the body is parsed (on purpose: nothing is decoded for a caller who may
not call), 415 before an unknown content type is read, 400 when a multipart body breaks
off. gunicorn then drains at most 64 KiB of the leftover before the next request on that
keep-alive connection, and closes the connection when there is more, after having
answered `Connection: keep-alive` (it ignores an application's own `Connection: close`).
A pooled client (httpx, the `mistralai` SDK, requests) sends its next request on that
connection and gets "server disconnected" instead of an answer. So the rest of the body
is read here, before the response goes out, up to the same limit and for at most
`DRAIN_MAX_SECONDS`; a body announced larger than that (an oversized upload answered 413
from its Content-Length) is left to gunicorn, which closes the connection as before. A
body the application read to the end costs one empty read.

Both only on streams known to end with the body (gunicorn's, Django's LimitedStream):
PEP 3333 lets another server hand over its socket, where a read past the body would wait
for the client's next request.

Cut-off bodies. gunicorn hands the application what arrived of a body that ends before
its Content-Length (the client closed, or fell silent past the read timeout of
config/gunicorn_worker.py) as if it were the whole body, without an error. A JSON
document that happened to be complete was then run and charged, also when the client,
silent, never got the answer. Such a body raises `IncompleteBody` when the read comes
up short: 400 `invalid_request_body`, nothing run, nothing charged.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import BadRequest
from django.core.handlers.wsgi import LimitedStream

DRAIN_MAX_SECONDS = 10.0
_STEP = 256 * 1024

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _announced_length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def _chunked(environ: dict[str, Any]) -> bool:
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


def largest_accepted_body() -> int:
    from django.conf import settings

    from ocr.endpoint import BODY_OVERHEAD_BYTES

    return settings.OCR_004_MAX_BYTES * 4 // 3 + BODY_OVERHEAD_BYTES


def _bounded(stream: Any) -> bool:
    """Whether reading `stream` ends with the request's body."""
    if isinstance(stream, WholeBody):
        return True
    return isinstance(stream, LimitedStream) or type(stream).__module__.startswith("gunicorn.")


class IncompleteBody(BadRequest):
    """The body ended before its Content-Length: the client closed or fell silent."""


class WholeBody:
    """A body stream that raises `IncompleteBody` where it ends before `length` bytes."""

    def __init__(self, stream: Any, length: int) -> None:
        self.stream = stream
        self.remaining = length

    def read(self, size: int | None = -1) -> bytes:
        wanted = self.remaining if size is None or size < 0 else min(size, self.remaining)
        data = self.stream.read(size)
        while len(data) < wanted:  # a short read: more to come, or the end
            more = self.stream.read(wanted - len(data))
            if not more:
                self._cut_off(len(data))
            data += more
        self.remaining -= len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        line = self.stream.readline(size)
        if not line and self.remaining > 0 and size != 0:
            self._cut_off(0)
        self.remaining -= len(line)
        return line

    def _cut_off(self, read: int) -> None:
        raise IncompleteBody(
            f"The request body ended {self.remaining - read} bytes before its Content-Length."
        )


class BrokenBody(Exception):
    """The chunked body could not be read to its end."""


_BROKEN_BODY = (
    b'{"error":{"code":"invalid_request_body","message":'
    b'"The chunked request body is malformed or incomplete."}}'
)


def _presents_a_key(environ: dict[str, Any]) -> bool:
    """A well-formed API key in the headers (format and checksum, no database): a caller
    without one gets its 401 without its body being spooled to disk first."""
    from config.api import ApiError
    from keys import crypto
    from keys.authentication import secret_from_meta

    try:
        secret = secret_from_meta(environ)
    except ApiError:
        return False
    return secret is not None and crypto.parse(secret) is not None


def spool_chunked_body(environ: dict[str, Any], *, max_bytes: int | None = None) -> bool:
    """Replace a chunked body of unknown length by a file of known length; True if done."""
    stream = environ.get("wsgi.input")
    if (
        stream is None
        or not _chunked(environ)
        or environ.get("CONTENT_LENGTH")
        or not _bounded(stream)
        or not _presents_a_key(environ)
    ):
        return False
    from django.conf import settings

    if max_bytes is None:
        max_bytes = largest_accepted_body()
    spooled = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
    size = 0
    try:
        while size <= max_bytes:
            chunk = stream.read(min(_STEP, max_bytes + 1 - size))
            if not chunk:
                break
            spooled.write(chunk)
            size += len(chunk)
    except Exception as exc:  # gunicorn's chunk parse errors, a client gone mid-body
        spooled.close()
        raise BrokenBody from exc
    spooled.seek(0)
    environ["wsgi.input"] = spooled
    environ["CONTENT_LENGTH"] = str(size)
    return True


def drain_request_body(
    environ: dict[str, Any],
    *,
    max_bytes: int | None = None,
    max_seconds: float = DRAIN_MAX_SECONDS,
) -> None:
    """Read and drop the unread rest of the request body, within the byte and time caps."""
    stream = environ.get("wsgi.input")
    if stream is None or not _bounded(stream):
        return
    length = _announced_length(environ)
    if length is None or (length == 0 and not _chunked(environ)):
        return
    if max_bytes is None:
        max_bytes = largest_accepted_body()
    if length > max_bytes:
        return
    deadline = time.monotonic() + max_seconds
    budget = max_bytes
    try:
        while budget > 0 and time.monotonic() < deadline:
            chunk = stream.read(min(_STEP, budget))
            if not chunk:
                return
            budget -= len(chunk)
    except Exception:  # noqa: BLE001 - gone client, broken chunking: the server closes
        return


def with_whole_bodies(app: WsgiApp) -> WsgiApp:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]):
        try:
            spooled = spool_chunked_body(environ)
        except BrokenBody:
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/json"), ("Content-Length", str(len(_BROKEN_BODY)))],
            )
            return [_BROKEN_BODY]
        if spooled:
            # Read to its end already, or past the limit, where gunicorn closes.
            return app(environ, start_response)
        length = _announced_length(environ)
        if length and _bounded(environ.get("wsgi.input")):
            environ["wsgi.input"] = WholeBody(environ["wsgi.input"], length)
        response = app(environ, start_response)
        drain_request_body(environ)
        return response

    return application
