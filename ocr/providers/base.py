"""The one small base class every upstream kind builds on, and its error type.

A `ProviderClient` wraps one configured `Provider`. Kinds implement `ocr()`; the base gives
them `request_json()`, an HTTP call with explicit timeouts, an overall deadline (a slow
body cannot hold a worker forever), a response size cap, retries with backoff on
timeouts, connection errors, 408, 429 and 5xx (never on other 4xx), all within the
request's upstream budget (budget.py), and error messages that never carry the operator's
secret.
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
import random
import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings

from config.parsers import json_loads_strict
from ocr.models import Provider, ProviderModel
from ocr.providers.budget import UpstreamBudget
from ocr.providers.transport import StdlibTransport
from ocr.secret_names import secret_env_allowed
from ocr.types import OcrRequest, OcrResult

logger = logging.getLogger(__name__)

UPSTREAM_FAILED = "ocr_upstream_failed"
EXTRACTION_ERROR = "ocr_extraction_error"

# An OCR answer is text; anything far bigger is a broken or hostile upstream.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# Longest wait we honour from an upstream's Retry-After before trying again.
MAX_RETRY_AFTER_S = 5.0
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
# More tokens than any one upstream answer can use (the largest context windows hold
# about 2 million): a count above it is a broken answer, not a charge to pass on. Priced,
# it would bill the tenant the whole reservation for one page.
MAX_TOKENS_PER_ANSWER = 10_000_000


# What mapping an upstream's JSON of the wrong shape raises (a string where an object
# was due, a list for a number, nesting too deep, Infinity into int): a broken answer,
# reported as such (shape_error), never an "internal error" with a traceback.
SHAPE_ERRORS = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    ArithmeticError,
    AttributeError,
    RecursionError,
)


class ProviderError(Exception):
    """A provider call failed. `permanent` errors are not retried against that provider.

    `code` is `ocr_extraction_error` when the document itself could not be read (another
    provider may still manage), `ocr_upstream_failed` otherwise. `message` is safe to show;
    `detail` (for logs) may hold a scrubbed excerpt of the upstream's body.
    `provider_fault` is False when the failure says nothing about the provider's health
    (the model's answer to this document was cut off or filtered): it then does not count
    towards the provider's cool-down, which a tenant's documents must not be able to trip.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        code: str = UPSTREAM_FAILED,
        status: int | None = None,
        detail: str = "",
        retry_after: float | None = None,
        provider_fault: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.status = status
        self.detail = detail
        self.retry_after = retry_after
        self.provider_fault = provider_fault


# One pooled transport per process: keep-alive connections to upstreams are reused.
# Calls go to the transport directly: httpx's Client layer (cookies, auth flows,
# redirects, URL merging, none of which an upstream call uses) cost as much CPU as the
# exchange itself. No proxy from the environment either: which way an upstream call
# goes is not decided by whatever variables happen to be in the worker's environment.
_transport = StdlibTransport(max_idle=64)


@functools.lru_cache(maxsize=256)
def _parsed_url(url: str) -> httpx.URL:
    # httpx parses URLs in Python; a provider's few endpoints are parsed once.
    return httpx.URL(url)


class ProviderClient:
    """Base of every upstream kind. `provider` is the configured row."""

    kind = ""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    # --- what a kind implements ------------------------------------------------------
    def ocr(
        self,
        document,
        *,
        model: ProviderModel,
        request: OcrRequest,
        budget: UpstreamBudget | None = None,
    ) -> OcrResult:
        """The document read by this provider, every upstream call within `budget` (a
        fresh one of OCR_UPSTREAM_BUDGET_S when None)."""
        raise NotImplementedError

    def available(self, *, model: ProviderModel | None = None) -> bool:
        """False when the provider's secret variable is named but not set."""
        if self.provider.secret_env:
            return bool(self.secret())
        return True

    # --- helpers for kinds -----------------------------------------------------------
    @property
    def slug(self) -> str:
        return self.provider.slug

    def secret(self) -> str:
        """The value of the provider's secret variable; never one of the platform's own
        (ocr/secret_names.py), whatever the row says."""
        name = self.provider.secret_env
        if not name or not secret_env_allowed(name):
            return ""
        return os.environ.get(name, "")

    def url(self, path: str) -> str:
        return self.provider.base_url.rstrip("/") + path

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "ocr-gateway/1"}
        secret = self.secret()
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        return headers

    def scrub(self, text: str) -> str:
        """Remove the secret (and anything that looks like a bearer token) from text."""
        secret = self.secret()
        if secret:
            text = text.replace(secret, "[redacted]")
        return _BEARER.sub(r"\1[redacted]", text)

    def scrub_bytes(self, body: bytes) -> bytes:
        """An upstream's answer without the secret. A 200 is passed on to the tenant (a
        Mistral answer as written, a model's text), and an upstream that echoes the request
        (a debugging proxy, a model asked to) would hand them the operator's key."""
        secret = self.secret().encode()
        if secret and secret in body:
            body = body.replace(secret, b"[redacted]")
        return body

    def timeout(self) -> httpx.Timeout:
        total = max(0.05, float(self.provider.timeout_s or 60.0))
        return httpx.Timeout(connect=min(10.0, total), read=total, write=total, pool=total)

    def request_json(
        self,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
        data: dict[str, str] | None = None,
        answer: Callable[[dict[str, Any]], Any] | None = None,
        budget: UpstreamBudget | None = None,
    ) -> tuple[Any, int]:
        """POST to the upstream and return (parsed JSON body, latency in ms of the last try).

        `answer`, when given, maps the parsed body and its result is returned instead: a
        body it cannot map (SHAPE_ERRORS) or a transient `ProviderError` it raises is
        retried like any other broken answer; a permanent one is raised at once.
        Retries transient failures with exponential backoff and jitter; raises
        `ProviderError` when the attempts are exhausted or the failure is permanent.
        No try starts once `budget` is spent or stopped, and each try's timeout is cut
        to what is left of it.
        """
        budget = budget or UpstreamBudget.from_settings()
        retries = int(getattr(settings, "OCR_PROVIDER_RETRIES", 2))
        error: ProviderError | None = None
        faulted = False  # whether a failure here says the provider is unwell
        for attempt in range(retries + 1):
            if attempt:
                faulted = faulted or (error is not None and error.provider_fault)
                if not self._backoff(attempt, error, budget):
                    raise self._out_of_time(error, budget, faulted=faulted)
            if budget.stopped or budget.spent():
                raise self._out_of_time(error, budget, faulted=faulted)
            started = time.monotonic()
            limit_s = budget.remaining()
            try:
                status, response_headers, body = self._post(
                    path, json_body=json_body, files=files, data=data, limit_s=limit_s
                )
            except httpx.TimeoutException:
                # A try the budget left less than the provider's timeout says nothing
                # about the provider's health.
                error = ProviderError(
                    f"{self.slug}: the upstream timed out",
                    permanent=False,
                    provider_fault=limit_s >= self.timeout().read,
                )
                continue
            except httpx.DecodingError:  # a Content-Encoding its body does not have
                error = ProviderError(
                    f"{self.slug}: the upstream's answer could not be decoded", permanent=False
                )
                continue
            except httpx.TransportError as exc:
                error = ProviderError(
                    f"{self.slug}: could not reach the upstream ({type(exc).__name__})",
                    permanent=False,
                    detail=self.scrub(str(exc)),
                )
                continue
            latency_ms = int((time.monotonic() - started) * 1000)
            body = self.scrub_bytes(body)
            if status < 300:
                try:
                    # NaN and Infinity are not JSON: taken in, they broke the response
                    # to the client after it had been charged.
                    parsed = json_loads_strict(body)
                except (ValueError, RecursionError):
                    error = ProviderError(
                        f"{self.slug}: the upstream answered with invalid JSON",
                        permanent=False,
                        status=status,
                        detail=self.scrub(body[:300].decode("utf-8", "replace")),
                    )
                    continue
                if not isinstance(parsed, dict):
                    error = ProviderError(
                        f"{self.slug}: the upstream answered with an unexpected JSON shape",
                        permanent=False,
                        status=status,
                    )
                    continue
                if answer is None:
                    return parsed, latency_ms
                try:
                    return answer(parsed), latency_ms
                except SHAPE_ERRORS as exc:
                    error = shape_error(self, exc)
                    continue
                except ProviderError as exc:
                    if exc.permanent:
                        raise
                    error = exc
                    continue
            # A redirect is not followed (its target was never checked): a failure.
            transient = status in (408, 429) or status >= 500
            error = ProviderError(
                f"{self.slug}: the upstream answered HTTP {status}",
                permanent=not transient,
                status=status,
                detail=self.scrub(body[:500].decode("utf-8", "replace")),
                retry_after=_retry_after_s(response_headers.get("retry-after")),
            )
            if not transient:
                break
        assert error is not None
        error.provider_fault = error.provider_fault or faulted
        logger.warning("provider %s failed: %s %s", self.slug, error.message, error.detail)
        raise error

    def _post(
        self,
        path: str,
        *,
        json_body: dict[str, Any] | None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None,
        data: dict[str, str] | None,
        limit_s: float,
    ) -> tuple[int, httpx.Headers, bytes]:
        timeout = self.timeout()
        # httpx's read timeout is per socket read; a body that trickles in would never
        # trip it, so the whole exchange also has a deadline, within the request's budget.
        allowed = min(self._attempt_s(), limit_s)
        deadline = time.monotonic() + allowed
        timeout = httpx.Timeout(
            connect=min(timeout.connect, allowed),
            read=min(timeout.read, allowed),
            write=min(timeout.write, allowed),
            pool=min(timeout.pool, allowed),
        )
        request = httpx.Request(
            "POST",
            _parsed_url(self.url(path)),
            headers=self.headers(),
            json=json_body,
            files=files,
            data=data,
            extensions={"timeout": timeout.as_dict(), "deadline": deadline},
        )
        response = _transport.handle_request(request)
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise ProviderError(
                        f"{self.slug}: the upstream response is too large", permanent=False
                    )
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("response body too slow")
                chunks.append(chunk)
            return response.status_code, response.headers, b"".join(chunks)
        finally:
            response.close()

    def _attempt_s(self) -> float:
        """One try's whole allowance: the read timeout plus the connect allowance."""
        timeout = self.timeout()
        return timeout.read + timeout.connect

    def _backoff(self, attempt: int, error: ProviderError | None, budget: UpstreamBudget) -> bool:
        """Wait before a retry; False when the budget would not outlast the wait, or the
        call was stopped meanwhile."""
        base = float(getattr(settings, "OCR_PROVIDER_BACKOFF_S", 0.25))
        delay = base * (2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        if error is not None and error.retry_after is not None:
            delay = max(delay, min(error.retry_after, MAX_RETRY_AFTER_S))
        return budget.wait(delay)

    def _out_of_time(
        self, error: ProviderError | None, budget: UpstreamBudget, *, faulted: bool
    ) -> ProviderError:
        """The failure of a call that may not try (again): its budget is spent, or
        another page of the call failed for good (`budget.stopped`)."""
        if budget.stopped:
            return ProviderError(
                f"{self.slug}: not sent, another page of the document failed",
                permanent=True,
                provider_fault=False,
            )
        last = f" (last try: {error.message.removeprefix(self.slug + ': ')})" if error else ""
        failure = ProviderError(
            f"{self.slug}: the request's upstream time budget ({budget.seconds:g} s) ran out"
            + last,
            permanent=True,
            status=error.status if error else None,
            detail=error.detail if error else "",
            provider_fault=faulted or bool(error and error.provider_fault),
        )
        logger.warning("provider %s failed: %s %s", self.slug, failure.message, failure.detail)
        return failure


def _retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": no zone said; HTTP dates are GMT (RFC 9110 5.6.7)
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


def token_count(value: Any) -> int:
    """A token count an upstream reported: at least 0 (below is the upstream's error, not
    a credit), at most MAX_TOKENS_PER_ANSWER (above, ValueError: a broken answer)."""
    count = max(0, int(value or 0))
    if count > MAX_TOKENS_PER_ANSWER:
        raise ValueError(f"a token count of {count} is not plausible")
    return count


def shape_error(client: ProviderClient, exc: Exception) -> ProviderError:
    """The upstream answered 200 with JSON we cannot map: a broken upstream, not the doc."""
    return ProviderError(
        f"{client.slug}: the upstream response has an unexpected shape",
        permanent=False,
        detail=client.scrub(f"{type(exc).__name__}: {exc}"),
    )
