"""Where a document's bytes come from: inline base64, `data:` URLs and http(s) URLs.

`data:` URLs are decoded here and never fetched; http(s) URLs go through the one
SSRF-safe fetcher. Sizes are checked before decoding where the encoded length already
tells, so a client cannot make us allocate far past its dialect's limit.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote_to_bytes

from django.conf import settings

from config.api import ApiError
from ocr import files
from ocr.intake.fetch import fetch_url
from ocr.types import DocumentSource

_WHITESPACE = re.compile(rb"\s+")


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413,
        "file_too_large",
        f"The document is larger than the {max_bytes:,}-byte limit for this endpoint.",
    )


def decode_base64(value: str | bytes, *, max_bytes: int | None = None) -> bytes:
    """Raw base64 (standard or URL-safe, padding optional) or a data URL, to bytes."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:5].lower() == "data:":
            return parse_data_url(stripped, max_bytes=max_bytes)[1]
        try:
            raw = stripped.encode("ascii")
        except UnicodeEncodeError as exc:
            raise ApiError(
                400, "invalid_base64", "The base64 data has non-ASCII characters."
            ) from exc
    else:
        raw = value.strip()
        if raw[:5].lower() == b"data:":
            return parse_data_url(raw.decode("latin-1"), max_bytes=max_bytes)[1]
    raw = _WHITESPACE.sub(b"", raw)
    if not raw:
        raise ApiError(400, "invalid_base64", "The base64 data is empty.")
    if max_bytes is not None and len(raw) // 4 * 3 > max_bytes + 3:
        raise _too_large(max_bytes)
    if b"-" in raw or b"_" in raw:
        raw = raw.replace(b"-", b"+").replace(b"_", b"/")
    raw += b"=" * (-len(raw) % 4)
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "invalid_base64", "The data is not valid base64.") from exc
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def parse_data_url(value: str, *, max_bytes: int | None = None) -> tuple[str, bytes]:
    """`data:[<media type>][;base64],<data>` to (media type, bytes); RFC 2397."""
    if value[:5].lower() != "data:" or "," not in value:
        raise ApiError(400, "invalid_base64", "The data URL is malformed.")
    header, _, payload = value[5:].partition(",")
    params = [part.strip() for part in header.split(";")]
    is_base64 = bool(params) and params[-1].lower() == "base64"
    if is_base64:
        params = params[:-1]
    media_type = (params[0] if params and "/" in params[0] else "text/plain").lower()
    if is_base64:
        if not payload.strip():
            raise ApiError(400, "invalid_base64", "The data URL carries no data.")
        return media_type, decode_base64(payload, max_bytes=max_bytes)
    if max_bytes is not None and len(payload) // 3 > max_bytes:
        raise _too_large(max_bytes)
    data = unquote_to_bytes(payload)
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_large(max_bytes)
    return media_type, data


def source_load(
    source: DocumentSource, *, max_bytes: int, organization=None
) -> tuple[bytes, str | None]:
    """The document's bytes and a filename hint, from inline data, an uploaded file of
    `organization` (POST /v1/files) or a URL (our own signed file URLs are read from
    storage, not fetched)."""
    if source.data is not None:
        if len(source.data) > max_bytes:
            raise _too_large(max_bytes)
        return source.data, source.filename
    if source.file_id is not None:
        if organization is None:
            raise ApiError(400, "unsupported_document_type", "File ids are not accepted here.")
        file = files.file_get(organization=organization, file_id=source.file_id)
        return files.file_read(file, max_bytes=max_bytes), source.filename or file.filename
    url = (source.url or "").strip()
    if not url:
        raise ApiError(400, "invalid_request", "No document was given.")
    if url[:5].lower() == "data:":
        _, data = parse_data_url(url, max_bytes=max_bytes)
        return data, source.filename
    signed = files.signed_file_from_url(url)
    if signed is not None:
        return files.file_read(signed, max_bytes=max_bytes), source.filename or signed.filename
    limit = min(max_bytes, settings.FETCH_MAX_BYTES)
    fetched = fetch_url(url, max_bytes=limit, timeout_s=settings.FETCH_TIMEOUT_S)
    return fetched.data, source.filename or fetched.filename
