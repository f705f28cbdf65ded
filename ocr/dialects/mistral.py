"""Mistral OCR on `POST /v1/ocr` (a body with `document`), so the official SDK works here.

The reference for every field is the `mistralai` SDK's models (`OCRRequest`,
`OCRResponse`, `OCRPageObject`, blocks and confidence models). Annotation formats go to
a Mistral upstream as they came; the local engine runs no annotation model, so with it
`document_annotation` is null.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework.response import Response

from config.api import ApiError
from config.api import error_response as error_response_platform
from ocr.dialects.common import (
    MiB,
    decode_document,
    http_url,
    is_data_url,
    optional_bool,
    optional_str,
    pages_list,
)
from ocr.dialects.mistral_pages import page_json
from ocr.types import DocumentSource, OcrRequest

DIALECT = "mistral"
MAX_BYTES = 50 * MiB
MAX_PAGES = 1000
TABLE_FORMATS = ("markdown", "html")
GRANULARITIES = ("word", "page", "block")


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise ApiError(400, "invalid_request", f"'{name}' must be one of: {', '.join(allowed)}.")
    return value


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(400, "invalid_request", f"'{name}' must be a non-negative integer.")
    return value


def source_from(document: Any, *, max_bytes: int = MAX_BYTES) -> DocumentSource:
    """The Mistral `document` object (also accepted by seed 004) → a DocumentSource."""
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_request", "'document' must be an object.")
    kind = document.get("type")
    filename = optional_str(document, "document_name", max_len=255, label="document.document_name")
    if kind == "file" or (kind is None and "file_id" in document):
        file_id = document.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise ApiError(400, "invalid_request", "'document.file_id' must be a non-empty string.")
        return DocumentSource(file_id=file_id, filename=filename)
    if kind in (None, "document_url") and "document_url" in document:
        url = document["document_url"]
        field = "document.document_url"
    elif kind in (None, "image_url") and "image_url" in document:
        url = document["image_url"]
        if isinstance(url, dict):
            url = url.get("url")
        field = "document.image_url"
    else:
        raise ApiError(
            400,
            "invalid_request",
            "'document' must be {type: document_url, document_url}, {type: image_url, "
            "image_url} or {type: file, file_id}.",
        )
    if not isinstance(url, str) or not url:
        raise ApiError(400, "invalid_request", f"'{field}' must be a non-empty string.")
    if is_data_url(url):
        data = decode_document(url, field=field, max_bytes=max_bytes)
        return DocumentSource(data=data, filename=filename)
    return DocumentSource(url=http_url(url, field=field), filename=filename)


RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")


def _response_format_check(value: Any, name: str) -> None:
    """Mistral's ResponseFormat: `{type: text | json_object | json_schema, json_schema?}`,
    `json_schema` `{name, schema, description?, strict?}` when the type says so."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_request", f"'{name}' must be an object.")
    kind = value.get("type", "text")
    if kind not in RESPONSE_FORMAT_TYPES:
        raise ApiError(
            400,
            "invalid_request",
            f"'{name}.type' must be one of: {', '.join(RESPONSE_FORMAT_TYPES)}.",
        )
    if kind != "json_schema":
        return
    schema = value.get("json_schema")
    if not isinstance(schema, dict):
        raise ApiError(
            400, "invalid_request", f"'{name}.json_schema' must be an object for type json_schema."
        )
    # Mistral's JSONSchema: a string `name` and the schema itself, an object, in `schema`.
    if not isinstance(schema.get("name"), str) or not isinstance(schema.get("schema"), dict):
        raise ApiError(
            400,
            "invalid_request",
            f"'{name}.json_schema' needs a string 'name' and an object 'schema'.",
        )


def parse_body(body: dict[str, Any]) -> OcrRequest:
    source = source_from(body.get("document"))
    pages = pages_list(body.get("pages"))
    if pages is not None and len(pages) > MAX_PAGES:
        raise ApiError(413, "too_many_pages", f"At most {MAX_PAGES} pages per request.")
    for name in ("bbox_annotation_format", "document_annotation_format"):
        _response_format_check(body.get(name), name)
    optional_str(body, "id", max_len=200)
    table_format = _choice(body, "table_format", TABLE_FORMATS)
    # Under Mistral's own names: a Mistral upstream is sent them as they came (the local
    # engine cuts out no images and runs no annotation model).
    options = {
        "table_format": table_format,
        "include_blocks": optional_bool(body, "include_blocks", default=True),
        "confidence_scores_granularity": _choice(
            body, "confidence_scores_granularity", GRANULARITIES
        ),
        "extract_header": optional_bool(body, "extract_header"),
        "extract_footer": optional_bool(body, "extract_footer"),
        "image_limit": _optional_int(body, "image_limit"),
        "image_min_size": _optional_int(body, "image_min_size"),
        "bbox_annotation_format": body.get("bbox_annotation_format"),
        "document_annotation_format": body.get("document_annotation_format"),
        "document_annotation_prompt": optional_str(
            body, "document_annotation_prompt", max_len=20_000
        ),
    }
    return OcrRequest(
        dialect=DIALECT,
        source=source,
        max_bytes=MAX_BYTES,
        model=optional_str(body, "model", max_len=200),
        pages=pages,
        include_image_base64=optional_bool(body, "include_image_base64"),
        extract_tables=table_format is not None,
        options=options,
    )


def render(outcome, ocr_request: OcrRequest) -> dict[str, Any]:
    result = outcome.result
    if result.raw_format == "mistral-ocr" and result.raw is not None:
        return _passthrough(outcome, ocr_request)
    return {
        "pages": [
            page_json(page, ocr_request.options, ocr_request.include_image_base64)
            for page in result.pages
        ],
        "model": result.model,
        "usage_info": {
            "pages_processed": len(result.pages),
            "doc_size_bytes": len(outcome.document.data),
        },
        "document_annotation": None,
        "text": result.text,
    }


def _passthrough(outcome, ocr_request: OcrRequest) -> dict[str, Any]:
    """A Mistral upstream's answer as it wrote it (hyperlinks, header, footer, blocks,
    annotations and whatever fields newer versions add), with our page indices and the
    public model name the client asked for. A page without the SDK's required `images`
    or `dimensions` gets what it lacks from our own rendering of it."""
    raw = outcome.result.raw
    ours = {page.index: page for page in outcome.result.pages}
    pages = []
    for page in raw.get("pages") or []:
        if not isinstance(page, dict):
            continue
        own = ours.get(page.get("index"))
        if own is not None and (page.get("images") is None or "dimensions" not in page):
            # Only then render our own page: its images are a list, never null.
            rendered = page_json(own, ocr_request.options, ocr_request.include_image_base64)
            page = {**rendered, **page}
            if page.get("images") is None:
                page["images"] = rendered["images"]
        pages.append(page)
    usage = raw.get("usage_info")
    usage = dict(usage) if isinstance(usage, dict) else {}
    # The pages charged for, whatever the upstream wrote there (-5, "NaN", 10**30): the
    # client's own accounting reads it, and Mistral's SDK refuses anything but an int.
    usage["pages_processed"] = len(outcome.result.pages)
    size = usage.get("doc_size_bytes")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        usage["doc_size_bytes"] = len(outcome.document.data)
    return {
        **raw,
        "pages": pages,
        "model": outcome.result.model,
        "usage_info": usage,
        "document_annotation": raw.get("document_annotation"),
        "text": outcome.result.text,
    }


# Request errors Mistral's API answers 422 with a validation `detail` (its SDK raises
# `HTTPValidationError` for them); everything else keeps its status.
VALIDATION_CODES = frozenset({"invalid_request", "invalid_pages", "invalid_base64", "invalid_url"})
_QUOTED_FIELD = re.compile(r"'([A-Za-z_][\w.]*)'")
# The field of an error whose message names none (intake's "Page 3 does not exist …").
_CODE_FIELDS = {"invalid_pages": "pages"}


def error_response(error: ApiError) -> Response:
    if error.status != 400 or error.code not in VALIDATION_CODES:
        return error_response_platform(error)
    named = _QUOTED_FIELD.search(error.message)
    field = named.group(1) if named else _CODE_FIELDS.get(error.code)
    loc: list[str] = ["body", *(field.split(".") if field else [])]
    body = {
        "detail": [{"loc": loc, "msg": error.message, "type": error.code}],
        **error.body(),
    }
    return Response(body, status=422, headers=error.headers)
