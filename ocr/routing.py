"""Which providers may serve a request, and calling them in order until one answers.

`route_candidates` reads the enabled providers and models from a per-process snapshot at
most `OCR_PROVIDER_CACHE_S` (2) seconds old, so a change made in the admin or by
`load_providers` reaches every worker within that time, without a restart. The snapshot
is one query for every enabled row; it saves the ORM's ~1.4 ms of CPU a request (about a
tenth of what the gateway spends per request, see docs/providers.md). Set 0 to query on
every request (the tests do).
`route_call` tries the candidates in priority order: each client retries its own transient
failures with backoff; a failed provider is failed over, counted towards its cool-down,
and skipped while cooling down. All of it within one upstream budget
(`OCR_UPSTREAM_BUDGET_S`, providers/budget.py): once it is spent no try, retry or
failover starts, and the request fails like any other whose providers all failed.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from config.api import ApiError
from ocr.models import ProviderModel
from ocr.providers import client_for
from ocr.providers.base import EXTRACTION_ERROR, UPSTREAM_FAILED, ProviderError
from ocr.providers.budget import UpstreamBudget
from ocr.providers.health import (
    provider_failure_record,
    provider_health_get,
    provider_success_record,
)
from ocr.types import OcrRequest, OcrResult

logger = logging.getLogger(__name__)


# (taken at, rows). Read-only once built: threads share it; a new list replaces it whole.
_snapshot: tuple[float, list[ProviderModel]] | None = None
clock = time.monotonic


def _enabled_models() -> list[ProviderModel]:
    """Enabled models of enabled providers, in priority order."""
    global _snapshot
    max_age = float(getattr(settings, "OCR_PROVIDER_CACHE_S", 0))
    now = clock()
    snapshot = _snapshot
    if max_age > 0 and snapshot is not None and 0 <= now - snapshot[0] < max_age:
        return snapshot[1]
    rows = list(
        ProviderModel.objects.filter(enabled=True, provider__enabled=True)
        .select_related("provider")
        .order_by("provider__priority", "provider__slug", "name")
    )
    _snapshot = (now, rows) if max_age > 0 else None
    return rows


def _available(rows: list[ProviderModel]) -> list[ProviderModel]:
    # A provider whose secret variable is unset is listed as unavailable, never called.
    return [row for row in rows if client_for(row.provider).available(model=row)]


def models_available() -> list[str]:
    """Public model names a client may ask for right now: those served, and the aliases
    (OCR_MODEL_ALIASES) whose model is served, as `GET /v1/models` lists them."""
    names = {row.name for row in _available(_enabled_models())}
    names |= {alias for alias, target in settings.OCR_MODEL_ALIASES.items() if target in names}
    return sorted(names)


def _serving(rows: list[ProviderModel], model: str) -> list[ProviderModel]:
    """The rows of `rows` serving `model`, else those serving its alias: a client's
    well-known model name nothing here serves is answered by its alias, and responses
    name the model that really ran."""
    candidates = _available([row for row in rows if row.name == model])
    alias = settings.OCR_MODEL_ALIASES.get(model)
    if not candidates and alias:
        candidates = _available([row for row in rows if row.name == alias])
    return candidates


def model_serving(model: str) -> ProviderModel | None:
    """The first available model row that would answer `model` (its alias counted)."""
    candidates = _serving(_enabled_models(), model)
    return candidates[0] if candidates else None


def route_candidates(*, model: str | None, provider_id: str | None) -> list[ProviderModel]:
    if provider_id:
        served = _available([r for r in _enabled_models() if r.provider.slug == provider_id])
        if not served:
            raise ApiError(
                400,
                "invalid_model",
                f"Unknown or unavailable provider {provider_id!r}.",
                valid_models=models_available(),
                valid_providers=sorted(
                    {row.provider.slug for row in _available(_enabled_models())}
                ),
            )
        if model is None:
            # `provider` alone (the 004 dialect): that provider's first model.
            model = served[0].name
        candidates = _serving(served, model)
    else:
        model = model or settings.OCR_DEFAULT_MODEL
        candidates = _serving(_enabled_models(), model)
    if not candidates:
        valid = models_available()
        where = f" on provider {provider_id!r}" if provider_id else ""
        raise ApiError(
            400,
            "invalid_model",
            f"Unknown or unavailable model {model!r}{where}. Valid models: {', '.join(valid)}.",
            valid_models=valid,
        )
    return candidates


def route_call(*, candidates: list[ProviderModel], document, request: OcrRequest) -> OcrResult:
    failures: list[ProviderError] = []
    skipped: list[str] = []
    tried: list[str] = []  # for the request log of a failed request
    budget = UpstreamBudget.from_settings()
    # One cache round trip for every candidate's health, read before the calls.
    health = provider_health_get(slugs=[c.provider.slug for c in candidates])
    for candidate in candidates:
        slug = candidate.provider.slug
        cooling, streak = health[slug]
        if cooling:
            skipped.append(slug)
            continue
        if budget.spent():
            failures.append(
                ProviderError(
                    f"{slug}: not tried, the request's upstream time budget "
                    f"({budget.seconds:g} s) ran out",
                    permanent=True,
                )
            )
            break
        tried.append(slug)
        try:
            client = client_for(candidate.provider)
            result = client.ocr(document, model=candidate, request=request, budget=budget)
        except ProviderError as error:
            failures.append(error)
            logger.warning("provider %s failed for %s: %s", slug, candidate.name, error.message)
            # A document no provider can read (or a page too dense for the model's output
            # limit) says nothing about the provider's health.
            counts = error.code != EXTRACTION_ERROR and error.provider_fault
            if counts and provider_failure_record(slug=slug):
                logger.warning("provider %s is cooling down after repeated failures", slug)
            continue
        except ApiError as error:
            error.providers = slug
            raise  # the client's own error (e.g. a wrong PDF password): no failover helps
        except Exception as exc:  # noqa: BLE001 - a bug or an unreadable page in our code
            logger.exception("provider %s raised unexpectedly for %s", slug, candidate.name)
            error = ProviderError(f"{slug}: internal error ({type(exc).__name__})", permanent=True)
            failures.append(error)
            provider_failure_record(slug=slug)
            continue
        if streak:
            provider_success_record(slug=slug)
        result.model = result.model or candidate.name
        result.provider = result.provider or slug
        return result
    error = _all_failed(candidates[0].name if candidates else "", failures, skipped)
    error.providers = ",".join(tried)
    raise error


def _all_failed(model: str, failures: list[ProviderError], skipped: list[str]) -> ApiError:
    parts = [error.message for error in failures]
    parts += [f"{slug}: skipped while cooling down after repeated failures" for slug in skipped]
    summary = "; ".join(parts) or "no provider was tried"
    if failures and all(error.code == EXTRACTION_ERROR for error in failures):
        return ApiError(
            502,
            EXTRACTION_ERROR,
            f"The document could not be read by any provider of {model!r} ({summary}).",
        )
    return ApiError(
        502,
        UPSTREAM_FAILED,
        f"Every provider of {model!r} failed ({summary}).",
    )
