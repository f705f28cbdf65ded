"""Seed 001, DocsRouter native OCR: `POST /v1/ocr` with `url` or `base64`.

Response: `{id, object: "ocr.result", created, model, result{text, blocks, tables,
confidence, language}, usage{...cents...}}`. Cents are exact decimals (1 cent = 10,000
micro-dollars), so a price below a cent shows as a fraction such as 0.1055, never 0.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from billing.money import micros_to_cents
from config.api import ApiError
from ocr.dialects.common import (
    MiB,
    decode_document,
    http_url,
    is_data_url,
    optional_bool,
    optional_object,
    optional_str,
    reported_language,
    size_check,
    strip_markdown,
)
from ocr.dialects.languages import UnknownLanguage, language_iso639_1
from ocr.types import DocumentSource, OcrRequest

DIALECT = "docsrouter"
MAX_BYTES = 20 * MiB
OUTPUT_FORMATS = ("text", "json", "markdown")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})?")


def parse_body(body: dict[str, Any]) -> OcrRequest:
    url = body.get("url")
    b64 = body.get("base64")
    if url in (None, "") and b64 in (None, ""):
        raise ApiError(400, "missing_image", "Either 'url' or 'base64' is required.")
    if url not in (None, "") and b64 not in (None, ""):
        raise ApiError(400, "invalid_request", "Give either 'url' or 'base64', not both.")
    if b64 not in (None, ""):
        if not isinstance(b64, str):
            raise ApiError(400, "invalid_base64", "'base64' must be a base64 string.")
        source = DocumentSource(data=decode_document(b64, field="base64", max_bytes=MAX_BYTES))
    else:
        if not isinstance(url, str):
            raise ApiError(400, "invalid_url", "'url' must be a string.")
        if is_data_url(url):
            source = DocumentSource(data=decode_document(url, field="url", max_bytes=MAX_BYTES))
        else:
            source = DocumentSource(url=http_url(url, field="url"))
    if source.data is not None:
        size_check(source.data, max_bytes=MAX_BYTES)

    options = optional_object(body, "options")
    output_format = optional_str(options, "output_format", label="options.output_format") or "text"
    if output_format not in OUTPUT_FORMATS:
        raise ApiError(
            400,
            "invalid_request",
            "'options.output_format' must be one of: " + ", ".join(OUTPUT_FORMATS) + ".",
        )
    language = optional_str(options, "language", max_len=20, label="options.language")
    if language is not None and language.lower() == "auto":
        language = None
    if language is not None:
        language = _language_hint(language)
    return OcrRequest(
        dialect=DIALECT,
        source=source,
        max_bytes=MAX_BYTES,
        model=optional_str(body, "model", max_len=200),
        language=language,
        extract_tables=optional_bool(options, "extract_tables", label="options.extract_tables"),
        options={"output_format": output_format},
    )


def _language_hint(value: str) -> str | None:
    bad = ApiError(
        400,
        "invalid_request",
        "'options.language' must be an ISO 639 language code, such as 'en', 'de' or 'pt-BR'.",
    )
    if not _LANGUAGE.fullmatch(value):
        raise bad
    try:
        return language_iso639_1(value)
    except UnknownLanguage:
        raise bad from None


def cents(micros: int) -> int | Decimal:
    """Exact cents; a whole number stays an integer in the JSON, a fraction a decimal."""
    value = micros_to_cents(micros)
    return int(value) if value == value.to_integral_value() else value


def _block(block, page_number: int) -> dict[str, Any]:
    return {
        "type": block.type,
        "content": block.content,
        "page": page_number,
        "bbox": [round(v, 1) for v in block.bbox] if block.bbox else None,
        "confidence": round(block.confidence * 100, 2) if block.confidence is not None else None,
    }


def render(outcome, ocr_request: OcrRequest) -> dict[str, Any]:
    result = outcome.result
    # `page` is 1-based: the page number a person reads, not the 0-based index.
    blocks = [_block(b, page.index + 1) for page in result.pages for b in page.blocks]
    output_format = ocr_request.options.get("output_format", "text")
    if output_format == "markdown":
        text = result.text
    elif output_format == "json":
        text = json.dumps(blocks, ensure_ascii=False)
    else:
        text = strip_markdown(result.text)
    body: dict[str, Any] = {
        "text": text,
        "blocks": blocks,
        # No text read is no confidence: 0, as the seed types it a number.
        "confidence": round((result.confidence or 0.0) * 100, 2),
        "language": reported_language(result.language, ocr_request.language),
    }
    if ocr_request.extract_tables:
        body["tables"] = [{"headers": t.headers, "rows": t.rows} for t in result.tables]
    price = outcome.price
    request_id = outcome.request_id
    return {
        "id": request_id if request_id.startswith("req_") else f"req_{request_id}",
        "object": "ocr.result",
        "created": int(outcome.created.timestamp()),
        "model": result.model,
        "result": body,
        "usage": {
            "pages_processed": len(result.pages),
            "tokens_used": result.tokens,
            "provider_cost_cents": cents(price.provider_cost_micros),
            "platform_fee_cents": cents(price.fee_micros),
            "total_cost_cents": cents(price.total_micros),
            "processing_time_ms": outcome.processing_ms,
        },
    }
