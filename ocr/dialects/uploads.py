"""Seed 003: `POST /api/upload` (multipart `file`) then `POST /api/ocr/process` `{key}`.

Files go through Django's storage API (local disk by default, S3-compatible through
django-storages when configured) under `ocr/<tenant public id>/<filename>`. A key is
looked up within the caller's tenant only, so another tenant's key is 404 `File not
found`, never a leak. Errors use the seed's envelope `{"error": "…"}`.
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.urls import reverse

from config.api import ApiError
from ocr.dialects.common import (
    MiB,
    json_or_multipart_body,
    reported_language,
    strip_markdown,
    word_count,
)
from ocr.intake.sniff import media_type_sniff
from ocr.models import StoredUpload
from ocr.types import DocumentSource, OcrRequest

DIALECT = "upload"
MAX_BYTES = 20 * MiB
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}")
KEY_RE = re.compile(r"ocr/(?P<owner>[A-Za-z0-9_\-]{1,60})/(?P<name>[A-Za-z0-9._\-]{1,255})")


def _safe_filename(name: str | None) -> str:
    """The client's file name as a storage name a key can carry: ASCII letters, digits,
    `.`, `_` and `-` only (accents dropped, anything else `_`), no directory part, no
    leading dot, at most 120 characters and its extension; `upload` when nothing is left."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    # The extension is split off before folding, so a name folding to nothing (`счёт.png`)
    # keeps it: `upload.png`, not `png`.
    stem, extension = os.path.splitext(base)
    stem, extension = _ascii_run(stem), _ascii_run(extension)
    if not _EXTENSION.fullmatch(extension):
        stem, extension = stem + extension, ""
    stem = stem.strip("._-")[:120]
    return f"{stem or 'upload'}{extension}"


def _ascii_run(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _UNSAFE_RUN.sub("_", folded)


def upload_create(*, api_key, upload: Any) -> StoredUpload:
    """Store an uploaded file for the key's tenant; the key is its storage path."""
    if upload is None or upload == "":
        raise ApiError(400, "missing_file", "No file provided")
    if not isinstance(upload, UploadedFile):
        raise ApiError(400, "invalid_file", "The 'file' field must be a file")
    if upload.size is not None and upload.size > MAX_BYTES:
        raise ApiError(413, "file_too_large", "File too large (max 20 MiB)")
    if not upload.size:
        raise ApiError(400, "missing_file", "The file is empty")
    head = upload.read(4096)
    upload.seek(0)
    media_type = media_type_sniff(head)
    if media_type is None:
        raise ApiError(415, "unsupported_media_type", "Unsupported file type")
    organization = api_key.organization
    wanted = f"ocr/{organization.public_id}/{_safe_filename(upload.name)}"
    # The storage picks a free name (a suffix) when the wanted one is taken.
    storage_name = default_storage.save(wanted, upload).replace("\\", "/")
    return StoredUpload.objects.create(
        key=storage_name,
        organization=organization,
        api_key=api_key,
        storage_name=storage_name,
        size=upload.size,
        content_type=media_type,
    )


def upload_get(*, organization, key: Any) -> StoredUpload:
    if key is None or key == "":
        raise ApiError(400, "missing_key", "File key is required")
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ApiError(400, "invalid_key", "Invalid file key format")
    upload = StoredUpload.objects.filter(organization=organization, key=key).first()
    if upload is None:
        raise ApiError(404, "file_not_found", "File not found")
    return upload


def file_url(request, upload: StoredUpload) -> str:
    """A presigned URL on S3; on local storage, our download link (it needs the key)."""
    if settings.AWS_STORAGE_BUCKET_NAME:
        return default_storage.url(upload.storage_name)
    return request.build_absolute_uri(reverse("ocr-file", kwargs={"key": upload.key}))


def upload_json(request, upload: StoredUpload) -> dict[str, Any]:
    return {
        "key": upload.key,
        "fileUrl": file_url(request, upload),
        "size": upload.size,
        "contentType": upload.content_type,
    }


def parse(request, *, api_key) -> tuple[OcrRequest, StoredUpload]:
    body = json_or_multipart_body(request, code="invalid_request")
    upload = upload_get(organization=api_key.organization, key=body.get("key"))
    try:
        with default_storage.open(upload.storage_name, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except (FileNotFoundError, OSError):
        raise ApiError(404, "file_not_found", "File not found") from None
    ocr_request = OcrRequest(
        dialect=DIALECT,
        source=DocumentSource(data=data, filename=os.path.basename(upload.key)),
        max_bytes=MAX_BYTES,
        model=None,
    )
    return ocr_request, upload


def render(request, outcome, upload: StoredUpload) -> dict[str, Any]:
    result = outcome.result
    # The seed's `text` is "the extracted text": plain, as 001's default output, so that
    # `wordCount` counts words, not Markdown's `#`, `|` and `---`.
    text = strip_markdown(result.text)
    # The seed's form, to the second: 2023-06-15T10:30:00Z.
    created = outcome.created.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {
        "id": outcome.request_id,
        "text": text,
        "key": upload.key,
        "fileUrl": file_url(request, upload),
        "createdAt": created,
        "wordCount": word_count(text),
        "tokensUsed": result.tokens,
        "language": reported_language(result.language),
    }


def error_body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error.message, "code": error.code}
    for name in ("limit_source", "required_usd", "available_usd"):
        if name in error.extra:
            body[name] = error.extra[name]
    return body
