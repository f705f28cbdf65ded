"""Spend-limit periods of API keys: they start at 00:00 UTC (weeks on Monday)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keys.models import ApiKey


def period_start_for(*, limit_reset: str, now: datetime) -> datetime | None:
    """Start of the period containing `now`; None for limits that never reset."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if limit_reset == ApiKey.LimitReset.DAILY:
        return day
    if limit_reset == ApiKey.LimitReset.WEEKLY:
        return day - timedelta(days=day.weekday())
    if limit_reset == ApiKey.LimitReset.MONTHLY:
        return day.replace(day=1)
    return None


def period_end_for(*, limit_reset: str, now: datetime) -> datetime | None:
    """When the period containing `now` ends (the next reset); None when it never resets."""
    start = period_start_for(limit_reset=limit_reset, now=now)
    if start is None:
        return None
    if limit_reset == ApiKey.LimitReset.DAILY:
        return start + timedelta(days=1)
    if limit_reset == ApiKey.LimitReset.WEEKLY:
        return start + timedelta(days=7)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)
