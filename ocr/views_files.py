"""Mistral's files API (`/v1/files`), so the `mistralai` SDK's upload-then-OCR flow works.

Every route but the signed download needs an OCR key (`sk-ar-…`); errors leave in the
platform envelope, as on `POST /v1/ocr`. See ocr/files.py for storage and signing.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.http import FileResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.ratelimit import ratelimited
from config.api import ApiError
from keys.authentication import ApiKeyAuthentication, require_key
from ocr import files
from ocr.dialects import schemas
from ocr.dialects.common import form_file, is_multipart, request_body
from ocr.endpoint import BODY_OVERHEAD_BYTES, FreeAnswerHeaders, JsonAnswers
from ocr.models import OcrFile

_TAGS = ["files"]


def _download(file: OcrFile) -> FileResponse:
    try:
        handle = default_storage.open(file.storage_name, "rb")
    except (FileNotFoundError, OSError):
        raise ApiError(404, "file_not_found", "No file with this id.") from None
    return FileResponse(
        handle, content_type="application/octet-stream", as_attachment=True, filename=file.filename
    )


class _FilesView(FreeAnswerHeaders, APIView):
    content_negotiation_class = JsonAnswers
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [require_key(kind="api", scope="ocr")]


class FilesView(_FilesView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="files_list",
        summary="Mistral files API: the organization's uploaded files, newest first",
        parameters=[
            OpenApiParameter("page", {"type": "integer", "minimum": 0, "maximum": 1_000_000}),
            OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 1000}),
            OpenApiParameter("purpose", str),
            OpenApiParameter("search", str),
        ],
        responses={200: schemas.file_list, **schemas.errors(400, 401, 403)},
        tags=_TAGS,
    )
    def get(self, request, *args: Any, **kwargs: Any) -> Response:
        page, total = files.file_list(
            organization=request.auth.organization, params=request.query_params
        )
        return Response(
            {"data": [files.file_json(f) for f in page], "object": "list", "total": total}
        )

    @extend_schema(
        operation_id="files_upload",
        summary="Mistral files API: upload a PDF or image for OCR (multipart `file`)",
        request={"multipart/form-data": schemas.file_upload},
        responses={200: schemas.file_object, **schemas.errors(400, 401, 403, 413, 415, 429)},
        tags=_TAGS,
    )
    def post(self, request, *args: Any, **kwargs: Any) -> Response:
        if int(request.META.get("CONTENT_LENGTH") or 0) > files.MAX_BYTES + BODY_OVERHEAD_BYTES:
            raise ApiError(
                413, "file_too_large", f"The file is larger than {files.MAX_BYTES:,} bytes."
            )
        if not is_multipart(request):
            raise ApiError(400, "invalid_request", "Send the file as multipart/form-data.")

        def respond() -> Response:
            body = request_body(request)
            file = files.file_create(
                api_key=request.auth,
                upload=form_file(body, "file", code="invalid_request"),
                purpose=body.get("purpose"),
                expiry=body.get("expiry"),
            )
            return Response(files.file_json(file), status=200)

        return ratelimited(api_key=request.auth, respond=respond)


class FileView(_FilesView):
    @extend_schema(
        operation_id="files_retrieve",
        summary="Mistral files API: one file",
        responses={200: schemas.file_object, **schemas.errors(401, 403, 404)},
        tags=_TAGS,
    )
    def get(self, request, file_id: str) -> Response:
        file = files.file_get(organization=request.auth.organization, file_id=file_id)
        return Response(files.file_json(file, with_deleted=True))

    @extend_schema(
        operation_id="files_delete",
        summary="Mistral files API: delete a file",
        responses={200: schemas.file_deleted, **schemas.errors(401, 403, 404)},
        tags=_TAGS,
    )
    def delete(self, request, file_id: str) -> Response:
        file = files.file_delete(organization=request.auth.organization, file_id=file_id)
        return Response({"id": str(file.id), "object": "file", "deleted": True})


class FileContentView(_FilesView):
    @extend_schema(
        operation_id="files_download",
        summary="Mistral files API: the file's bytes",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(description="The file"),
            **schemas.errors(401, 403, 404),
        },
        tags=_TAGS,
    )
    def get(self, request, file_id: str):
        return _download(files.file_get(organization=request.auth.organization, file_id=file_id))


class FileSignedUrlView(_FilesView):
    @extend_schema(
        operation_id="files_signed_url",
        summary="Mistral files API: a URL that reads the file without a key until it expires",
        parameters=[
            OpenApiParameter(
                "expiry",
                {
                    "type": "integer",
                    "minimum": files.SIGNED_URL_HOURS[0],
                    "maximum": files.SIGNED_URL_HOURS[1],
                },
                description="Hours, 1 to 168 (24)",
            )
        ],
        responses={200: schemas.file_signed_url, **schemas.errors(400, 401, 403, 404)},
        tags=_TAGS,
    )
    def get(self, request, file_id: str) -> Response:
        file = files.file_get(organization=request.auth.organization, file_id=file_id)
        url = files.signed_url_make(request, file, expiry=request.query_params.get("expiry"))
        return Response({"url": url})


class SignedFileView(APIView):
    """The target of a signed URL: no key, the signature in the query authorises it."""

    authentication_classes: list = []
    permission_classes: list = []
    content_negotiation_class = JsonAnswers

    @extend_schema(
        operation_id="files_signed_download",
        summary="A signed file URL (from GET /v1/files/{file_id}/url)",
        auth=[],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(description="The file"),
            **schemas.errors(404),
        },
        tags=_TAGS,
    )
    def get(self, request, file_id: str):
        params = request.query_params
        file = files.signed_file(
            file_id, expires=params.get("expires"), signature=params.get("signature")
        )
        return _download(file)
