"""Reads for the dashboard's usage and credits pages, always filtered by organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate

from accounts.models import Organization
from billing.models import UsageRecord

CHART_MAX_DAYS = 92


@dataclass
class UsageFilters:
    date_from: date | None = None
    date_to: date | None = None
    key: str | None = None  # ApiKey.public_id
    model: str | None = None
    status: str | None = None


def usage_records(*, organization: Organization, filters: UsageFilters) -> QuerySet[UsageRecord]:
    records = UsageRecord.objects.filter(organization=organization).select_related("api_key")
    if filters.date_from:
        records = records.filter(
            created_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=UTC)
        )
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=UTC)
        records = records.filter(created_at__lt=end)
    if filters.key:
        records = records.filter(api_key__public_id=filters.key)
    if filters.model:
        records = records.filter(model=filters.model)
    if filters.status:
        records = records.filter(status=filters.status)
    return records.order_by("-created_at", "-id")


def usage_totals(*, records: QuerySet[UsageRecord]) -> dict:
    totals = records.aggregate(
        requests=Count("id"),
        pages=Sum("pages"),
        provider_cost=Sum("provider_cost_micros"),
        fee=Sum("fee_micros"),
        total=Sum("total_micros"),
    )
    return {name: value or 0 for name, value in totals.items()}


def usage_spend_per_day(
    *, records: QuerySet[UsageRecord], today: date, filters: UsageFilters
) -> list[tuple[date, int, int]]:
    """(day, spend micros, requests) for every day of the window, empty days included."""
    end = filters.date_to or today
    start = filters.date_from or end - timedelta(days=29)
    start = max(start, end - timedelta(days=CHART_MAX_DAYS - 1))
    rows = (
        records.order_by()
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(spend=Sum("total_micros"), requests=Count("id"))
    )
    by_day = {row["day"]: (row["spend"] or 0, row["requests"]) for row in rows}
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    return [(day, *by_day.get(day, (0, 0))) for day in days]


def usage_models(*, organization: Organization) -> list[str]:
    return list(
        UsageRecord.objects.filter(organization=organization)
        .exclude(model="")
        .order_by("model")
        .values_list("model", flat=True)
        .distinct()
    )
