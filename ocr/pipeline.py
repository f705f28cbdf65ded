"""The one OCR flow every dialect runs, once auth and the rate limit have passed.

intake (fetch or decode, sniff, open, select pages) -> route -> reserve the worst-case
price -> call the provider(s) -> settle to the actual price, or release on failure.
A request that fails after the reservation costs nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from accounts.ids import random_base62
from billing.models import UsageRecord
from billing.pricing import Price, price_actual, price_worst_case
from billing.reservations import reservation_create, reservation_release, reservation_settle
from billing.selectors import credits_available_micros
from config.api import ApiError
from keys.models import ApiKey
from ocr.intake.document import Document, document_open
from ocr.intake.sources import source_load
from ocr.models import ProviderModel
from ocr.routing import route_call, route_candidates
from ocr.types import OcrRequest, OcrResult

logger = logging.getLogger(__name__)


@dataclass
class OcrOutcome:
    request_id: str
    created: datetime
    result: OcrResult
    document: Document
    price: Price
    usage: UsageRecord
    processing_ms: int
    credits_remaining_micros: int


def request_id_new() -> str:
    return f"req_{random_base62(24)}"


def _served_model(candidates: list[ProviderModel], result: OcrResult) -> ProviderModel:
    for candidate in candidates:
        if candidate.provider.slug == result.provider:
            return candidate
    return candidates[0]


def _available_after(record: UsageRecord, organization) -> int:
    """Balance minus holds right after settlement; the settle statement reports it."""
    available = getattr(record, "available_after_micros", None)
    if available is None:
        return credits_available_micros(organization=organization)
    return available


def ocr_execute(*, api_key: ApiKey, ocr_request: OcrRequest, request_id: str) -> OcrOutcome:
    started = time.monotonic()
    created = timezone.now()
    organization = api_key.organization

    data, fetched_name = source_load(
        ocr_request.source, max_bytes=ocr_request.max_bytes, organization=organization
    )
    document = document_open(
        data=data,
        filename=ocr_request.source.filename or fetched_name,
        password=ocr_request.password,
        pages=ocr_request.pages,
    )
    candidates = route_candidates(model=ocr_request.model, provider_id=ocr_request.provider_id)
    pages = len(document.pages)
    # Failover may land on any candidate: hold the most expensive one's worst case.
    worst = max(
        (price_worst_case(model=c, pages=pages, organization=organization) for c in candidates),
        key=lambda price: price.total_micros,
    )
    reservation = reservation_create(
        api_key=api_key, amount_micros=worst.total_micros, request_id=request_id
    )
    usage = {
        "organization": organization,
        "api_key": api_key,
        "dialect": ocr_request.dialect,
        "model": ocr_request.model or candidates[0].name,
        "provider": "",
        "pages": 0,
    }
    try:
        result = route_call(candidates=candidates, document=document, request=ocr_request)
    except ApiError as error:
        usage.update(
            error_code=error.code,
            http_status=error.status,
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        reservation_release(reservation=reservation, usage=usage)
        raise
    except BaseException:
        usage.update(
            error_code="internal_error",
            http_status=500,
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        reservation_release(reservation=reservation, usage=usage)
        logger.exception("OCR call failed unexpectedly (request %s)", request_id)
        raise

    served = _served_model(candidates, result)
    price = price_actual(
        model=served,
        pages=len(result.pages),
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        upstream_cost_micros=result.provider_cost_micros,
        organization=organization,
    )
    processing_ms = int((time.monotonic() - started) * 1000)
    usage.update(
        model=result.model or served.name,
        provider=result.provider or served.provider.slug,
        pages=len(result.pages),
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        latency_ms=processing_ms,
        upstream_latency_ms=result.upstream_latency_ms,
        http_status=200,
    )
    record = reservation_settle(reservation=reservation, price=price, usage=usage)
    return OcrOutcome(
        request_id=request_id,
        created=created,
        result=result,
        document=document,
        # What was charged (settlement never exceeds the reservation).
        price=Price(record.provider_cost_micros, record.fee_micros, record.total_micros),
        usage=record,
        processing_ms=processing_ms,
        credits_remaining_micros=_available_after(record, organization),
    )
