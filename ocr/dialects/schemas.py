"""OpenAPI descriptions of every dialect's request and response (drf-spectacular).

Inline serializers only document the wire format; parsing is done by the dialect
modules, which accept exactly what the seeds accept.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    inline_serializer,
)
from rest_framework import serializers as s

_error = inline_serializer(
    "PlatformError",
    {
        "error": inline_serializer(
            "PlatformErrorBody", {"code": s.CharField(), "message": s.CharField()}
        )
    },
)


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    text = {
        400: "Invalid request",
        401: "Missing or invalid API key (management keys are refused)",
        402: "Insufficient credits or key spend limit",
        403: "The key lacks the `ocr` scope",
        404: "Not found",
        413: "Document too large",
        415: "Unsupported media type",
        422: "Mistral OCR request invalid: `detail[{loc, msg, type}]` beside `error`",
        429: "Rate limited (Retry-After)",
        502: "OCR upstream or extraction failed",
        503: "The local engine could not start the document in time (`engine_busy`, "
        "Retry-After; nothing charged)",
    }
    return {code: OpenApiResponse(_error, description=text[code]) for code in statuses}


COMMON = (400, 401, 402, 403, 413, 415, 429, 502, 503)


def _header(name: str, description: str, *, statuses) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        description=description,
        required=True,
        response=statuses,
    )


# The headers of every OCR answer (DESIGN.md §5, §6): documented, so clients and
# schemathesis' response_headers_conformance know them. A refused key (401, 403) gets
# the first two only; every answer of an accepted key gets them all.
OCR_ANSWER_HEADERS = [
    _header("X-Request-Id", "req_…, also in the request log", statuses=True),
    _header("X-Cost-Usd", "What this request was charged, in USD", statuses=True),
    _header("X-Credits-Remaining-Usd", "The tenant's balance after it", statuses=[200]),
    _header("RateLimit-Policy", '`"rpm";q=<limit>;w=60`', statuses=[200]),
    _header("RateLimit", '`"rpm";r=<remaining>;t=<seconds to reset>`', statuses=[200]),
    _header("X-RateLimit-Limit", "Requests per minute allowed", statuses=[200]),
    _header("X-RateLimit-Remaining", "Requests left in this minute", statuses=[200]),
    _header("X-RateLimit-Reset", "Seconds until the minute resets", statuses=[200]),
]

anyrouter_request = inline_serializer(
    "AnyRouterExtract",
    {
        "image": s.CharField(
            help_text="Base64 image bytes or a data URL (JSON), or a file "
            "in multipart field `image`"
        ),
        "filename": s.CharField(required=False, help_text="Defaults to image.png"),
    },
)
anyrouter_response = inline_serializer(
    "AnyRouterExtractResponse",
    {
        "text": s.CharField(),
        "format": s.ChoiceField(choices=["markdown"]),
        "model": s.CharField(help_text="The model that really ran"),
        "tokens": s.IntegerField(help_text="Provider tokens, else ceil(len(text) / 4)"),
    },
)

_block = inline_serializer(
    "DocsRouterBlock",
    many=True,
    fields={
        "type": s.CharField(),
        "content": s.CharField(),
        "page": s.IntegerField(help_text="1-based page number"),
        "bbox": s.ListField(child=s.FloatField(), help_text="[x0, y0, x1, y1] in pixels"),
        "confidence": s.FloatField(help_text="0-100"),
    },
)
v1_ocr_request = inline_serializer(
    "V1Ocr",
    {
        "url": s.CharField(required=False, help_text="DocsRouter: http(s) or data: URL"),
        "base64": s.CharField(required=False, help_text="DocsRouter: base64 document"),
        "model": s.CharField(required=False, allow_null=True),
        "options": inline_serializer(
            "DocsRouterOptions",
            {
                "extract_tables": s.BooleanField(required=False),
                "language": s.CharField(required=False),
                "output_format": s.ChoiceField(
                    choices=["text", "json", "markdown"], required=False
                ),
            },
            required=False,
        ),
        "document": s.JSONField(
            required=False,
            help_text="Mistral OCR: {type: document_url, document_url} or {type: image_url, "
            "image_url}. A body with `document` is a Mistral OCR request.",
        ),
        "pages": s.JSONField(required=False, help_text="Mistral: [0, 2] or '0,2-4' (0-based)"),
        "include_image_base64": s.BooleanField(required=False, allow_null=True),
        "table_format": s.ChoiceField(choices=["markdown", "html"], required=False),
        "include_blocks": s.BooleanField(required=False),
        "confidence_scores_granularity": s.ChoiceField(
            choices=["word", "page", "block"], required=False
        ),
        "extract_header": s.BooleanField(required=False),
        "extract_footer": s.BooleanField(required=False),
    },
)
docsrouter_response = inline_serializer(
    "DocsRouterOcrResponse",
    {
        "id": s.CharField(help_text="req_…"),
        "object": s.ChoiceField(choices=["ocr.result"]),
        "created": s.IntegerField(),
        "model": s.CharField(),
        "result": inline_serializer(
            "DocsRouterResult",
            {
                "text": s.CharField(),
                "blocks": _block,
                "tables": s.JSONField(
                    required=False,
                    help_text="[{headers, rows}]: only with options.extract_tables",
                ),
                "confidence": s.FloatField(help_text="0-100"),
                "language": s.CharField(help_text="ISO 639-1"),
            },
        ),
        "usage": inline_serializer(
            "DocsRouterUsage",
            {
                "pages_processed": s.IntegerField(),
                "tokens_used": s.IntegerField(),
                # JSON numbers, as in the seed (exact: 1 cent = 10,000 micro-dollars).
                "provider_cost_cents": s.FloatField(),
                "platform_fee_cents": s.FloatField(),
                "total_cost_cents": s.FloatField(),
                "processing_time_ms": s.IntegerField(),
            },
        ),
    },
)

# Mistral's OCR response, as the `mistralai` SDK's models (mistralai/client/models/ocr*.py)
# type it; an upstream's extra fields pass through (additional properties are allowed).
_mistral_image = inline_serializer(
    "MistralOcrImage",
    {
        "id": s.CharField(),
        "top_left_x": s.IntegerField(allow_null=True),
        "top_left_y": s.IntegerField(allow_null=True),
        "bottom_right_x": s.IntegerField(allow_null=True),
        "bottom_right_y": s.IntegerField(allow_null=True),
        "image_base64": s.CharField(required=False, allow_null=True),
        "image_annotation": s.CharField(required=False, allow_null=True),
    },
    many=True,
)
_mistral_page = inline_serializer(
    "MistralOcrPage",
    {
        "index": s.IntegerField(),
        "markdown": s.CharField(),
        "images": _mistral_image,
        "dimensions": inline_serializer(
            "MistralOcrPageDimensions",
            {"dpi": s.IntegerField(), "height": s.IntegerField(), "width": s.IntegerField()},
            allow_null=True,
        ),
        "tables": inline_serializer(
            "MistralOcrTable",
            {
                "id": s.CharField(),
                "content": s.CharField(),
                "format": s.CharField(help_text="markdown or html, as table_format asked"),
                "word_confidence_scores": s.JSONField(required=False, allow_null=True),
            },
            many=True,
            required=False,
        ),
        "hyperlinks": s.ListField(child=s.CharField(), required=False),
        "header": s.CharField(required=False, allow_null=True),
        "footer": s.CharField(required=False, allow_null=True),
        "confidence_scores": s.JSONField(required=False, allow_null=True),
        "blocks": s.JSONField(
            required=False,
            allow_null=True,
            help_text="[{type, top_left_x, top_left_y, bottom_right_x, bottom_right_y, content}]",
        ),
    },
    many=True,
)
mistral_response = inline_serializer(
    "MistralOcrResponse",
    {
        "pages": _mistral_page,
        "model": s.CharField(),
        "usage_info": inline_serializer(
            "MistralOcrUsage",
            {
                "pages_processed": s.IntegerField(),
                "doc_size_bytes": s.IntegerField(required=False, allow_null=True),
            },
        ),
        "document_annotation": s.CharField(required=False, allow_null=True),
        "text": s.CharField(help_text="All pages' markdown"),
    },
)
# One path, two answers: DocsRouter's for a body with `url`/`base64`, Mistral's for one
# with `document` (one component holding both made every real answer invalid).
v1_ocr_response = PolymorphicProxySerializer(
    component_name="V1OcrResponse",
    serializers=[docsrouter_response, mistral_response],
    resource_type_field_name=None,
)

invoice_request = inline_serializer(
    "Invoice",
    {
        "imageBase64": s.CharField(required=False),
        "mimeType": s.CharField(required=False),
        "pdfUrl": s.CharField(required=False),
        "pdfBase64": s.CharField(required=False),
        "model": s.CharField(required=False),
        "plugins": s.JSONField(
            required=False,
            help_text="[{id: file-parser, config: {engine: pdf-text|mistral-ocr|native|"
            "local-ocr}}]",
        ),
        "annotations": s.JSONField(required=False),
    },
)
_money = s.CharField(allow_null=True, help_text="Decimal string")
invoice_response = inline_serializer(
    "InvoiceResponse",
    {
        "data": inline_serializer(
            "InvoiceData",
            {
                "vendor": inline_serializer(
                    "InvoiceVendor",
                    {
                        "name": s.CharField(allow_null=True),
                        "address": s.CharField(allow_null=True),
                        "tax_id": s.CharField(allow_null=True),
                    },
                ),
                "invoice_number": s.CharField(allow_null=True),
                "invoice_date": s.DateField(allow_null=True),
                "due_date": s.DateField(allow_null=True),
                "currency": s.CharField(allow_null=True),
                "subtotal": _money,
                "tax": _money,
                "total": _money,
                "line_items": inline_serializer(
                    "InvoiceLineItem",
                    {
                        "description": s.CharField(allow_null=True),
                        "quantity": _money,
                        "unit_price": _money,
                        "amount": _money,
                    },
                    many=True,
                ),
                "bill_to": s.CharField(allow_null=True),
            },
        ),
        "text": s.CharField(),
        "model": s.CharField(),
        "annotations": s.JSONField(),
        "usage": s.JSONField(),
    },
)

upload_request = inline_serializer("Upload", {"file": s.FileField()})
upload_response = inline_serializer(
    "UploadResponse",
    {
        "key": s.CharField(help_text="ocr/<tenant public id>/<filename>"),
        "fileUrl": s.CharField(),
        "size": s.IntegerField(),
        "contentType": s.CharField(),
    },
)
process_request = inline_serializer("Process", {"key": s.CharField()})
process_response = inline_serializer(
    "ProcessResponse",
    {
        "id": s.CharField(),
        "text": s.CharField(),
        "key": s.CharField(),
        "fileUrl": s.CharField(),
        "createdAt": s.DateTimeField(),
        "wordCount": s.IntegerField(),
        "tokensUsed": s.IntegerField(),
        "language": s.CharField(allow_null=True),
    },
)
seed_error = inline_serializer("SeedError", {"error": s.CharField()})

otoroshi_request = inline_serializer(
    "OtoroshiOcr",
    {
        "model": s.CharField(required=False),
        "document": s.JSONField(required=False),
        "document_url": s.CharField(required=False),
        "image_url": s.CharField(required=False),
        "image_base64": s.CharField(required=False),
        "document_base64": s.CharField(required=False),
        "content_type": s.CharField(required=False),
        "pages": s.ListField(child=s.IntegerField(), required=False),
        "pdf_password": s.CharField(required=False),
        "provider": s.CharField(required=False),
    },
)
otoroshi_response = inline_serializer(
    "OtoroshiOcrResponse",
    {
        "model": s.CharField(),
        "text": s.CharField(),
        "pages": inline_serializer(
            "OtoroshiPage", {"index": s.IntegerField(), "markdown": s.CharField()}, many=True
        ),
        "usage_info": inline_serializer("OtoroshiUsage", {"pages_processed": s.IntegerField()}),
    },
)

models_response = inline_serializer(
    "ModelList",
    {
        "data": inline_serializer(
            "ModelInfo",
            {
                "id": s.CharField(),
                "object": s.CharField(default="model"),
                "alias_of": s.CharField(
                    required=False, help_text="The model that answers this name (an alias)"
                ),
                "providers": s.JSONField(),
                "pricing": s.JSONField(
                    help_text="What the client pays, platform fee included (USD decimal strings)"
                ),
                "provider_pricing": s.JSONField(help_text="The provider's price list, no fee"),
            },
            many=True,
        ),
        "platform_fee": s.JSONField(help_text="percent and per_request_usd"),
    },
)

mistral_model_card = inline_serializer(
    "MistralModelCard",
    {
        "id": s.CharField(),
        "object": s.CharField(default="model"),
        "created": s.IntegerField(),
        "owned_by": s.CharField(help_text="The first provider serving the model"),
        "name": s.CharField(),
        "description": s.CharField(allow_null=True),
        "max_context_length": s.IntegerField(),
        "aliases": s.ListField(child=s.CharField()),
        "deprecation": s.DateTimeField(allow_null=True),
        "capabilities": s.JSONField(help_text="completion_chat, vision, ocr"),
        "type": s.CharField(default="base"),
    },
)
mistral_model_list = inline_serializer(
    "MistralModelList",
    {"object": s.CharField(default="list"), "data": mistral_model_card.__class__(many=True)},
)

# --- Mistral's files API (ocr/views_files.py) -------------------------------------------
file_upload = inline_serializer(
    "FileUpload",
    {
        "file": s.FileField(),
        "purpose": s.ChoiceField(choices=["ocr"], required=False),
        "expiry": s.IntegerField(
            required=False,
            min_value=1,
            max_value=24 * 365,
            help_text="Hours until the file is deleted",
        ),
    },
)
_file_fields = dict(
    id=s.UUIDField(),
    object=s.CharField(default="file"),
    bytes=s.IntegerField(),
    created_at=s.IntegerField(help_text="Unix seconds"),
    filename=s.CharField(),
    purpose=s.CharField(),
    sample_type=s.CharField(),
    source=s.CharField(),
    num_lines=s.IntegerField(allow_null=True),
    mimetype=s.CharField(),
    signature=s.CharField(allow_null=True),
    expires_at=s.IntegerField(allow_null=True),
    visibility=s.CharField(),
    deleted=s.BooleanField(required=False),
)
file_object = inline_serializer("FileObject", _file_fields)
file_list = inline_serializer(
    "FileList",
    {
        "data": inline_serializer("FileObject", _file_fields, many=True),
        "object": s.CharField(),
        "total": s.IntegerField(),
    },
)
file_deleted = inline_serializer(
    "FileDeleted", {"id": s.UUIDField(), "object": s.CharField(), "deleted": s.BooleanField()}
)
file_signed_url = inline_serializer("FileSignedUrl", {"url": s.URLField()})
