"""Helpers every dialect parser shares: reading the body safely, decoding, size checks.

Parsers raise `ApiError` only; a malformed body must never reach the pipeline or turn
into a 500 (deeply nested JSON, wrong types, huge strings, broken multipart).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.http.request import RawPostDataException
from rest_framework import exceptions as drf_exceptions

from config.api import ApiError
from config.parsers import NESTED_TOO_DEEPLY, json_loads_strict

MiB = 1024 * 1024
# Headroom on top of the base64-inflated document size for the other JSON fields.
BODY_SLACK_BYTES = 256 * 1024
# A cap on any free-text field we keep (model names, filenames, languages, ...).
MAX_SHORT_STR = 500
MAX_PAGES_LISTED = 1000


# The language a dialect reports when the text tells none (empty, or too short and
# mixed for the detector) and the client gave no hint: the seeds type it as a string.
DEFAULT_LANGUAGE = "en"


def reported_language(detected: str | None, hint: str | None = None) -> str:
    return detected or hint or DEFAULT_LANGUAGE


def base64_body_limit(max_bytes: int) -> int:
    """Largest body that can carry a document of max_bytes encoded as base64 in JSON."""
    return -(-max_bytes // 3) * 4 + BODY_SLACK_BYTES


def content_length_check(request, *, limit: int, code: str, message: str) -> None:
    """413 before a byte of the body is read when the declared length is over `limit`."""
    raw = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request_body", "Content-Length is not a number.") from None
    if length > limit:
        raise ApiError(413, code, message)


def request_body(request, *, code: str = "invalid_request_body") -> dict[str, Any]:
    """The parsed body (JSON object or multipart form), or a 400 with `code`.

    DRF parses lazily on first access to `request.data`; its ParseError, a JSON body
    nested too deeply for the parser, and a JSON value that is not an object all become
    the same 400, so a client error can never escape as a 500.
    """
    try:
        data = request.data
    except drf_exceptions.UnsupportedMediaType as exc:
        raise ApiError(415, "unsupported_media_type", str(exc.detail)) from None
    except (drf_exceptions.ParseError, RecursionError, RawPostDataException, ValueError) as exc:
        if isinstance(exc, RecursionError) or NESTED_TOO_DEEPLY in str(exc):
            raise ApiError(400, code, NESTED_TOO_DEEPLY) from None
        kind = "multipart form" if is_multipart(request) else "JSON"
        raise ApiError(400, code, f"The request body is not valid {kind}.") from None
    if not isinstance(data, dict):
        raise ApiError(400, code, "The request body must be a JSON object.")
    return data


def json_or_multipart_body(request, *, code: str = "invalid_request_body") -> dict[str, Any]:
    """The body of a dialect whose own server reads any body that is not multipart as
    JSON, whatever its Content-Type says (a Worker's `request.json()`): seeds 000 and 003.

    So `curl -d '{...}'` without `-H 'Content-Type: application/json'` (sent as a form)
    works, and a body that is empty, not JSON, or a multipart body with no part in it is
    400 `code`, never a 415 or a misleading "field missing".
    """
    if is_multipart(request):
        body = request_body(request, code=code)
        if not body:
            raise ApiError(400, code, "The multipart body has no parts it could read.")
        return body
    try:
        raw = request.body
    except RawPostDataException:
        raise ApiError(400, code, "The request body was already read.") from None
    if not raw or not raw.strip():
        raise ApiError(400, code, "The request body is empty; send a JSON object.")
    try:
        data = json_loads_strict(raw)
    except RecursionError:
        raise ApiError(400, code, NESTED_TOO_DEEPLY) from None
    except ValueError:
        raise ApiError(400, code, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, code, "The request body must be a JSON object.")
    return data


def form_file(body, name: str, *, code: str) -> Any:
    """`body[name]` of a multipart form, refused with 400 `code` when the field came more
    than once: a form holds every part of a name and `get` gives the last, so two files in
    `image` had the second read (and charged) and the first dropped without a word."""
    values = body.getlist(name) if hasattr(body, "getlist") else []
    if len(values) > 1:
        raise ApiError(
            400, code, f"Send one file in multipart field '{name}', not {len(values)} parts."
        )
    return body.get(name)


def is_multipart(request) -> bool:
    return (request.content_type or "").lower().startswith("multipart/form-data")


def optional_str(
    data: dict[str, Any],
    name: str,
    *,
    max_len: int = MAX_SHORT_STR,
    code: str = "invalid_request",
    label: str | None = None,
) -> str | None:
    """`data[name]` as a string or None; `label` is how messages name the field when it
    sits inside an object (`options.language`)."""
    value = data.get(name)
    if value is None or value == "":
        return None
    label = label or name
    if not isinstance(value, str):
        raise ApiError(400, code, f"'{label}' must be a string.")
    if len(value) > max_len:
        raise ApiError(400, code, f"'{label}' is too long (at most {max_len} characters).")
    return value


def optional_bool(
    data: dict[str, Any], name: str, *, default: bool = False, label: str | None = None
) -> bool:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    # Multipart form fields arrive as strings.
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise ApiError(400, "invalid_request", f"'{label or name}' must be a boolean.")


def optional_object(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_request", f"'{name}' must be an object.")
    return value


def http_url(value: str, *, field: str) -> str:
    """An http(s) URL as the client gave it; the SSRF-safe fetcher checks the rest."""
    scheme, colon, _ = value[:8].partition(":")
    if not colon or scheme.lower() not in ("http", "https"):
        # Checked before the length: raw base64 (a document without its `data:` prefix)
        # is long, and "too long" sent its sender looking in the wrong place.
        raise ApiError(
            400,
            "invalid_url",
            f"'{field}' must be an http(s) URL or a data: URL "
            "(a document's bytes go in data:<type>;base64,<base64>).",
        )
    if len(value) > 8192:
        raise ApiError(400, "invalid_url", f"'{field}' is too long.")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ApiError(400, "invalid_url", f"'{field}' is not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ApiError(400, "invalid_url", f"'{field}' must be an http(s) URL or a data: URL.")
    return value


def is_data_url(value: str) -> bool:
    return value[:5].lower() == "data:"


def decode_document(
    value: str,
    *,
    field: str,
    max_bytes: int,
    code: str = "invalid_base64",
    too_large_code: str = "file_too_large",
) -> bytes:
    """Raw base64 or a data: URL → bytes; 400 `code` naming the field when it is neither,
    413 `too_large_code` when the decoded document is over `max_bytes`."""
    from ocr.intake.sources import decode_base64

    try:
        data = decode_base64(value, max_bytes=max_bytes)
    except ApiError as exc:
        if exc.status == 413:
            raise ApiError(413, too_large_code, exc.message) from exc
        raise ApiError(400, code, f"'{field}' is not valid base64 or a data URL.") from exc
    if not data:
        raise ApiError(400, code, f"'{field}' decodes to an empty document.")
    return data


def size_check(data: bytes, *, max_bytes: int, code: str = "file_too_large") -> None:
    if len(data) > max_bytes:
        raise ApiError(
            413, code, f"The document is {len(data)} bytes; the limit is {max_bytes} bytes."
        )


def pages_list(value: Any, *, field: str = "pages") -> list[int] | None:
    """0-based page indices from a list of ints or a '0,2-4' string (Mistral accepts both)."""
    if value is None or value == "" or value == []:
        return None
    pages: list[int] = []
    if isinstance(value, str):
        if len(value) > 10_000:
            raise ApiError(400, "invalid_pages", f"'{field}' is too long.")
        for part in value.split(","):
            part = part.strip()
            match = re.fullmatch(r"(\d{1,9})(?:\s*-\s*(\d{1,9}))?", part, re.ASCII)
            if not match:
                raise ApiError(400, "invalid_pages", f"'{field}' has an invalid entry '{part}'.")
            start = int(match.group(1))
            end = int(match.group(2)) if match.group(2) else start
            if end < start:
                raise ApiError(400, "invalid_pages", f"'{field}' has an invalid range '{part}'.")
            # A range longer than the cap is the same error as a list that long.
            pages.extend(range(start, min(end, start + MAX_PAGES_LISTED) + 1))
            if len(pages) > MAX_PAGES_LISTED:
                break
    elif isinstance(value, list):
        for item in value[: MAX_PAGES_LISTED + 1]:
            if isinstance(item, str) and item.strip().isascii() and item.strip().isdigit():
                item = int(item.strip())  # '²' is a digit to isdigit(), not to int()
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise ApiError(
                    400, "invalid_pages", f"'{field}' must be a list of page indices (0-based)."
                )
            pages.append(item)
    else:
        raise ApiError(400, "invalid_pages", f"'{field}' must be a list of page indices.")
    if len(pages) > MAX_PAGES_LISTED:
        raise ApiError(413, "too_many_pages", f"At most {MAX_PAGES_LISTED} pages per request.")
    return sorted(set(pages))


_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def strip_markdown(markdown: str) -> str:
    """Plain text from the engine's Markdown: no heading marks, emphasis or table pipes."""
    lines = []
    for line in markdown.splitlines():
        if _MD_TABLE_RULE.match(line):
            continue
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
            cells = [cell.strip() for cell in stripped[1:-1].split("|")]
            line = "\t".join(cells)
        line = re.sub(r"^\s{0,3}#{1,6}\s+", "", line)
        line = re.sub(r"^\s*[-*+]\s+", "", line)
        line = re.sub(r"(\*\*|__)(.+?)\1", r"\2", line)
        line = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", line)
        line = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", line)
        line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)
        line = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|])", r"\1", line)
        lines.append(line.rstrip())
    return "\n".join(lines).strip()


def word_count(text: str) -> int:
    return len(text.split())
