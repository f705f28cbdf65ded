"""The chat-model path of seed 002's structured extraction.

A configured `openai_compatible` model gets the document's text and the invoice JSON
schema as `response_format` (`json_schema`, strict), and answers the invoice object of
DESIGN.md §8. Its answer is checked and normalised (dates ISO 8601, amounts decimal
strings, missing fields null); an answer that is not valid JSON of that shape is asked
for once more, then reported as 502 `ocr_extraction_error`. Upstream failures go through
the same retries, failover and cool-down as OCR calls; when every provider failed the
answer is 502 `ocr_upstream_failed`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from config.api import ApiError
from config.parsers import json_loads_strict
from ocr.models import Provider, ProviderModel
from ocr.providers.base import SHAPE_ERRORS, UPSTREAM_FAILED, ProviderError
from ocr.providers.budget import UpstreamBudget
from ocr.providers.health import (
    provider_cooling_down,
    provider_failure_record,
    provider_success_record,
)
from ocr.providers.openai_compatible import OpenAICompatibleClient

logger = logging.getLogger(__name__)

# Invoices are short; a runaway OCR text must not become a huge (and costly) prompt.
MAX_TEXT_CHARS = 60_000
MAX_LINE_ITEMS = 500
ATTEMPTS_PER_PROVIDER = 2  # the answer, and one more try when it is not valid JSON

_NULLABLE_STRING = {"type": ["string", "null"]}
INVOICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "vendor",
        "invoice_number",
        "invoice_date",
        "due_date",
        "currency",
        "subtotal",
        "tax",
        "total",
        "line_items",
        "bill_to",
    ],
    "properties": {
        "vendor": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "address", "tax_id"],
            "properties": {
                "name": _NULLABLE_STRING,
                "address": _NULLABLE_STRING,
                "tax_id": _NULLABLE_STRING,
            },
        },
        "invoice_number": _NULLABLE_STRING,
        "invoice_date": {**_NULLABLE_STRING, "description": "ISO 8601 date, YYYY-MM-DD"},
        "due_date": {**_NULLABLE_STRING, "description": "ISO 8601 date, YYYY-MM-DD"},
        "currency": {**_NULLABLE_STRING, "description": "ISO 4217 code such as USD"},
        "subtotal": {**_NULLABLE_STRING, "description": "decimal string such as 1234.50"},
        "tax": {**_NULLABLE_STRING, "description": "decimal string"},
        "total": {**_NULLABLE_STRING, "description": "decimal string"},
        "line_items": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["description", "quantity", "unit_price", "amount"],
                "properties": {
                    "description": _NULLABLE_STRING,
                    "quantity": {**_NULLABLE_STRING, "description": "decimal string"},
                    "unit_price": {**_NULLABLE_STRING, "description": "decimal string"},
                    "amount": {**_NULLABLE_STRING, "description": "decimal string"},
                },
            },
        },
        "bill_to": _NULLABLE_STRING,
    },
}

INSTRUCTION = (
    "You extract invoice data from OCR text. Answer with one JSON object that matches the "
    "given schema. Use null for every field the text does not show; never invent values. "
    "Dates as YYYY-MM-DD. Amounts as plain decimal strings without currency symbols or "
    'thousands separators, such as "1234.50". currency as an ISO 4217 code.'
)


class InvalidAnswer(ValueError):
    pass


def invoice_extract_llm(
    *, text: str, model: ProviderModel | str, usage: dict[str, int] | None = None
) -> dict[str, Any]:
    """The invoice found in `text` by a chat model.

    `model` is a served model (or its public name: every openai_compatible provider
    serving it is a candidate, in priority order). When `usage` is given it is filled
    with `prompt_tokens`, `completion_tokens` (the output the upstream billed, reasoning
    included) and, if the upstream reported its own cost, `cost_micros`, summed over every
    call made. An answer cut off at the output limit or filtered is a failed call, as for
    OCR: not parsed, not asked for again from that provider.
    """
    usage = usage if usage is not None else {}
    usage.setdefault("prompt_tokens", 0)
    usage.setdefault("completion_tokens", 0)
    candidates = _candidates(model)
    messages = [
        {"role": "system", "content": INSTRUCTION},
        {"role": "user", "content": "OCR text of the document:\n\n" + text[:MAX_TEXT_CHARS]},
    ]
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "invoice", "strict": True, "schema": INVOICE_SCHEMA},
    }
    failures: list[str] = []
    # The extraction's upstream calls, retries and failover within one budget, as OCR's.
    budget = UpstreamBudget.from_settings()
    for candidate in candidates:
        slug = candidate.provider.slug
        if provider_cooling_down(slug=slug):
            failures.append(f"{slug}: skipped while cooling down")
            continue
        if budget.spent():
            failures.append(
                f"{slug}: not tried, the upstream time budget ({budget.seconds:g} s) ran out"
            )
            break
        client = OpenAICompatibleClient(candidate.provider)
        for attempt in range(ATTEMPTS_PER_PROVIDER):
            try:
                answer = client.chat(
                    model=candidate,
                    messages=messages,
                    extra={"response_format": response_format, "temperature": 0},
                    budget=budget,
                )
            except ProviderError as error:
                failures.append(error.message)
                if error.code == UPSTREAM_FAILED and error.provider_fault:
                    provider_failure_record(slug=slug)
                break
            provider_success_record(slug=slug)
            usage["prompt_tokens"] += answer.prompt_tokens
            usage["completion_tokens"] += answer.output_tokens
            if answer.cost_micros is not None:
                usage["cost_micros"] = usage.get("cost_micros", 0) + answer.cost_micros
            try:
                return invoice_normalize(_parsed(answer.content))
            except (InvalidAnswer, *SHAPE_ERRORS) as exc:
                logger.warning("model %s gave an invalid invoice (try %d): %s", slug, attempt, exc)
        else:
            raise ApiError(
                502,
                "ocr_extraction_error",
                f"The model {candidate.name!r} did not return a valid invoice object.",
            )
    raise ApiError(
        502,
        UPSTREAM_FAILED,
        "Every provider of the extraction model failed ("
        + ("; ".join(failures) or "none available")
        + ").",
    )


def _candidates(model: ProviderModel | str) -> list[ProviderModel]:
    if isinstance(model, ProviderModel):
        candidates = [model]
    else:
        from ocr.routing import route_candidates

        candidates = route_candidates(model=model, provider_id=None)
    chat = [c for c in candidates if c.provider.kind == Provider.Kind.OPENAI_COMPATIBLE]
    if not chat:
        name = model.name if isinstance(model, ProviderModel) else model
        raise ApiError(
            400,
            "invalid_model",
            f"Model {name!r} is not a chat model: extraction needs an OpenAI-compatible model.",
        )
    return chat


def _parsed(content: str) -> Any:
    stripped = content.strip()
    # Some models fence JSON even under a json_schema response format.
    fenced = re.match(r"^```(?:json)?\s*\n(.*)\n```$", stripped, re.S)
    if fenced:
        stripped = fenced.group(1)
    try:
        return json_loads_strict(stripped)
    except (ValueError, RecursionError) as exc:
        raise InvalidAnswer(f"not JSON: {type(exc).__name__}") from exc


def _string(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise InvalidAnswer(f"expected a string, got {type(value).__name__}")


def _amount(value: Any) -> str | None:
    """A decimal string, or None when the value is not an amount."""
    if value is None or isinstance(value, bool):
        return None
    raw = str(value).strip()
    raw = re.sub(r"^[A-Z]{3}\s*|^[$€£¥₹]\s*|\s*[A-Z]{3}$", "", raw).replace(",", "")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return format(amount, "f")


def _date(value: Any) -> str | None:
    text = _string(value)
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return None


def invoice_normalize(data: Any) -> dict[str, Any]:
    """The §8 invoice shape from a model's answer; raises InvalidAnswer when it is not one."""
    if not isinstance(data, dict):
        raise InvalidAnswer("the answer is not a JSON object")
    vendor = data.get("vendor") or {}
    if not isinstance(vendor, dict):
        raise InvalidAnswer("vendor is not an object")
    items = data.get("line_items") or []
    if not isinstance(items, list):
        raise InvalidAnswer("line_items is not a list")
    line_items = []
    for item in items[:MAX_LINE_ITEMS]:
        if not isinstance(item, dict):
            raise InvalidAnswer("a line item is not an object")
        line_items.append(
            {
                "description": _string(item.get("description")),
                "quantity": _amount(item.get("quantity")),
                "unit_price": _amount(item.get("unit_price")),
                "amount": _amount(item.get("amount")),
            }
        )
    currency = _string(data.get("currency"))
    return {
        "vendor": {
            "name": _string(vendor.get("name")),
            "address": _string(vendor.get("address")),
            "tax_id": _string(vendor.get("tax_id")),
        },
        "invoice_number": _string(data.get("invoice_number")),
        "invoice_date": _date(data.get("invoice_date")),
        "due_date": _date(data.get("due_date")),
        "currency": currency.upper() if currency and len(currency) == 3 else currency,
        "subtotal": _amount(data.get("subtotal")),
        "tax": _amount(data.get("tax")),
        "total": _amount(data.get("total")),
        "line_items": line_items,
        "bill_to": _string(data.get("bill_to")),
    }
