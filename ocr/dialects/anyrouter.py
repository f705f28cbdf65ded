"""Seed 000, AnyRouter: `POST /api/v1/ocr/extract` → `{text, format, model, tokens}`.

JSON `{"image": <base64 or data URL>, "filename"}` or a multipart file in field `image`.
Error codes are the seed's: missing_required_fields, invalid_request_body,
invalid_image_encoding, invalid_image_field, image_too_large (413 at 5 MiB decoded),
ocr_extraction_error for a file that is no readable document (ERROR_CODES).
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile

from config.api import ApiError
from ocr.dialects.common import (
    MiB,
    base64_body_limit,
    content_length_check,
    decode_document,
    form_file,
    is_multipart,
    json_or_multipart_body,
    optional_str,
    size_check,
)
from ocr.types import DocumentSource, OcrRequest

DIALECT = "anyrouter"
MAX_BYTES = 5 * MiB
DEFAULT_FILENAME = "image.png"
TOO_LARGE = "The image exceeds the 5 MiB limit."
# The shared layers' codes in the seed's table, the status kept (docs/dialects.md):
# - one 413: an image with too many pixels, or a document with too many pages, is too
#   large too (the message says which limit);
# - a file that is no readable document is the seed's `ocr_extraction_error`
#   ("unsupported format or corrupt data"), with the 4xx status of the check that
#   refused it before any provider was called: a client must not retry it.
ERROR_CODES = {
    "image_too_many_pixels": "image_too_large",
    "too_many_pages": "image_too_large",
    "unsupported_media_type": "ocr_extraction_error",
    "invalid_document": "ocr_extraction_error",
    "pdf_password_required": "ocr_extraction_error",
    "pdf_password_invalid": "ocr_extraction_error",
}


def parse(request) -> OcrRequest:
    content_length_check(
        request, limit=base64_body_limit(MAX_BYTES), code="image_too_large", message=TOO_LARGE
    )
    body = json_or_multipart_body(request, code="invalid_request_body")
    if is_multipart(request):
        data, filename = _from_multipart(body)
    else:
        data, filename = _from_json(body)
    return OcrRequest(
        dialect=DIALECT,
        source=DocumentSource(data=data, filename=filename),
        max_bytes=MAX_BYTES,
    )


def _from_json(body: dict[str, Any]) -> tuple[bytes, str]:
    image = body.get("image")
    if image is None or image == "":
        raise ApiError(400, "missing_required_fields", "The 'image' field is required.")
    if not isinstance(image, str):
        raise ApiError(
            400, "invalid_image_encoding", "'image' must be a base64 string or a data URL."
        )
    # A base64 string longer than the limit allows is refused before decoding it.
    if len(image) > base64_body_limit(MAX_BYTES):
        raise ApiError(413, "image_too_large", TOO_LARGE)
    data = decode_document(
        image,
        field="image",
        max_bytes=MAX_BYTES,
        code="invalid_image_encoding",
        too_large_code="image_too_large",
    )
    size_check(data, max_bytes=MAX_BYTES, code="image_too_large")
    filename = optional_str(body, "filename", code="invalid_request_body") or DEFAULT_FILENAME
    return data, filename


def _from_multipart(body) -> tuple[bytes, str]:
    image = form_file(body, "image", code="invalid_image_field")
    if image is None or image == "":
        raise ApiError(400, "missing_required_fields", "The multipart 'image' file is required.")
    if not isinstance(image, UploadedFile):
        raise ApiError(400, "invalid_image_field", "The multipart 'image' field must be a file.")
    if image.size is not None and image.size > MAX_BYTES:
        raise ApiError(413, "image_too_large", TOO_LARGE)
    data = image.read(MAX_BYTES + 1)
    size_check(data, max_bytes=MAX_BYTES, code="image_too_large")
    if not data:
        raise ApiError(400, "missing_required_fields", "The multipart 'image' file is empty.")
    return data, (image.name or DEFAULT_FILENAME)[:255]


def render(outcome) -> dict[str, Any]:
    result = outcome.result
    return {
        "text": result.text,
        "format": "markdown",
        "model": result.model,
        "tokens": result.tokens,
    }
