"""Reads of credits and usage. Everything is filtered by organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, OuterRef, Q, Subquery, Sum

from accounts.models import Organization
from billing.models import CreditAccount, LedgerEntry, UsageRecord
from config.api import ApiError
from config.pagination import keyset_after
from keys.models import ApiKey


def credits_available_micros(*, organization: Organization) -> int:
    """Balance minus amounts reserved by requests in flight (one indexed query)."""
    available = (
        CreditAccount.objects.filter(organization_id=organization.pk)
        .annotate(available=F("balance_micros") - F("reserved_micros"))
        .values_list("available", flat=True)
        .first()
    )
    return available or 0


@dataclass(frozen=True)
class LedgerDifference:
    organization_slug: str
    balance_micros: int
    ledger_sum_micros: int
    problem: str


def _ledger_total() -> Subquery:
    """The ledger sum of the outer row's organization, for one-statement reads."""
    entries = LedgerEntry.objects.filter(organization_id=OuterRef("organization_id"))
    total = entries.values("organization_id").annotate(total=Sum("amount_micros"))
    return Subquery(total.values("total"))


def ledger_differences() -> list[LedgerDifference]:
    """Every tenant whose cached balance disagrees with its ledger, or whose ledger's
    running balance (`balance_after_micros`) does not follow from its amounts.

    Each balance is read in the same statement as its ledger sum: read apart, a charge
    committed in between was reported as a difference on a busy server.
    """
    differences = []
    accounts = (
        CreditAccount.objects.select_related("organization")
        .annotate(ledger_total=_ledger_total())
        .order_by("organization_id")
    )
    for account in accounts.iterator():
        total = account.ledger_total or 0
        slug = account.organization.slug
        if total != account.balance_micros:
            differences.append(
                LedgerDifference(slug, account.balance_micros, total, "balance differs from ledger")
            )
        if account.balance_micros < 0 or account.reserved_micros < 0:
            differences.append(
                LedgerDifference(slug, account.balance_micros, total, "negative balance or hold")
            )
        running = 0
        entries = LedgerEntry.objects.filter(organization_id=account.organization_id).order_by("id")
        for entry in entries.values_list("id", "amount_micros", "balance_after_micros").iterator():
            running += entry[1]
            if running != entry[2]:
                differences.append(
                    LedgerDifference(
                        slug, account.balance_micros, total, f"entry {entry[0]}: running balance"
                    )
                )
                break
    orphans = (
        LedgerEntry.objects.exclude(
            organization_id__in=CreditAccount.objects.values("organization_id")
        )
        .values("organization_id")
        .annotate(total=Sum("amount_micros"))
        .values_list("organization_id", "total")
    )
    for organization_id, total in orphans:
        differences.append(LedgerDifference(str(organization_id), 0, total, "ledger, no account"))
    return differences


@dataclass(frozen=True)
class CreditsSummary:
    total_credits_micros: int  # everything added: top-ups, adjustments, refunds, expiries
    total_usage_micros: int  # everything charged for requests
    balance_micros: int
    reserved_micros: int

    @property
    def available_micros(self) -> int:
        return self.balance_micros - self.reserved_micros


def credits_summary(*, organization: Organization) -> CreditsSummary:
    """The tenant's credits; total_credits - total_usage == balance, from the ledger.

    One statement, so one snapshot: read as two queries, a charge committed between them
    (any busy tenant) showed a balance that the totals did not add up to.
    """
    entries = LedgerEntry.objects.filter(organization_id=OuterRef("organization_id"))

    def ledger_sum(condition: Q) -> Subquery:
        total = entries.filter(condition).values("organization_id").annotate(s=Sum("amount_micros"))
        return Subquery(total.values("s"))

    charge = Q(kind=LedgerEntry.Kind.CHARGE)
    row = (
        CreditAccount.objects.filter(organization_id=organization.pk)
        .annotate(usage=ledger_sum(charge), credits=ledger_sum(~charge))
        .values_list("balance_micros", "reserved_micros", "usage", "credits")
        .first()
    ) or (0, 0, None, None)
    return CreditsSummary(
        total_credits_micros=row[3] or 0,
        total_usage_micros=-(row[2] or 0),
        balance_micros=row[0],
        reserved_micros=row[1],
    )


@dataclass(frozen=True)
class UsagePage:
    records: list[UsageRecord]
    next_cursor: str | None


def usage_page(
    *,
    organization: Organization,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    key_id: str | None = None,
    model: str | None = None,
    cursor: str | None = None,
    page_size: int = 50,
) -> UsagePage:
    """One page of the tenant's request log, newest first, keyset-paginated.

    `date_from` is inclusive, `date_to` exclusive. `key_id` is a key's public id within
    the tenant (another tenant's is 404). The cursor is the request id of the last row
    of the previous page, resolved within the tenant (unknown: 400).
    """
    records = UsageRecord.objects.filter(organization_id=organization.pk)
    if key_id is not None:
        key_pk = (
            ApiKey.objects.filter(organization_id=organization.pk, public_id=key_id)
            .values_list("pk", flat=True)
            .first()
        )
        if key_pk is None:
            raise ApiError(404, "not_found", "No such key.")
        records = records.filter(api_key_id=key_pk)
    if date_from is not None:
        records = records.filter(created_at__gte=date_from)
    if date_to is not None:
        records = records.filter(created_at__lt=date_to)
    if model:
        records = records.filter(model=model)
    if cursor is not None:
        records = keyset_after(
            records,
            anchor=UsageRecord.objects.filter(organization_id=organization.pk, request_id=cursor),
        )
    rows = list(
        records.select_related("api_key")
        .only(*USAGE_COLUMNS, "api_key__public_id", "api_key__label")
        .order_by("-created_at", "-id")[: page_size + 1]
    )
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    return UsagePage(records=rows, next_cursor=rows[-1].request_id if has_more else None)


USAGE_COLUMNS = (
    "id",
    "request_id",
    "created_at",
    "api_key",
    "dialect",
    "model",
    "provider",
    "pages",
    "input_tokens",
    "output_tokens",
    "provider_cost_micros",
    "fee_micros",
    "total_micros",
    "status",
    "http_status",
    "error_code",
    "latency_ms",
    "upstream_latency_ms",
)
