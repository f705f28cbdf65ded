from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organization
from config.api import ApiError
from keys import crypto
from keys.models import ApiKey
from keys.scopes import ALLOWED_SCOPES, DEFAULT_SCOPES

TOUCH_INTERVAL = timedelta(minutes=1)


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


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke for good; revoking twice keeps the first time."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db()
    return key
