"""The endpoint views of the five dialects: each only wires its parser and renderer into
the shared `OcrEndpoint` flow (auth, rate limit, parse, pipeline, render, headers)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponseRedirect
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.money import micros_to_usd_str
from billing.ratelimit import RateLimitTicket, ratelimit_acquire
from billing.selectors import credits_available_micros
from config.api import ApiError, as_api_error
from config.parsers import SafeJSONParser
from keys.authentication import ApiKeyAuthentication, require_key
from ocr.dialects import (
    anyrouter,
    docsrouter,
    invoice,
    mistral,
    otoroshi,
    schemas,
    uploads,
)
from ocr.dialects.common import MiB, form_file, is_multipart, request_body
from ocr.endpoint import FreeAnswerHeaders, OcrEndpoint
from ocr.pipeline import ocr_execute_held, request_id_new


class AnyRouterExtractView(OcrEndpoint):
    dialect = anyrouter.DIALECT
    max_bytes = anyrouter.MAX_BYTES
    too_large_code = "image_too_large"
    error_codes = anyrouter.ERROR_CODES

    @extend_schema(
        operation_id="anyrouter_ocr_extract",
        parameters=schemas.OCR_ANSWER_HEADERS,
        summary="Seed 000 (AnyRouter): extract Markdown from an image or document",
        request={
            "application/json": schemas.anyrouter_request,
            "multipart/form-data": schemas.anyrouter_request,
        },
        responses={200: schemas.anyrouter_response, **schemas.errors(*schemas.COMMON)},
        tags=["ocr"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def parse(self, request):
        return anyrouter.parse(request)

    def render(self, request, outcome):
        return anyrouter.render(outcome)


class V1OcrView(OcrEndpoint):
    """`POST /v1/ocr`: a body with `document` is Mistral OCR, else DocsRouter (seed 001)."""

    parser_classes = [SafeJSONParser]
    dialect = docsrouter.DIALECT
    max_bytes = mistral.MAX_BYTES

    @extend_schema(
        operation_id="v1_ocr",
        parameters=schemas.OCR_ANSWER_HEADERS,
        summary="Seed 001 (DocsRouter, url/base64) and Mistral OCR (document) on one path",
        request=schemas.v1_ocr_request,
        responses={200: schemas.v1_ocr_response, **schemas.errors(*schemas.COMMON, 422)},
        tags=["ocr"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def too_large(self, limit: int) -> ApiError:
        # Which of the two dialects the body is cannot be told before reading it.
        return ApiError(
            413,
            "file_too_large",
            f"The request body is over what this endpoint accepts: documents up to "
            f"{docsrouter.MAX_BYTES // MiB} MiB with 'url'/'base64', "
            f"{mistral.MAX_BYTES // MiB} MiB with 'document'.",
        )

    def parse(self, request):
        body = request_body(request)
        if all(body.get(name) in (None, "") for name in ("document", "url", "base64")):
            raise ApiError(
                400,
                "missing_image",
                "Give the document as 'document' (Mistral OCR) or as 'url' or 'base64'.",
            )
        if body.get("document") is not None:
            self.dialect = mistral.DIALECT  # its errors are Mistral's from here on
            self.ocr_request = mistral.parse_body(body)
        else:
            self.ocr_request = docsrouter.parse_body(body)
        self.dialect = self.ocr_request.dialect
        return self.ocr_request

    def render_error(self, error: ApiError) -> Response:
        if self.dialect == mistral.DIALECT:
            return mistral.error_response(error)
        if error.status == 415:
            # Seed 001's table has no 415: a body that is not JSON and a file of no
            # supported type are "400 Bad Request - Invalid parameters" (same code).
            error.status = 400
        return super().render_error(error)

    def render(self, request, outcome):
        if self.ocr_request.dialect == mistral.DIALECT:
            return mistral.render(outcome, self.ocr_request)
        return docsrouter.render(outcome, self.ocr_request)


class OtoroshiOcrView(OcrEndpoint):
    dialect = otoroshi.DIALECT

    def get_max_bytes(self) -> int:
        return otoroshi.max_bytes()

    @extend_schema(
        operation_id="otoroshi_ocr",
        parameters=schemas.OCR_ANSWER_HEADERS,
        summary="Seed 004 (Otoroshi): OCR from JSON (any form of the seed) or multipart",
        request={
            "application/json": schemas.otoroshi_request,
            "multipart/form-data": schemas.otoroshi_request,
        },
        responses={200: schemas.otoroshi_response, **schemas.errors(*schemas.COMMON)},
        tags=["ocr"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def parse(self, request):
        return otoroshi.parse(request)

    def render(self, request, outcome):
        return otoroshi.render(outcome)


class InvoiceView(OcrEndpoint):
    """Seed 002. Not charged twice: with `annotations` the pipeline does not run at all."""

    parser_classes = [SafeJSONParser]
    dialect = invoice.DIALECT
    max_bytes = invoice.MAX_BYTES

    def _check_content_length(self, request) -> None:
        # "Total request body: 10 MB" (seed): the body itself, not the decoded file.
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > invoice.MAX_BYTES:
            raise ApiError(413, "file_too_large", "File too large")

    @extend_schema(
        operation_id="invoice_ocr_structured_v4",
        parameters=schemas.OCR_ANSWER_HEADERS,
        summary="Seed 002 (Invoice OCR): structured invoice data from an image or PDF",
        request=schemas.invoice_request,
        responses={200: schemas.invoice_response, **schemas.errors(*schemas.COMMON)},
        tags=["ocr"],
    )
    def post(self, request, *args, **kwargs):
        self.request_id = request_id_new()
        ticket = self.ratelimit_acquire(request)
        api_key = request.auth  # read again when the cached one was stale
        try:
            self.ticket = ticket
            self._check_content_length(request)
            parsed = invoice.parse_body(request_body(request))
            try:
                return self._run(api_key, parsed)
            except ApiError as error:
                if error.status == 402:
                    ticket.refund()  # refused by one limit: uses up nothing of another
                raise
        finally:
            ticket.release()

    def render_error(self, error: ApiError) -> Response:
        error.message = invoice.SEED_MESSAGES.get(error.code, error.message)
        return super().render_error(error)

    def _run(self, api_key, parsed) -> Response:
        served = invoice.llm_model_for(parsed.model)
        holds = []  # the chat model's worst case, held with the parse's: both or neither

        def hold_extraction() -> None:
            holds.append(
                invoice.llm_reserve(
                    api_key=api_key, served=served, request_id=f"{self.request_id}-llm"
                )
            )

        held = None
        try:
            if parsed.ocr_request is not None:
                held = ocr_execute_held(
                    api_key=api_key,
                    ocr_request=parsed.ocr_request,
                    request_id=self.request_id,
                    hold_also=hold_extraction if served is not None else None,
                )
            elif served is not None:
                hold_extraction()
        except BaseException:
            if holds:
                invoice.llm_release(
                    reservation=holds[0], api_key=api_key, served=served, error=None
                )
            raise
        reservation = holds[0] if holds else None
        text = held.result.text if held is not None else (parsed.annotation_text or "")
        # The parse is charged only once the extraction has succeeded too: a request that
        # fails costs nothing (llm_extract settles or releases its own hold).
        try:
            if served is not None:
                data, usage, charged = invoice.llm_extract(
                    reservation=reservation, api_key=api_key, served=served, text=text
                )
                model = served.name
            else:
                data, model, usage = invoice.extract_rules(text=text)
                charged = None
        except BaseException as exc:
            if held is not None:
                held.release(error=exc if isinstance(exc, ApiError) else None)
            raise
        outcome = held.settle() if held is not None else None
        cost = outcome.price.total_micros if outcome is not None else 0
        if charged is not None:
            cost += charged.total_micros
        response = self.rendered(
            self.request,
            lambda: invoice.render(
                invoice_request=parsed,
                outcome=outcome,
                data=data,
                model=model,
                usage=usage,
                cost_micros=cost,
            ),
            [record for record in (outcome and outcome.usage, charged) if record is not None],
        )
        response["X-Cost-Usd"] = micros_to_usd_str(cost)
        response["X-Credits-Remaining-Usd"] = micros_to_usd_str(
            credits_available_micros(organization=api_key.organization)
        )
        return response


class _SeedErrors:
    """Seed 003's envelope: `{"error": "<message>"}` (plus a stable `code`)."""

    def render_error(self, error: ApiError) -> Response:
        return Response(uploads.error_body(error), status=error.status)


class ProcessView(_SeedErrors, OcrEndpoint):
    parser_classes = [SafeJSONParser]
    dialect = uploads.DIALECT
    max_bytes = uploads.MAX_BYTES

    def _check_content_length(self, request) -> None:
        # The body is only {key}: anything big is not a process request.
        if int(request.META.get("CONTENT_LENGTH") or 0) > 64 * 1024:
            raise ApiError(413, "file_too_large", "Request body too large")

    @extend_schema(
        operation_id="ocr_process",
        parameters=schemas.OCR_ANSWER_HEADERS,
        summary="Seed 003: OCR a file uploaded with POST /api/upload",
        request=schemas.process_request,
        responses={
            200: schemas.process_response,
            **{
                code: OpenApiResponse(schemas.seed_error)
                for code in (400, 401, 402, 403, 404, 413, 415, 429, 502, 503)
            },
        },
        tags=["ocr"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def parse(self, request):
        ocr_request, self.upload = uploads.parse(request, api_key=request.auth)
        return ocr_request

    def render(self, request, outcome):
        return uploads.render(request, outcome, self.upload)


class _KeyView(FreeAnswerHeaders, APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [require_key(kind="api", scope="ocr")]

    def handle_exception(self, exc: Exception) -> Response:
        error = as_api_error(exc)
        if error is None:
            return super().handle_exception(exc)
        response = Response(uploads.error_body(error), status=error.status)
        for name, value in error.headers.items():
            response[name] = value
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        # The headers of every OCR response (FreeAnswerHeaders); storing a file costs nothing.
        response = super().finalize_response(request, response, *args, **kwargs)
        ticket: RateLimitTicket | None = getattr(self, "ticket", None)
        if ticket is not None:  # refusals carry the limit's headers too
            for name, value in ticket.headers().items():
                response.setdefault(name, value)
        return response


class UploadView(_KeyView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="ocr_upload",
        summary="Seed 003: upload a file for OCR (multipart field `file`)",
        request={"multipart/form-data": schemas.upload_request},
        responses={
            200: schemas.upload_response,
            **{
                code: OpenApiResponse(schemas.seed_error) for code in (400, 401, 403, 413, 415, 429)
            },
        },
        tags=["ocr"],
    )
    def post(self, request, *args: Any, **kwargs: Any) -> Response:
        self.ticket = ratelimit_acquire(api_key=request.auth)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
            if length > uploads.MAX_BYTES + 64 * 1024:
                raise ApiError(413, "file_too_large", "File too large (max 20 MiB)")
            if not is_multipart(request):
                raise ApiError(400, "invalid_request", "Send the file as multipart/form-data")
            body = request_body(request)
            upload = uploads.upload_create(
                api_key=request.auth, upload=form_file(body, "file", code="invalid_file")
            )
            return Response(uploads.upload_json(request, upload), status=200)
        finally:
            self.ticket.release()


class FileView(_KeyView):
    """The `fileUrl` of an upload on local storage: needs a key of the same tenant."""

    @extend_schema(
        operation_id="ocr_file_download",
        summary="Seed 003: download an uploaded file (local storage; S3 redirects)",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(description="The file"),
            400: OpenApiResponse(schemas.seed_error, description="Invalid file key format"),
            401: OpenApiResponse(schemas.seed_error, description="Missing or invalid API key"),
            403: OpenApiResponse(schemas.seed_error, description="The key lacks the `ocr` scope"),
            404: OpenApiResponse(schemas.seed_error),
        },
        tags=["ocr"],
    )
    def get(self, request, key: str):
        upload = uploads.upload_get(organization=request.auth.organization, key=key)
        if settings.AWS_STORAGE_BUCKET_NAME:
            return HttpResponseRedirect(default_storage.url(upload.storage_name))
        try:
            handle = default_storage.open(upload.storage_name, "rb")
        except (FileNotFoundError, OSError):
            raise ApiError(404, "file_not_found", "File not found") from None
        return FileResponse(handle, content_type=upload.content_type)
