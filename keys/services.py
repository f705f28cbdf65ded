from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, models, transaction
from django.db.models import F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Organization
from billing.models import UsageRecord
from billing.periods import period_start_for
from config.api import ApiError
from keys import cache as key_cache
from keys import crypto
from keys.models import IN_FLIGHT_MAX, LIMIT_MAX_MICROS, RPM_MAX, ApiKey
from keys.scopes import ALLOWED_SCOPES, DEFAULT_SCOPES

TOUCH_INTERVAL = timedelta(minutes=1)
NAME_MAX_LENGTH = 200
# Far above any real prepaid balance, far below the BigIntegerField ceiling (9.2e18).
# Fields a PATCH may change; scopes, kind and the secret are fixed at creation.
UPDATABLE_FIELDS = frozenset(
    {"name", "disabled", "limit_micros", "limit_reset", "rate_limit_rpm", "max_in_flight",
     "expires_at"}
)  # fmt: skip


def _invalid(message: str, **details) -> ApiError:
    return ApiError(400, "invalid_request", message, **({"details": details} if details else {}))


def _validate_settings(
    *,
    name: str,
    limit_micros: int | None,
    limit_reset: str,
    rate_limit_rpm: int | None,
    max_in_flight: int | None,
) -> None:
    """Guard the model's invariants for every caller (API, commands, dashboard)."""
    if not isinstance(name, str) or len(name) > NAME_MAX_LENGTH:
        raise _invalid(f"name must be a string of at most {NAME_MAX_LENGTH} characters.")
    if limit_micros is not None and not 0 <= limit_micros <= LIMIT_MAX_MICROS:
        raise _invalid("limit must be between 0 and 1000000000 USD, or null.")
    if limit_reset not in ApiKey.LimitReset.values:
        raise _invalid(f"limit_reset must be one of {ApiKey.LimitReset.values}.")
    if rate_limit_rpm is not None and not 1 <= rate_limit_rpm <= RPM_MAX:
        raise _invalid(f"rate_limit_rpm must be between 1 and {RPM_MAX}, or null.")
    if max_in_flight is not None and not 1 <= max_in_flight <= IN_FLIGHT_MAX:
        raise _invalid(f"max_in_flight must be between 1 and {IN_FLIGHT_MAX}, or null.")


def api_key_create(
    *,
    organization: Organization,
    kind: str = ApiKey.Kind.API,
    name: str = "",
    scopes: list[str] | None = None,
    limit_micros: int | None = None,
    limit_reset: str = ApiKey.LimitReset.NEVER,
    rate_limit_rpm: int | None = None,
    max_in_flight: int | None = None,
    expires_at: datetime | None = None,
    disabled: bool = False,
    created_by=None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is never available again."""
    if kind not in DEFAULT_SCOPES:
        raise ApiError(400, "invalid_request", "kind must be 'api' or 'management'.")
    if scopes is None:
        scopes = list(DEFAULT_SCOPES[kind])
    unknown = set(scopes) - ALLOWED_SCOPES[kind]
    if unknown:
        raise ApiError(
            400, "invalid_request", f"Unknown scopes for a {kind} key: {sorted(unknown)}"
        )
    scopes = sorted(set(scopes))
    _validate_settings(
        name=name,
        limit_micros=limit_micros,
        limit_reset=limit_reset,
        rate_limit_rpm=rate_limit_rpm,
        max_in_flight=max_in_flight,
    )
    for _ in range(5):
        generated = crypto.generate(kind)
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    organization=organization,
                    kind=kind,
                    name=name,
                    scopes=scopes,
                    lookup_prefix=generated.lookup_prefix,
                    secret_hash=generated.secret_hash,
                    label=generated.label,
                    limit_micros=limit_micros,
                    limit_reset=limit_reset,
                    period_start=timezone.now(),
                    rate_limit_rpm=rate_limit_rpm,
                    max_in_flight=max_in_flight,
                    expires_at=expires_at,
                    disabled=disabled,
                    created_by=created_by,
                )
            return key, generated.secret
        except IntegrityError:  # lookup prefix collision: astronomically rare, try again
            continue
    raise RuntimeError("could not generate a unique key")


def api_key_touch(*, key: ApiKey) -> None:
    """Record use, at most once a minute per key (one conditional UPDATE)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_INTERVAL:
        return
    ApiKey.objects.filter(pk=key.pk).exclude(last_used_at__gt=now - TOUCH_INTERVAL).update(
        last_used_at=now
    )
    key.last_used_at = now


def api_key_update(*, key: ApiKey, **changes) -> ApiKey:
    """Change a key's settings. A revoked key is frozen: 409 `key_revoked`.

    The write is one conditional UPDATE on `revoked_at IS NULL`, so a PATCH racing a
    DELETE can never bring settings back to a key revoked in between.
    """
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise _invalid(f"These fields cannot be changed: {sorted(unknown)}")
    merged = {field: changes.get(field, getattr(key, field)) for field in UPDATABLE_FIELDS}
    _validate_settings(
        name=merged["name"],
        limit_micros=merged["limit_micros"],
        limit_reset=merged["limit_reset"],
        rate_limit_rpm=merged["rate_limit_rpm"],
        max_in_flight=merged["max_in_flight"],
    )
    if changes:
        with transaction.atomic():
            row = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True)
            if "limit_reset" in changes:
                # Locked, so a settlement cannot land between the recount and the write:
                # one committed before is in the sum, one waiting adds itself after.
                locked = row.select_for_update().values_list("limit_reset", flat=True)
                if changes["limit_reset"] not in list(locked):
                    changes = {**changes, **_period_recount(limit_reset=changes["limit_reset"])}
            updated = row.update(**changes)
        key_cache.epoch_bump()
    else:
        updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).count()
    _reload(key)
    if not updated:
        raise ApiError(409, "key_revoked", "This key has been revoked and can no longer change.")
    return key


def _period_recount(*, limit_reset: str) -> dict:
    """The spend counters of a key whose limit now resets on `limit_reset`: what it has
    already spent in the new period, counted from its charges. Kept as they were, a key
    moved from daily to monthly forgot the month's earlier days, and one moved from
    monthly to daily forgot today's spend (the old period start read as stale)."""
    start = period_start_for(limit_reset=limit_reset, now=timezone.now())
    if start is None:  # never: every charge since the key was created
        return {"period_start": F("created_at"), "period_usage_micros": F("total_usage_micros")}
    spent = (
        UsageRecord.objects.filter(api_key=OuterRef("pk"), created_at__gte=start)
        .values("api_key")
        .annotate(total=Sum("total_micros"))
        .values("total")
    )
    return {
        "period_start": start,
        "period_usage_micros": Coalesce(
            Subquery(spent), Value(0), output_field=models.BigIntegerField()
        ),
    }


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke for good; revoking twice keeps the first time."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key_cache.epoch_bump()
    _reload(key)
    return key


def _reload(key: ApiKey) -> None:
    # Keep the organization loaded: the key is rendered right after with its tenant's limits.
    key.refresh_from_db(from_queryset=ApiKey.objects.select_related("organization"))
