"""Reads of credits and usage. Everything is filtered by organization."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Sum

from accounts.models import Organization
from billing.models import CreditAccount, LedgerEntry


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


def ledger_differences() -> list[LedgerDifference]:
    """Every tenant whose cached balance disagrees with its ledger, or whose ledger's
    running balance (`balance_after_micros`) does not follow from its amounts."""
    sums = dict(
        LedgerEntry.objects.values("organization_id")
        .annotate(total=Sum("amount_micros"))
        .values_list("organization_id", "total")
    )
    differences = []
    accounts = CreditAccount.objects.select_related("organization").order_by("organization_id")
    seen = set()
    for account in accounts.iterator():
        seen.add(account.organization_id)
        total = sums.get(account.organization_id) or 0
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
    for organization_id in set(sums) - seen:
        differences.append(
            LedgerDifference(str(organization_id), 0, sums[organization_id], "ledger, no account")
        )
    return differences
