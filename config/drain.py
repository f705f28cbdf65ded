"""Read what a client sent and the application did not, so its connection stays usable.

An API answers many requests before reading their bodies: 401, 429 and 402 come before
the body is parsed (on purpose: nothing is decoded for a caller who may not call), 415
before an unknown content type is read, 400 when a multipart body breaks off. gunicorn
then drains at most 64 KiB of the leftover before the next request on that keep-alive
connection, and closes the connection when there is more, after having answered
`Connection: keep-alive` (it ignores an application's own `Connection: close`). A
pooled client (httpx, the `mistralai` SDK, requests) sends its next request on that
connection and gets "server disconnected" instead of an answer.

So the WSGI application here reads the rest of the body itself, before the response
goes out, up to the largest body any endpoint accepts (`OCR_004_MAX_BYTES` as base64 in
JSON) and for at most `DRAIN_MAX_SECONDS`; a body announced larger than that (an
oversized upload answered 413 from its Content-Length) is left to gunicorn, which closes
the connection as before. A body the application read to the end costs one empty read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

DRAIN_MAX_SECONDS = 10.0
_STEP = 256 * 1024

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _announced_length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def largest_accepted_body() -> int:
    from django.conf import settings

    from ocr.endpoint import BODY_OVERHEAD_BYTES

    return settings.OCR_004_MAX_BYTES * 4 // 3 + BODY_OVERHEAD_BYTES


def _bounded(stream: Any) -> bool:
    """Whether reading `stream` ends with the request's body: gunicorn's, and Django's
    LimitedStream (runserver, live test servers). PEP 3333 lets another server hand over
    the raw socket, where a read past the body would wait for the next request."""
    from django.core.handlers.wsgi import LimitedStream

    return isinstance(stream, LimitedStream) or type(stream).__module__.startswith("gunicorn.")


def drain_request_body(
    environ: dict[str, Any],
    *,
    max_bytes: int | None = None,
    max_seconds: float = DRAIN_MAX_SECONDS,
) -> None:
    """Read and drop the unread rest of the request body, within the byte and time caps."""
    if max_bytes is None:
        max_bytes = largest_accepted_body()
    stream = environ.get("wsgi.input")
    if stream is None or not _bounded(stream):
        return
    length = _announced_length(environ)
    if length is None or length > max_bytes:
        return
    if length == 0 and "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
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


def with_body_drained(app: WsgiApp) -> WsgiApp:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]):
        response = app(environ, start_response)
        drain_request_body(environ)
        return response

    return application
