"""Prices of OCR requests: provider cost plus platform fee, in integer micro-dollars.

A provider model may be priced per page, per request, per 1M input tokens and per 1M
output tokens, in any combination. Before the call we only know the pages, so the
worst case assumes a generous token budget per page (`WORST_CASE_*_TOKENS_PER_PAGE`);
the settlement never charges more than that reservation.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from accounts.models import Organization
from billing.models import FeePolicy
from billing.money import MICROS_PER_USD, ceil_div

logger = logging.getLogger(__name__)

# Default fee when the operator deleted the platform row: 5.5 %, nothing fixed.
DEFAULT_FEE_PERCENT_BP = 550
MICROS_PER_MTOK_DIVISOR = 1_000_000
BASIS_POINTS = 10_000


def _tokens_per_page(kind: str) -> int:
    return int(getattr(settings, f"BILLING_WORST_CASE_{kind}_TOKENS_PER_PAGE", 8_000))


@dataclass(frozen=True)
class Price:
    provider_cost_micros: int
    fee_micros: int
    total_micros: int


_fee_snapshot: tuple[float, dict[int | None, FeePolicy]] | None = None
_fee_lock = threading.Lock()


def _fee_policies() -> dict[int | None, FeePolicy]:
    """Every fee policy by organization id (None: platform default), at most
    OCR_PROVIDER_CACHE_S old per worker, like the provider list: prices are configuration
    read on every request, and the table is a handful of rows."""
    global _fee_snapshot
    max_age = float(settings.OCR_PROVIDER_CACHE_S)
    now = time.monotonic()
    snapshot = _fee_snapshot
    if max_age > 0 and snapshot is not None and now - snapshot[0] < max_age:
        return snapshot[1]
    policies = {row.organization_id: row for row in FeePolicy.objects.all()}
    with _fee_lock:
        _fee_snapshot = (now, policies)
    return policies


def fee_policy_for(*, organization: Organization | None) -> FeePolicy:
    """The tenant's override, else the platform default row, else 5.5 % (unsaved).
    Without an organization, the platform default."""
    policies = _fee_policies()
    policy = (organization is not None and policies.get(organization.pk)) or policies.get(None)
    if policy is not None:
        return policy
    return FeePolicy(organization=None, percent_bp=DEFAULT_FEE_PERCENT_BP, fixed_micros=0)


def token_cost_micros(*, tokens: int, per_mtok_micros: int) -> int:
    """ceil(tokens × price per million tokens / 1e6): a started micro-dollar is charged."""
    if tokens <= 0 or per_mtok_micros <= 0:
        return 0
    return ceil_div(tokens * per_mtok_micros, MICROS_PER_MTOK_DIVISOR)


def fee_micros(*, provider_cost_micros: int, policy: FeePolicy) -> int:
    percent = ceil_div(policy.percent_bp * provider_cost_micros, BASIS_POINTS)
    return percent + policy.fixed_micros


def list_price_usd(*, micros: int, policy: FeePolicy, per_request: bool = False) -> Decimal:
    """A price-list entry as the client pays it: the provider's price plus the fee's
    percentage, plus the fixed fee on the per-request entry. Exact (it may need more
    than six decimals); a request's total is rounded up to a whole micro-dollar once."""
    fixed = policy.fixed_micros if per_request else 0
    scaled = Decimal(micros) * (BASIS_POINTS + policy.percent_bp) / BASIS_POINTS + fixed
    return scaled / MICROS_PER_USD


def _price(*, provider_cost_micros: int, organization: Organization) -> Price:
    policy = fee_policy_for(organization=organization)
    fee = fee_micros(provider_cost_micros=provider_cost_micros, policy=policy)
    return Price(
        provider_cost_micros=provider_cost_micros,
        fee_micros=fee,
        total_micros=provider_cost_micros + fee,
    )


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def provider_cost_micros(*, model, pages: int, input_tokens: int, output_tokens: int) -> int:
    """What the provider's price list says these pages and tokens cost."""
    return (
        _check_count("pages", pages) * model.per_page_micros
        + model.per_request_micros
        + token_cost_micros(
            tokens=_check_count("input_tokens", input_tokens),
            per_mtok_micros=model.input_per_mtok_micros,
        )
        + token_cost_micros(
            tokens=_check_count("output_tokens", output_tokens),
            per_mtok_micros=model.output_per_mtok_micros,
        )
    )


def price_worst_case(*, model, pages: int, organization: Organization) -> Price:
    """The most this request may cost: what is reserved before the provider is called."""
    _check_count("pages", pages)
    cost = provider_cost_micros(
        model=model,
        pages=pages,
        input_tokens=pages * _tokens_per_page("INPUT"),
        output_tokens=pages * _tokens_per_page("OUTPUT"),
    )
    return _price(provider_cost_micros=cost, organization=organization)


def price_actual(
    *,
    model,
    pages: int,
    input_tokens: int,
    output_tokens: int,
    organization: Organization,
) -> Price:
    """The price list applied to what the provider reported using (DESIGN.md §5): the
    price `GET /api/v1/models` publishes. An upstream's own cost figure (OpenRouter's
    `usage.cost`) is compared with it and logged, never charged (docs/billing.md)."""
    cost = provider_cost_micros(
        model=model, pages=pages, input_tokens=input_tokens, output_tokens=output_tokens
    )
    return _price(provider_cost_micros=cost, organization=organization)


def upstream_cost_compare(*, model, priced_micros: int, reported_micros: int | None) -> None:
    """Tell the operator when an upstream reports costing more than the price list says:
    the tenant pays the list, the platform the difference."""
    if reported_micros is not None and reported_micros > priced_micros:
        logger.warning(
            "%s: the upstream reported a cost of %d micro-USD, the price list %d: "
            "the model's prices may be out of date",
            model.name,
            reported_micros,
            priced_micros,
        )
