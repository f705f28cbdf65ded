"""The base view of every OCR endpoint: auth, rate limit, parse, pipeline, render.

A dialect subclasses `OcrEndpoint` and implements `parse` (HTTP request -> OcrRequest) and
`render` (outcome -> response body); a dialect with its own error envelope overrides
`render_error`. Nothing is parsed, fetched or decoded before auth and the rate limit pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import UsageRecord
from billing.money import micros_to_usd_str
from billing.ratelimit import RateLimitTicket, ratelimit_acquire
from billing.reservations import charge_refund
from billing.selectors import credits_available_micros
from config.api import DATABASE_UNAVAILABLE_ERRORS, ApiError, as_api_error, error_response
from config.parsers import SafeJSONParser
from keys.authentication import ApiKeyAuthentication, cached_key_check, require_key
from keys.models import ApiKey
from ocr.pipeline import OcrOutcome, ocr_execute, request_id_new
from ocr.providers.base import UPSTREAM_FAILED
from ocr.types import OcrRequest

logger = logging.getLogger(__name__)

# The code of a 200 that could not be rendered (refunded): the upstream-failure code of
# every dialect, which each renames to its own like any other.
ANSWER_FAILED = UPSTREAM_FAILED

# Base64 inflates by 4/3; JSON and multipart framing add a little.
BODY_OVERHEAD_BYTES = 64 * 1024


class JsonAnswers(DefaultContentNegotiation):
    """OCR endpoints answer JSON whatever the client's Accept header says (clients of the
    seeds send `*/*`, nothing or `text/plain`): no 406, and no Accept parsing per request."""

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type


class OcrEndpoint(APIView):
    content_negotiation_class = JsonAnswers
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [require_key(kind="api", scope="ocr")]
    parser_classes = [SafeJSONParser, MultiPartParser, FormParser]
    key_cache = True  # the key may come from the process cache (keys/cache.py)

    dialect: str = ""
    max_bytes: int = 20 * 1024 * 1024
    default_model: str | None = None
    too_large_code: str = "file_too_large"
    # Codes of the shared layers a dialect names its own way (same status, its code).
    error_codes: dict[str, str] = {}

    # --- what a dialect implements -------------------------------------------------
    def parse(self, request: Request) -> OcrRequest:
        raise NotImplementedError

    def render(self, request: Request, outcome: OcrOutcome) -> dict[str, Any]:
        raise NotImplementedError

    def render_error(self, error: ApiError) -> Response:
        return error_response(error)

    def get_max_bytes(self) -> int:
        return self.max_bytes

    # --- the flow ------------------------------------------------------------------
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.request_id = request_id_new()
        ticket = self.ratelimit_acquire(request)
        api_key: ApiKey = request.auth  # read again when the cached one was stale
        try:
            self.ticket = ticket
            self._check_content_length(request)
            ocr_request = self.parse(request)
            try:
                outcome = ocr_execute(
                    api_key=api_key, ocr_request=ocr_request, request_id=self.request_id
                )
            except ApiError as error:
                if error.status == 402:
                    ticket.refund()  # refused by one limit: uses up nothing of another
                raise
            response = self._answer(request, outcome)
            response["X-Cost-Usd"] = micros_to_usd_str(outcome.price.total_micros)
            response["X-Credits-Remaining-Usd"] = micros_to_usd_str(
                outcome.credits_remaining_micros
            )
            return response
        finally:
            ticket.release()

    def _answer(self, request: Request, outcome: OcrOutcome) -> Response:
        return self.rendered(request, lambda: self.render(request, outcome), [outcome.usage])

    def rendered(
        self, request: Request, build: Callable[[], dict[str, Any]], charged: list[UsageRecord]
    ) -> Response:
        """The 200 of `build()`, rendered here rather than on the way out: building or
        encoding it comes after the charges (`charged`), so when that fails (a value no
        JSON can hold, a renderer's bug) they are given back and the client gets the
        dialect's 502, not a 500 it paid for."""
        try:
            response = Response(build(), status=200)
            # What DRF's finalize_response would set (negotiated in initial()).
            response.accepted_renderer = request.accepted_renderer
            response.accepted_media_type = request.accepted_media_type
            response.renderer_context = self.get_renderer_context()
            response.render()
        except Exception:
            logger.exception("request %s: the answer could not be rendered", self.request_id)
            for record in charged:
                charge_refund(record=record, error_code=ANSWER_FAILED, http_status=502)
            raise ApiError(
                502,
                ANSWER_FAILED,
                "The OCR answer could not be built from the provider's result; "
                "nothing was charged.",
            ) from None
        return response

    def ratelimit_acquire(self, request: Request) -> RateLimitTicket:
        """The rate-limit slot, with the check that a key from the cache is still valid
        (keys/cache.py): after it, `request.auth` is the key to use."""
        return ratelimit_acquire(api_key=request.auth, key_check=cached_key_check(request))

    def _check_content_length(self, request: Request) -> None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = self.get_max_bytes()
        if length > limit * 4 // 3 + BODY_OVERHEAD_BYTES:
            raise self.too_large(limit)

    def too_large(self, limit: int) -> ApiError:
        return ApiError(
            413, self.too_large_code, f"The file exceeds the {_human_size(limit)} limit."
        )

    def handle_exception(self, exc: Exception) -> Response:
        error = as_api_error(exc)
        if error is None:
            return super().handle_exception(exc)
        renamed = {"file_too_large": self.too_large_code, **self.error_codes}
        error.code = renamed.get(error.code, error.code)
        response = self.render_error(error)
        for name, value in error.headers.items():
            response[name] = value
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["X-Request-Id"] = getattr(self, "request_id", None) or request_id_new()
        ticket: RateLimitTicket | None = getattr(self, "ticket", None)
        if ticket is not None:
            for name, value in ticket.headers().items():
                response.setdefault(name, value)
        if not response.has_header("X-Cost-Usd"):
            response["X-Cost-Usd"] = "0.000000"
            key = accepted_key(request, response)
            credits = credits_remaining_header(key) if key is not None else None
            if credits is not None:
                response["X-Credits-Remaining-Usd"] = credits
        return response


class FreeAnswerHeaders:
    """For views beside the OCR endpoints whose answers cost nothing (uploads, downloads,
    Mistral's files API): `X-Request-Id`, `X-Cost-Usd: 0.000000` and, for an accepted
    key, `X-Credits-Remaining-Usd`, as every OCR answer carries them."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response.setdefault("X-Request-Id", request_id_new())
        response.setdefault("X-Cost-Usd", "0.000000")
        key = accepted_key(request, response)
        if key is not None and not response.has_header("X-Credits-Remaining-Usd"):
            credits = credits_remaining_header(key)
            if credits is not None:
                response["X-Credits-Remaining-Usd"] = credits
        return response


def accepted_key(request, response) -> ApiKey | None:
    """The request's key, unless the answer refuses it: a refused key (a management key
    on an OCR endpoint, say) learns no balance from the headers."""
    if response.status_code in (401, 403) or not isinstance(request.auth, ApiKey):
        return None
    return request.auth


def credits_remaining_header(key: ApiKey) -> str | None:
    """X-Credits-Remaining-Usd for an answer that charged nothing; None when the database
    cannot say (the answer is then most likely its 503, which must not become a 500)."""
    try:
        return micros_to_usd_str(credits_available_micros(organization=key.organization))
    except DATABASE_UNAVAILABLE_ERRORS:
        return None


def _human_size(limit: int) -> str:
    mib = limit / (1024 * 1024)
    if mib == int(mib):
        return f"{int(mib)} MiB"
    return f"{limit / 1_000_000:g} MB"
