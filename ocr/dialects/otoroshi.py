"""Seed 004, Otoroshi (Cloud APIM) OCR: `POST /ocr`.

Every JSON form of the seed (Mistral-style `document`, flat `document_url`/`image_url`,
`image_base64`/`document_base64`, data URIs, `content_type`, `pages`, `pdf_password`,
`provider`) and a multipart upload in field `image`, `file` or `document` with the same
options as extra form fields. Response: `{model, text, pages[{index, markdown}],
usage_info{pages_processed}}`.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from config.api import ApiError
from ocr.dialects import mistral
from ocr.dialects.common import (
    base64_body_limit,
    content_length_check,
    decode_document,
    form_file,
    http_url,
    is_data_url,
    is_multipart,
    optional_str,
    pages_list,
    request_body,
    size_check,
)
from ocr.types import DocumentSource, OcrRequest

DIALECT = "otoroshi"
FILE_FIELDS = ("image", "file", "document")


def max_bytes() -> int:
    return settings.OCR_004_MAX_BYTES


def parse(request) -> OcrRequest:
    limit = max_bytes()
    content_length_check(
        request,
        limit=base64_body_limit(limit),
        code="file_too_large",
        message=f"The request is over the {limit}-byte upload limit.",
    )
    body = request_body(request)
    if is_multipart(request):
        source = _multipart_source(body, limit)
        pages = _form_pages(body.get("pages"))
    else:
        source = _json_source(body, limit)
        pages = pages_list(body.get("pages"))
    source.declared_media_type = optional_str(body, "content_type", max_len=100)
    return OcrRequest(
        dialect=DIALECT,
        source=source,
        max_bytes=limit,
        model=optional_str(body, "model", max_len=200),
        provider_id=optional_str(body, "provider", max_len=100),
        pages=pages,
        password=optional_str(body, "pdf_password", max_len=1000),
    )


def _url_source(value: Any, *, field: str, limit: int) -> DocumentSource:
    if isinstance(value, dict):
        value = value.get("url")
    if not isinstance(value, str) or not value:
        raise ApiError(400, "invalid_request", f"'{field}' must be a URL or a data URI.")
    if is_data_url(value):
        return DocumentSource(data=decode_document(value, field=field, max_bytes=limit))
    return DocumentSource(url=http_url(value, field=field))


def _json_source(body: dict[str, Any], limit: int) -> DocumentSource:
    if body.get("document") is not None:
        return mistral.source_from(body["document"], max_bytes=limit)
    for field in ("document_url", "image_url"):
        if body.get(field) not in (None, ""):
            return _url_source(body[field], field=field, limit=limit)
    for field in ("image_base64", "document_base64"):
        value = body.get(field)
        if value not in (None, ""):
            if not isinstance(value, str):
                raise ApiError(400, "invalid_base64", f"'{field}' must be a base64 string.")
            return DocumentSource(data=decode_document(value, field=field, max_bytes=limit))
    raise ApiError(
        400,
        "missing_document",
        "Give the document as 'document', 'document_url', 'image_url', 'image_base64' or "
        "'document_base64' (or upload it as multipart field 'image', 'file' or 'document').",
    )


def _multipart_source(body, limit: int) -> DocumentSource:
    for field in FILE_FIELDS:
        upload = form_file(body, field, code="invalid_request")
        if upload in (None, ""):
            continue
        if not isinstance(upload, UploadedFile):
            raise ApiError(400, "invalid_request", f"The multipart '{field}' field must be a file.")
        if upload.size is not None and upload.size > limit:
            raise ApiError(413, "file_too_large", f"The file is over the {limit}-byte limit.")
        data = upload.read(limit + 1)
        size_check(data, max_bytes=limit)
        if not data:
            raise ApiError(400, "missing_document", f"The multipart '{field}' file is empty.")
        return DocumentSource(data=data, filename=(upload.name or "")[:255] or None)
    raise ApiError(
        400,
        "missing_document",
        "Upload the document in multipart field 'image', 'file' or 'document'.",
    )


def _form_pages(value: Any) -> list[int] | None:
    """Pages from a form field: '0,2-4' or a JSON list such as '[0, 1]'."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise ApiError(400, "invalid_pages", "'pages' must be a list of indices.") from None
    return pages_list(value)


def render(outcome) -> dict[str, Any]:
    result = outcome.result
    return {
        "model": result.model,
        "text": result.text,
        "pages": [{"index": page.index, "markdown": page.markdown} for page in result.pages],
        "usage_info": {"pages_processed": len(result.pages)},
    }
