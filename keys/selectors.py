from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Organization
from config.api import ApiError
from config.pagination import keyset_after
from config.prepared import prepared_cursor
from config.rows import ModelColumns
from keys import cache as key_cache
from keys import crypto
from keys.models import ApiKey


def _invalid(message: str = "The API key is missing, expired, or invalid.") -> ApiError:
    return ApiError(401, "invalid_api_key", message)


_KEY_COLUMNS = ModelColumns(ApiKey)
_ORG_COLUMNS = ModelColumns(Organization)


@functools.cache
def _key_lookup_sql() -> str:
    return (
        f"SELECT {_KEY_COLUMNS.select_list('k')}, {_ORG_COLUMNS.select_list('o')} "
        f"FROM {ApiKey._meta.db_table} k JOIN {Organization._meta.db_table} o "
        "ON o.id = k.organization_id WHERE k.lookup_prefix = %s"
    )


def _key_by_lookup_prefix(lookup_prefix: str) -> ApiKey | None:
    """The key with its organization: one indexed query, written out rather than compiled
    by the ORM, which would cost several times the query itself on every request."""
    sql = _key_lookup_sql()
    with prepared_cursor() as cursor:
        cursor.execute(sql, [lookup_prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    key = _KEY_COLUMNS.instance(row)
    organization = _ORG_COLUMNS.instance(row, len(_KEY_COLUMNS.fields))
    ApiKey._meta.get_field("organization").set_cached_value(key, organization)
    return key


def api_key_authenticate(*, secret: str) -> ApiKey:
    """The active key for a presented secret: one indexed query, or 401 `invalid_api_key`.

    Read from the database each time, so a revoked key is refused on the very next
    request on every worker. The OCR endpoints use `api_key_authenticate_cached`, which
    keeps that promise with one query fewer (keys/cache.py).
    """
    parsed = crypto.parse(secret)
    if parsed is None:
        raise _invalid("The API key is malformed.")
    epoch = key_cache.epoch_before_read()
    key = _key_by_lookup_prefix(parsed.lookup_prefix)
    try:
        _check(key, parsed, secret)
    except ApiError:
        key_cache.forget(parsed.lookup_prefix)
        raise
    if key_cache.enabled():
        key_cache.remember(parsed.lookup_prefix, key, epoch)
    return key


def api_key_authenticate_cached(*, secret: str) -> tuple[ApiKey, str | None]:
    """(key, epoch): the key from this process's cache with the epoch it was filed under,
    which the caller must find unchanged before trusting it, or (key, None) read from the
    database as `api_key_authenticate` does."""
    parsed = crypto.parse(secret)
    if parsed is None:
        raise _invalid("The API key is malformed.")
    entry = key_cache.cached(parsed.lookup_prefix) if key_cache.enabled() else None
    if entry is None:
        return api_key_authenticate(secret=secret), None
    key, epoch = entry
    _check(key, parsed, secret)
    return key, epoch


def _check(key: ApiKey | None, parsed: crypto.ParsedKey, secret: str) -> None:
    if key is None or key.kind != parsed.kind or not crypto.matches(secret, key.secret_hash):
        raise _invalid()
    if key.revoked_at is not None:
        raise _invalid("The API key has been revoked.")
    if key.disabled:
        raise _invalid("The API key is disabled.")
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise _invalid("The API key has expired.")


def api_key_list(*, organization: Organization) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization=organization).order_by("-created_at", "-id")


def api_key_get(*, organization: Organization, public_id: str) -> ApiKey:
    key = (
        ApiKey.objects.select_related("organization")
        .filter(organization=organization, public_id=public_id)
        .first()
    )
    if key is None:
        raise ApiError(404, "not_found", "No such key.")
    return key


@dataclass(frozen=True)
class KeyPage:
    keys: list[ApiKey]
    next_cursor: str | None


def api_key_page(
    *,
    organization: Organization,
    cursor: str | None = None,
    page_size: int = 50,
    include_revoked: bool = False,
) -> KeyPage:
    """One page of a tenant's keys, newest first, keyset-paginated.

    The cursor is the public id of the last key of the previous page: stable while keys
    are created (no skipped or repeated rows, unlike offsets) and meaningless elsewhere,
    since it is resolved within the tenant (another tenant's id is 400, not a leak).
    """
    keys = api_key_list(organization=organization)
    if not include_revoked:
        keys = keys.filter(revoked_at__isnull=True)
    if cursor is not None:
        keys = keyset_after(
            keys, anchor=ApiKey.objects.filter(organization=organization, public_id=cursor)
        )
    rows = list(keys.select_related("organization")[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    return KeyPage(keys=rows, next_cursor=rows[-1].public_id if has_more else None)


def api_key_period_start(*, limit_reset: str, now: datetime | None = None) -> datetime | None:
    """Start of the current spend-limit period (00:00 UTC); None for `never`."""
    now = (now or timezone.now()).astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if limit_reset == ApiKey.LimitReset.DAILY:
        return midnight
    if limit_reset == ApiKey.LimitReset.WEEKLY:  # ISO weeks start on Monday
        return midnight - timedelta(days=midnight.weekday())
    if limit_reset == ApiKey.LimitReset.MONTHLY:
        return midnight.replace(day=1)
    return None


@dataclass(frozen=True)
class KeySpend:
    period_usage_micros: int
    period_reserved_micros: int
    total_usage_micros: int
    limit_remaining_micros: int | None


def api_key_spend(*, key: ApiKey, now: datetime | None = None) -> KeySpend:
    """What the key has spent in its current period, as a client should see it.

    The stored period counters roll over lazily (at the next reservation), so a period
    that has already ended reads as zero here even before billing resets the row.
    """
    usage, reserved = key.period_usage_micros, key.period_reserved_micros
    start = api_key_period_start(limit_reset=key.limit_reset, now=now)
    if start is not None and (key.period_start is None or key.period_start < start):
        usage, reserved = 0, 0
    remaining = None
    if key.limit_micros is not None:
        remaining = max(0, key.limit_micros - usage - reserved)
    return KeySpend(
        period_usage_micros=usage,
        period_reserved_micros=reserved,
        total_usage_micros=key.total_usage_micros,
        limit_remaining_micros=remaining,
    )


@dataclass(frozen=True)
class KeyRateLimit:
    rpm: int
    max_in_flight: int


def api_key_rate_limit(*, key: ApiKey) -> KeyRateLimit:
    """The limits in force: the key's own, else the tenant's, else the platform default."""
    rpm = key.rate_limit_rpm or key.organization.rate_limit_rpm or settings.DEFAULT_RATE_LIMIT_RPM
    return KeyRateLimit(rpm=rpm, max_in_flight=key.max_in_flight or settings.DEFAULT_MAX_IN_FLIGHT)
