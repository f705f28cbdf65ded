"""The one OCR flow every dialect runs, once auth and the rate limit have passed.

intake (fetch or decode, sniff, open, select pages) -> route -> reserve the worst-case
price -> call the provider(s) -> settle to the actual price, or release on failure.
A request that fails after the reservation costs nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.ids import random_base62
from billing.durability import commit_without_waiting_for_disk
from billing.models import UsageRecord
from billing.pricing import Price, price_actual, price_worst_case, upstream_cost_compare
from billing.reservations import reservation_create, reservation_release, reservation_settle
from billing.selectors import credits_available_micros
from config.api import ApiError
from config.database import connection_check
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


@dataclass
class HeldOcr:
    """An OCR call that succeeded, its reservation still held: the caller settles it
    once what depends on the result has succeeded too, or gives it back."""

    request_id: str
    created: datetime
    result: OcrResult
    document: Document
    processing_ms: int
    reservation: object
    price: Price
    usage: dict
    started: float

    def settle(self) -> OcrOutcome:
        record = reservation_settle(
            reservation=self.reservation, price=self.price, usage=self.usage
        )
        organization = self.usage["organization"]
        return OcrOutcome(
            request_id=self.request_id,
            created=self.created,
            result=self.result,
            document=self.document,
            processing_ms=self.processing_ms,
            # What was charged (settlement never exceeds the reservation).
            price=Price(record.provider_cost_micros, record.fee_micros, record.total_micros),
            usage=record,
            credits_remaining_micros=_available_after(record, organization),
        )

    def release(self, *, error: ApiError | None) -> None:
        """Nothing charged: what came after the call failed (recorded as its error)."""
        self.usage.update(
            error_code=error.code if error is not None else "internal_error",
            http_status=error.status if error is not None else 500,
            latency_ms=int((time.monotonic() - self.started) * 1000),
        )
        reservation_release(reservation=self.reservation, usage=self.usage)


def ocr_execute(*, api_key: ApiKey, ocr_request: OcrRequest, request_id: str) -> OcrOutcome:
    """The whole flow: the OCR call, then its settlement."""
    return ocr_execute_held(
        api_key=api_key, ocr_request=ocr_request, request_id=request_id
    ).settle()


def ocr_execute_held(
    *,
    api_key: ApiKey,
    ocr_request: OcrRequest,
    request_id: str,
    hold_also: Callable[[], object] | None = None,
) -> HeldOcr:
    """The OCR call with its reservation still held. `hold_also()` takes a second hold
    (a later step's worst case) in the same transaction as this one: both or neither."""
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
    connection_check()  # the intake may have taken a while (a URL fetch)
    candidates = route_candidates(model=ocr_request.model, provider_id=ocr_request.provider_id)
    pages = len(document.pages)
    # Failover may land on any candidate: hold the most expensive one's worst case.
    worst = max(
        (price_worst_case(model=c, pages=pages, organization=organization) for c in candidates),
        key=lambda price: price.total_micros,
    )
    if hold_also is None:
        reservation = reservation_create(
            api_key=api_key, amount_micros=worst.total_micros, request_id=request_id
        )
    else:
        # Taken one after the other, concurrent requests each held part of what they
        # need and refused one another the rest: fewer got through than the balance covers.
        with transaction.atomic():
            commit_without_waiting_for_disk()  # holds, not money
            reservation = reservation_create(
                api_key=api_key, amount_micros=worst.total_micros, request_id=request_id
            )
            hold_also()
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
            # The providers tried (route_call names them), so the log shows who failed.
            provider=getattr(error, "providers", ""),
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
    connection_check()  # the call may have taken minutes
    try:
        price = price_actual(
            model=served,
            pages=len(result.pages),
            input_tokens=result.input_tokens,
            output_tokens=result.output_tokens,
            organization=organization,
        )
        upstream_cost_compare(
            model=served,
            priced_micros=price.provider_cost_micros,
            reported_micros=result.provider_cost_micros,
        )
    except (ValueError, TypeError, OverflowError) as exc:
        # Counts no price can be made of (a provider's bug): the tenant pays nothing and
        # the hold is given back, as for any failed upstream call.
        usage.update(
            error_code="ocr_upstream_failed",
            http_status=502,
            latency_ms=int((time.monotonic() - started) * 1000),
        )
        reservation_release(reservation=reservation, usage=usage)
        logger.warning("provider answer could not be priced (request %s): %s", request_id, exc)
        raise ApiError(
            502, "ocr_upstream_failed", "The provider's answer reported an invalid usage."
        ) from None
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
    return HeldOcr(
        request_id=request_id,
        created=created,
        result=result,
        document=document,
        processing_ms=processing_ms,
        reservation=reservation,
        price=price,
        usage=usage,
        started=started,
    )
