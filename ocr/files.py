"""Mistral's files API for OCR: upload a document once, then OCR it by id or signed URL.

`POST /v1/files` (multipart `file`, `purpose`, `expiry`) stores the bytes through Django's
storage under `files/<org public id>/<file id>`; `{type: "file", file_id}` in an OCR
request and the URL from `GET /v1/files/{id}/url` both read them back without a network
fetch. A file is its tenant's only: any other tenant's id is 404 `file_not_found`, like
an id that never existed. A signed URL is a bearer capability until it expires (an HMAC
of the file id and the expiry under SECRET_KEY), as a storage's presigned URL is.

Uploads are not charged; OCR of an uploaded file is priced like any other request.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import unicodedata
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import Organization
from config.api import ApiError
from ocr.intake.sniff import media_type_sniff
from ocr.models import OcrFile

MiB = 1024 * 1024
MAX_BYTES = 50 * MiB  # the Mistral dialect's document limit
PURPOSE = "ocr"
SIGNED_URL_HOURS = (1, 168)  # Mistral's bounds for `expiry` of a signed URL
FILE_EXPIRY_HOURS = (1, 24 * 365)
_SIGNING_SALT = "ocr.files.signed-url"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# What every stored file is, in Mistral's terms (and what list filters can ask for).
SAMPLE_TYPE = "ocr_input"
SOURCE = "upload"


def _not_found() -> ApiError:
    return ApiError(404, "file_not_found", "No file with this id.")


def _display_name(name: str | None) -> str:
    """The client's file name as metadata: no directory part, no control characters,
    at most 255 characters (the bytes are stored under the file's id, never this name)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    clean = _CONTROL.sub("", unicodedata.normalize("NFC", base)).strip()
    return clean[:255] or "upload"


def _whole_number(
    value: Any, *, field: str, bounds: tuple[int, int], default: int | None, unit: str = ""
) -> int | None:
    """A form or query value as an integer within `bounds`, or `default` when absent."""
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not bounds[0] <= number <= bounds[1]:
        raise ApiError(
            400,
            "invalid_request",
            f"'{field}' must be a whole number{unit} from {bounds[0]} to {bounds[1]}.",
        )
    return number


def _quota_check(organization, size: int) -> None:
    quota = settings.OCR_FILES_QUOTA_BYTES
    used = (
        OcrFile.objects.filter(organization=organization).aggregate(total=Sum("size"))["total"] or 0
    )
    if used + size > quota:
        raise ApiError(
            413,
            "storage_quota_exceeded",
            f"Stored files would exceed this organization's {quota:,}-byte quota; "
            "delete some with DELETE /v1/files/{file_id}.",
        )


def file_create(*, api_key, upload: Any, purpose: Any = None, expiry: Any = None) -> OcrFile:
    """Store an uploaded document for the key's tenant."""
    if upload is None or upload == "":
        raise ApiError(400, "missing_file", "Send the document in the multipart field 'file'.")
    if not isinstance(upload, UploadedFile):
        raise ApiError(400, "missing_file", "The 'file' field must be a file.")
    if purpose not in (None, "", PURPOSE):
        raise ApiError(
            400, "invalid_request", "Only purpose 'ocr' is supported: files here are for OCR."
        )
    hours = _whole_number(
        expiry, field="expiry", bounds=FILE_EXPIRY_HOURS, default=None, unit=" of hours"
    )
    if not upload.size:
        raise ApiError(400, "missing_file", "The file is empty.")
    if upload.size > MAX_BYTES:
        raise ApiError(413, "file_too_large", f"The file is larger than {MAX_BYTES:,} bytes.")
    head = upload.read(4096)
    upload.seek(0)
    mimetype = media_type_sniff(head)
    if mimetype is None:
        raise ApiError(415, "unsupported_media_type", "The file is not a PDF or a supported image.")
    organization = api_key.organization
    file_id = uuid.uuid4()
    with transaction.atomic():
        # One tenant's uploads take turns from the quota check to the new row, so two at
        # once cannot both fit in the room left for one. `NO KEY` leaves the rows that
        # refer to the tenant (reservations, usage records) free to be written meanwhile.
        list(
            Organization.objects.select_for_update(no_key=True)
            .filter(pk=organization.pk)
            .values_list("pk", flat=True)
        )
        _quota_check(organization, upload.size)
        storage_name = default_storage.save(f"files/{organization.public_id}/{file_id}", upload)
        expires_at = timezone.now() + dt.timedelta(hours=hours) if hours else None
        try:
            return OcrFile.objects.create(
                id=file_id,
                organization=organization,
                api_key=api_key,
                filename=_display_name(upload.name),
                storage_name=storage_name.replace("\\", "/"),
                size=upload.size,
                mimetype=mimetype,
                purpose=PURPOSE,
                expires_at=expires_at,
            )
        except BaseException:
            default_storage.delete(storage_name)  # no row will point at these bytes
            raise


def _expired(file: OcrFile) -> bool:
    return file.expires_at is not None and file.expires_at <= timezone.now()


def _purge(file: OcrFile) -> None:
    default_storage.delete(file.storage_name)
    file.delete()


def files_purge_expired(*, organization=None) -> int:
    """Delete expired files (of `organization`, or everyone's) and their bytes."""
    expired = OcrFile.objects.filter(expires_at__lte=timezone.now())
    if organization is not None:
        expired = expired.filter(organization=organization)
    count = 0
    for file in expired:
        _purge(file)
        count += 1
    return count


def file_get(*, organization, file_id: Any) -> OcrFile:
    """The tenant's file `file_id`; 404 for a malformed, unknown, foreign or expired id."""
    try:
        wanted = uuid.UUID(str(file_id))
    except (TypeError, ValueError, AttributeError):
        raise _not_found() from None
    file = OcrFile.objects.filter(organization=organization, id=wanted).first()
    if file is None:
        raise _not_found()
    if _expired(file):
        _purge(file)
        raise _not_found()
    return file


def file_delete(*, organization, file_id: Any) -> OcrFile:
    file = file_get(organization=organization, file_id=file_id)
    deleted_id = file.id
    _purge(file)
    file.id = deleted_id  # Model.delete() clears the primary key
    return file


def file_list(*, organization, params) -> tuple[list[OcrFile], int]:
    """A page of the tenant's files, newest first; `params` is the query string."""
    page = _whole_number(params.get("page"), field="page", bounds=(0, 1_000_000), default=0)
    size = _whole_number(params.get("page_size"), field="page_size", bounds=(1, 1000), default=100)
    files_purge_expired(organization=organization)
    files = OcrFile.objects.filter(organization=organization).order_by("-created_at", "id")
    purpose = params.get("purpose")
    if purpose:
        files = files.filter(purpose=purpose)
    search = params.get("search")
    if search:
        files = files.filter(filename__icontains=search[:255])
    mimetypes = params.getlist("mimetypes") if hasattr(params, "getlist") else []
    if mimetypes:
        files = files.filter(mimetype__in=mimetypes)
    # Every file here is an uploaded OCR input: a filter for other kinds matches none.
    for name, value in (("sample_type", SAMPLE_TYPE), ("source", SOURCE)):
        wanted = params.getlist(name) if hasattr(params, "getlist") else []
        if wanted and value not in wanted:
            files = files.none()
    total = files.count()
    return list(files[page * size : (page + 1) * size]), total


def file_read(file: OcrFile, *, max_bytes: int) -> bytes:
    if file.size > max_bytes:
        raise ApiError(
            413,
            "file_too_large",
            f"The document is larger than the {max_bytes:,}-byte limit for this endpoint.",
        )
    try:
        with default_storage.open(file.storage_name, "rb") as handle:
            return handle.read(max_bytes + 1)
    except (FileNotFoundError, OSError):
        raise _not_found() from None


def file_json(file: OcrFile, *, with_deleted: bool = False) -> dict[str, Any]:
    """The file as Mistral's `FileSchema`."""
    body: dict[str, Any] = {
        "id": str(file.id),
        "object": "file",
        "bytes": file.size,
        "created_at": int(file.created_at.timestamp()),
        "filename": file.filename,
        "purpose": file.purpose,
        "sample_type": SAMPLE_TYPE,
        "source": SOURCE,
        "num_lines": None,
        "mimetype": file.mimetype,
        "signature": None,
        "expires_at": int(file.expires_at.timestamp()) if file.expires_at else None,
        "visibility": "workspace",
    }
    if with_deleted:
        body["deleted"] = False
    return body


# --- signed URLs -------------------------------------------------------------------------
def _signature(file_id: str, expires: int) -> str:
    return salted_hmac(_SIGNING_SALT, f"{file_id}:{expires}", algorithm="sha256").hexdigest()


def signed_url_make(request, file: OcrFile, *, expiry: Any) -> str:
    hours = _whole_number(
        expiry, field="expiry", bounds=SIGNED_URL_HOURS, default=24, unit=" of hours"
    )
    expires = int(time.time()) + hours * 3600
    if file.expires_at is not None:
        expires = min(expires, int(file.expires_at.timestamp()))
    path = reverse("files-signed", kwargs={"file_id": str(file.id)})
    query = f"expires={expires}&signature={_signature(str(file.id), expires)}"
    return request.build_absolute_uri(f"{path}?{query}")


def signed_file(file_id: str, *, expires: Any, signature: Any) -> OcrFile:
    """The file a signed URL names, while its signature is valid; 404 otherwise (an
    altered, expired or revoked URL tells nothing about whether the file exists)."""
    try:
        until = int(expires)
    except (TypeError, ValueError):
        raise _not_found() from None
    if not isinstance(signature, str) or until < time.time():
        raise _not_found()
    if not constant_time_compare(signature, _signature(str(file_id), until)):
        raise _not_found()
    try:
        wanted = uuid.UUID(str(file_id))
    except ValueError:
        raise _not_found() from None
    file = OcrFile.objects.filter(id=wanted).first()
    if file is None or _expired(file):
        raise _not_found()
    return file


_SIGNED_PATH = re.compile(r"/files/signed/(?P<id>[0-9a-fA-F-]{32,36})")


def signed_file_from_url(url: str) -> OcrFile | None:
    """The file behind one of our own signed URLs, or None when `url` is not one (it is
    then fetched like any URL). The host is not checked: behind a proxy our public name
    may differ from what we see, and the signature alone authorises the read."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    match = _SIGNED_PATH.fullmatch(parts.path)
    if match is None:
        return None
    query = parse_qs(parts.query)
    if "signature" not in query:
        return None
    return signed_file(
        match["id"],
        expires=query.get("expires", [None])[0],
        signature=query["signature"][0],
    )
