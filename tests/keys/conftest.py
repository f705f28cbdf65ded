"""Keys in every state a request can meet, for the auth matrix of the key endpoints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from keys.models import ApiKey
from keys.services import api_key_create


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # org_a/org_b owners get real passwords; PBKDF2 at full strength made set-up dominate
    # these tests on a shared 2-core machine. Nothing here is about password hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_key(org, **fields) -> tuple[ApiKey, str]:
    """A management key of `org` with `fields` written straight to the row.

    States such as revoked or expired are written directly (not through the API) so
    these tests do not depend on the endpoints they are testing.
    """
    kind = fields.pop("kind", "management")
    scopes = fields.pop("scopes", None)
    key, secret = api_key_create(organization=org, kind=kind, scopes=scopes, name="matrix")
    if fields:
        ApiKey.objects.filter(pk=key.pk).update(**fields)
        key.refresh_from_db()
    return key, secret


@pytest.fixture
def target_key(org_a):
    """An API key of org_a that the /keys/{id} endpoints act on."""
    key, _ = api_key_create(organization=org_a, name="target")
    return key


@pytest.fixture
def key_in_state(org_a):
    def make(state: str) -> str:
        now = timezone.now()
        states = {
            "revoked": {"revoked_at": now - timedelta(seconds=1)},
            "disabled": {"disabled": True},
            "expired": {"expires_at": now - timedelta(seconds=1)},
        }
        return make_key(org_a, **states[state])[1]

    return make
