"""Seed 002, Invoice OCR structured v4: `POST /api/ocr-structured-v4`.

The document (`imageBase64` + `mimeType`, `pdfUrl`, `pdfBase64`, data URLs) is parsed to
text by the OCR pipeline (the `file-parser` step, billed like any OCR request), then the
structured invoice is extracted: by the requested chat model when an
`openai_compatible` provider serves it, else by the local rule-based extractor.
`annotations` from an earlier response carry the parsed text: the document is then not
parsed again and nothing is charged for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from billing.money import micros_to_usd_str
from config.api import ApiError
from ocr.dialects.common import (
    MiB,
    decode_document,
    http_url,
    is_data_url,
    optional_object,
    optional_str,
)
from ocr.extraction.rules import invoice_extract_rules
from ocr.models import Provider, ProviderModel
from ocr.routing import model_serving
from ocr.types import DocumentSource, OcrRequest

logger = logging.getLogger(__name__)

DIALECT = "invoice"
MAX_BYTES = 10 * MiB
PDF_ENGINES = ("pdf-text", "mistral-ocr", "native", "local-ocr")
RULES_MODEL = "local/invoice-rules"
MAX_ANNOTATION_PAGES = 1000
# The seed's validation errors have fixed messages, whichever step finds them (a fetched
# PDF over the limit is found by the fetcher, not by the parser).
SEED_MESSAGES = {
    "missing_input": "Missing image or PDF input",
    "invalid_base64": "Invalid base64 format",
    "file_too_large": "File too large",
    "invalid_model": "Invalid model ID",
}


@dataclass
class InvoiceRequest:
    model: str | None  # the extraction model asked for (None: the rule-based extractor)
    engine: str
    ocr_request: OcrRequest | None  # None when annotations carry the parsed text
    annotation_text: str | None = None
    annotation_pages: list[dict[str, Any]] = field(default_factory=list)


def _engine(body: dict[str, Any]) -> str:
    plugins = body.get("plugins")
    engine = settings.PDF_ENGINE
    if plugins is None:
        return engine
    if not isinstance(plugins, list) or len(plugins) > 20:
        raise ApiError(400, "invalid_request", "'plugins' must be an array of plugin objects.")
    for plugin in plugins:
        if not isinstance(plugin, dict):
            raise ApiError(400, "invalid_request", "Each plugin must be an object.")
        if plugin.get("id") != "file-parser":
            continue
        config = optional_object(plugin, "config")
        value = config.get(
            "engine",
            config.get("pdf", {}).get("engine") if isinstance(config.get("pdf"), dict) else None,
        )
        if value is None:
            continue
        if value not in PDF_ENGINES:
            raise ApiError(
                400,
                "invalid_request",
                f"Unknown PDF engine {str(value)[:40]!r}; use one of: {', '.join(PDF_ENGINES)}.",
            )
        engine = value
    return engine


def _annotations(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]] | None:
    annotations = body.get("annotations")
    if annotations is None:
        return None
    parser = annotations.get("file-parser") if isinstance(annotations, dict) else None
    output = parser.get("output") if isinstance(parser, dict) else None
    text = output.get("text") if isinstance(output, dict) else None
    if not isinstance(text, str):
        raise ApiError(
            400,
            "invalid_request",
            '\'annotations\' must be {"file-parser": {"output": {"text", "pages"}}} '
            "from an earlier response.",
        )
    pages = output.get("pages") or []
    if not isinstance(pages, list):
        raise ApiError(400, "invalid_request", "'annotations…output.pages' must be an array.")
    pages = [page for page in pages[:MAX_ANNOTATION_PAGES] if isinstance(page, dict)]
    return text, pages


def _source(body: dict[str, Any]) -> DocumentSource:
    image, pdf_b64, pdf_url = body.get("imageBase64"), body.get("pdfBase64"), body.get("pdfUrl")
    if all(value in (None, "") for value in (image, pdf_b64, pdf_url)):
        raise ApiError(400, "missing_input", "Missing image or PDF input")
    if image not in (None, ""):
        if not isinstance(image, str):
            raise ApiError(400, "invalid_base64", "Invalid base64 format")
        mime = optional_str(body, "mimeType", max_len=100) or "image/png"
        data = _decode(image)
        return DocumentSource(data=data, declared_media_type=mime)
    if pdf_b64 not in (None, ""):
        if not isinstance(pdf_b64, str):
            raise ApiError(400, "invalid_base64", "Invalid base64 format")
        return DocumentSource(data=_decode(pdf_b64), declared_media_type="application/pdf")
    if not isinstance(pdf_url, str):
        raise ApiError(400, "invalid_url", "'pdfUrl' must be a URL.")
    if is_data_url(pdf_url):
        return DocumentSource(data=_decode(pdf_url), declared_media_type="application/pdf")
    return DocumentSource(url=http_url(pdf_url, field="pdfUrl"))


def _decode(value: str) -> bytes:
    try:
        return decode_document(value, field="base64", max_bytes=MAX_BYTES)
    except ApiError as error:
        if error.status == 413:
            raise ApiError(413, "file_too_large", "File too large") from None
        raise ApiError(400, "invalid_base64", "Invalid base64 format") from None


def provider_kind_of(model: str) -> str | None:
    """The kind of the first available provider answering `model`, its alias counted
    (None: nothing here answers it)."""
    row = model_serving(model)
    return row.provider.kind if row else None


MISTRAL_OCR_MODEL = "mistral-ocr-latest"


def _mistral_model() -> str:
    """The model of the `mistral-ocr` engine: a Mistral provider's first model, else
    Mistral's own name as this platform answers it (OCR_MODEL_ALIASES: the local engine
    on a default install), as the seed's complete example expects it to run."""
    row = (
        ProviderModel.objects.filter(
            enabled=True, provider__enabled=True, provider__kind=Provider.Kind.MISTRAL
        )
        .order_by("provider__priority", "name")
        .first()
    )
    if row is not None:
        return row.name
    if model_serving(MISTRAL_OCR_MODEL) is None:
        raise ApiError(
            400,
            "engine_unavailable",
            f"The 'mistral-ocr' engine needs a Mistral provider or a model answering "
            f"{MISTRAL_OCR_MODEL!r}; neither is configured.",
        )
    return MISTRAL_OCR_MODEL


def parse_body(body: dict[str, Any]) -> InvoiceRequest:
    model = optional_str(body, "model", max_len=200)
    engine = _engine(body)
    kind = None
    if model is not None:
        kind = provider_kind_of(model)
        if kind is None and model != RULES_MODEL:
            raise ApiError(400, "invalid_model", "Invalid model ID", model=model)
    annotations = _annotations(body)
    if annotations is not None:
        # Parsed text from an earlier response: no input needed, nothing parsed or charged.
        return InvoiceRequest(
            model=model,
            engine=engine,
            ocr_request=None,
            annotation_text=annotations[0],
            annotation_pages=annotations[1],
        )
    source = _source(body)
    if engine == "mistral-ocr":
        ocr_model = _mistral_model()
    elif engine == "native":
        # The document goes to the requested model itself: a chat model reads it, an OCR
        # model (a seed model name answered by the local engine) OCRs it; no model, the
        # platform's default.
        ocr_model = model if kind is not None else None
    elif kind not in (None, Provider.Kind.OPENAI_COMPATIBLE):
        ocr_model = model  # an OCR model asked for by name parses the document itself
    elif kind == Provider.Kind.OPENAI_COMPATIBLE and body.get("imageBase64") not in (None, ""):
        # As on OpenRouter, an image goes to the vision model itself; PDFs follow the engine.
        ocr_model = model
    else:
        ocr_model = None  # the platform's default engine
    return InvoiceRequest(
        model=model,
        engine=engine,
        ocr_request=OcrRequest(
            dialect=DIALECT,
            source=source,
            max_bytes=MAX_BYTES,
            model=ocr_model,
            options={"pdf_engine": engine, "force_ocr": engine == "local-ocr"},
        ),
    )


# Worst case of one extraction, reserved before anything runs: the chat path sends at most
# 60,000 characters (about 20,000 tokens plus the instruction) and may ask twice.
LLM_WORST_INPUT_TOKENS = 2 * 22_000
LLM_WORST_OUTPUT_TOKENS = 2 * 8_000


def llm_model_for(model: str | None) -> ProviderModel | None:
    """The chat model that extracts, when `model` (or its alias) is served by an
    openai_compatible provider."""
    row = model_serving(model) if model is not None else None
    if row is None or row.provider.kind != Provider.Kind.OPENAI_COMPATIBLE:
        return None
    return row


def llm_reserve(*, api_key, served: ProviderModel, request_id: str):
    """Hold the extraction's worst case (with the parse's, in one transaction)."""
    from billing.pricing import price_actual
    from billing.reservations import reservation_create

    worst = price_actual(
        model=served,
        pages=0,
        input_tokens=LLM_WORST_INPUT_TOKENS,
        output_tokens=LLM_WORST_OUTPUT_TOKENS,
        organization=api_key.organization,
    )
    return reservation_create(
        api_key=api_key, amount_micros=worst.total_micros, request_id=request_id
    )


def llm_release(*, reservation, api_key, served: ProviderModel, error: ApiError | None) -> None:
    from billing.reservations import reservation_release

    reservation_release(
        reservation=reservation,
        usage=_llm_usage(
            api_key,
            served,
            error_code=error.code if error else "not_run",
            http_status=error.status if error else 0,
        ),
    )


def _llm_usage(api_key, served: ProviderModel, **fields) -> dict[str, Any]:
    return {
        "organization": api_key.organization,
        "api_key": api_key,
        "dialect": DIALECT,
        "model": served.name,
        "provider": served.provider.slug,
        "pages": 0,
        **fields,
    }


def llm_extract(*, reservation, api_key, served: ProviderModel, text: str):
    """(invoice, token usage, the settled UsageRecord) through the chat model, settled to
    its cost."""
    import time

    from billing.pricing import price_actual, upstream_cost_compare
    from billing.reservations import reservation_settle
    from ocr.extraction.llm import invoice_extract_llm

    started = time.monotonic()
    usage: dict[str, int] = {}
    try:
        data = invoice_extract_llm(text=text, model=served.name, usage=usage)
    except ApiError as error:
        llm_release(reservation=reservation, api_key=api_key, served=served, error=error)
        raise
    except Exception as exc:  # a bug of ours or an answer no handler foresaw
        failed = ApiError(502, "ocr_extraction_error", "The extraction failed.")
        llm_release(reservation=reservation, api_key=api_key, served=served, error=failed)
        logger.exception("invoice extraction failed unexpectedly")
        raise failed from exc
    except BaseException:
        llm_release(reservation=reservation, api_key=api_key, served=served, error=None)
        raise
    try:
        price = price_actual(
            model=served,
            pages=0,
            input_tokens=usage.get("prompt_tokens", 0),
            output_tokens=usage.get("completion_tokens", 0),
            organization=api_key.organization,
        )
        upstream_cost_compare(
            model=served,
            priced_micros=price.provider_cost_micros,
            reported_micros=usage.get("cost_micros"),
        )
    except (ValueError, TypeError, OverflowError):
        failed = ApiError(
            502, "ocr_upstream_failed", "The chat model's answer reported an invalid usage."
        )
        llm_release(reservation=reservation, api_key=api_key, served=served, error=failed)
        raise failed from None
    record = reservation_settle(
        reservation=reservation,
        price=price,
        usage=_llm_usage(
            api_key,
            served,
            input_tokens=usage.get("prompt_tokens", 0),
            output_tokens=usage.get("completion_tokens", 0),
            latency_ms=int((time.monotonic() - started) * 1000),
            http_status=200,
        ),
    )
    return data, usage, record


def extract_rules(*, text: str) -> tuple[dict[str, Any], str, dict[str, int]]:
    return invoice_extract_rules(text=text), RULES_MODEL, {}


def render(
    *,
    invoice_request: InvoiceRequest,
    outcome,
    data: dict[str, Any],
    model: str,
    usage,
    cost_micros: int,
) -> dict[str, Any]:
    if outcome is not None:
        text = outcome.result.text
        pages = [{"index": p.index, "text": p.markdown} for p in outcome.result.pages]
    else:
        text = invoice_request.annotation_text or ""
        pages = invoice_request.annotation_pages
    prompt = int(usage.get("prompt_tokens", 0) or 0)
    completion = int(usage.get("completion_tokens", 0) or 0)
    body_usage: dict[str, Any] = {
        "pages_processed": len(outcome.result.pages) if outcome is not None else 0,
        "ocr_model": outcome.result.model if outcome is not None else None,
        "file_parser_reused": outcome is None,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost_usd": micros_to_usd_str(cost_micros),
    }
    return {
        "data": data,
        "text": text,
        "model": model,
        "annotations": {"file-parser": {"output": {"text": text, "pages": pages}}},
        "usage": body_usage,
    }
