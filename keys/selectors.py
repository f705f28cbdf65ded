from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Organization
from config.api import ApiError
from keys import crypto
from keys.models import ApiKey


def _invalid(message: str = "The API key is missing, expired, or invalid.") -> ApiError:
    return ApiError(401, "invalid_api_key", message)


def api_key_authenticate(*, secret: str) -> ApiKey:
    """The active key for a presented secret: one indexed query, or 401 `invalid_api_key`."""
    parsed = crypto.parse(secret)
    if parsed is None:
        raise _invalid("The API key is malformed.")
    key = (
        ApiKey.objects.select_related("organization")
        .filter(lookup_prefix=parsed.lookup_prefix)
        .first()
    )
    if key is None or key.kind != parsed.kind or not crypto.matches(secret, key.secret_hash):
        raise _invalid()
    if key.revoked_at is not None:
        raise _invalid("The API key has been revoked.")
    if key.disabled:
        raise _invalid("The API key is disabled.")
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise _invalid("The API key has expired.")
    return key


def api_key_list(*, organization: Organization) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization=organization).order_by("-created_at", "-id")


def api_key_get(*, organization: Organization, public_id: str) -> ApiKey:
    key = ApiKey.objects.filter(organization=organization, public_id=public_id).first()
    if key is None:
        raise ApiError(404, "not_found", "No such key.")
    return key
