"""The per-request lookup path: one indexed query, touch throttling, periods and spend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config.api import ApiError
from keys.models import ApiKey
from keys.selectors import api_key_authenticate, api_key_period_start, api_key_spend
from keys.services import api_key_create, api_key_revoke, api_key_touch, api_key_update


def test_authentication_is_one_query_once_the_key_was_touched(api_key, django_assert_num_queries):
    key, secret = api_key
    with django_assert_num_queries(2):  # first use: lookup + last_used_at
        found = api_key_authenticate(secret=secret)
        api_key_touch(key=found)
    for _ in range(3):
        with django_assert_num_queries(1):
            found = api_key_authenticate(secret=secret)
            api_key_touch(key=found)
    assert found.pk == key.pk
    assert found.organization.slug == "org-a"  # loaded by the same query


def test_last_used_at_is_written_at_most_once_a_minute(api_key):
    key, secret = api_key
    api_key_touch(key=api_key_authenticate(secret=secret))
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    api_key_touch(key=api_key_authenticate(secret=secret))
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=first - timedelta(minutes=2))
    api_key_touch(key=api_key_authenticate(secret=secret))
    assert ApiKey.objects.get(pk=key.pk).last_used_at > first


def test_the_lookup_column_has_a_unique_index(db):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, ApiKey._meta.db_table)
    assert any(c["columns"] == ["lookup_prefix"] and c["unique"] for c in constraints.values())


@pytest.mark.parametrize("kind", ["api", "management"])
def test_a_key_presented_under_the_other_prefix_is_refused(kind, org_a):
    from keys import crypto

    key, secret = api_key_create(organization=org_a, kind=kind)
    # Same lookup prefix, other kind's prefix and a valid checksum: must not match.
    other = "management" if kind == "api" else "api"
    prefix = crypto.PREFIX_BY_KIND[other]
    body = secret[len(crypto.PREFIX_BY_KIND[kind]) : -crypto.CHECKSUM_LENGTH]
    forged = prefix + body + crypto.checksum(prefix + body)
    with pytest.raises(ApiError) as raised:
        api_key_authenticate(secret=forged)
    assert raised.value.code == "invalid_api_key"


def test_a_wrong_secret_with_a_known_lookup_prefix_is_refused(api_key):
    from keys import crypto

    _, secret = api_key
    body = secret[len("sk-ar-") : -crypto.CHECKSUM_LENGTH]
    body = body[:-1] + ("a" if body[-1] != "a" else "b")
    forged = "sk-ar-" + body + crypto.checksum("sk-ar-" + body)
    with pytest.raises(ApiError):
        api_key_authenticate(secret=forged)


def test_a_key_expires_on_time(api_key):
    key, secret = api_key
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() + timedelta(seconds=60))
    api_key_authenticate(secret=secret)
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now())
    with pytest.raises(ApiError, match="expired"):
        api_key_authenticate(secret=secret)


def test_revocation_takes_effect_on_the_next_lookup(api_key):
    key, secret = api_key
    api_key_authenticate(secret=secret)
    api_key_revoke(key=key)
    with pytest.raises(ApiError, match="revoked"):
        api_key_authenticate(secret=secret)


def test_an_update_never_unrevokes_a_key_revoked_meanwhile(api_key):
    key, _ = api_key
    stale = ApiKey.objects.get(pk=key.pk)  # read before the revocation
    api_key_revoke(key=key)
    with pytest.raises(ApiError) as raised:
        api_key_update(key=stale, disabled=False, name="back")
    assert raised.value.status == 409
    key.refresh_from_db()
    assert key.revoked_at is not None and key.name == "test api key"


@pytest.mark.parametrize(
    "fields",
    [
        {"limit_micros": -1},
        {"limit_reset": "hourly"},
        {"rate_limit_rpm": 0},
        {"max_in_flight": 0},
        {"name": "x" * 201},
    ],
)
def test_the_services_guard_the_settings_for_every_caller(fields, org_a, api_key):
    with pytest.raises(ApiError) as raised:
        api_key_create(organization=org_a, **fields)
    assert raised.value.status == 400
    with pytest.raises(ApiError):
        api_key_update(key=api_key[0], **fields)


def test_an_update_refuses_fields_that_are_fixed(api_key):
    for fields in ({"scopes": ["ocr"]}, {"kind": "management"}, {"secret_hash": "x"}):
        with pytest.raises(ApiError):
            api_key_update(key=api_key[0], **fields)


WEDNESDAY = datetime(2026, 7, 15, 13, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reset", "start"),
    [
        ("never", None),
        ("daily", datetime(2026, 7, 15, tzinfo=UTC)),
        ("weekly", datetime(2026, 7, 13, tzinfo=UTC)),
        ("monthly", datetime(2026, 7, 1, tzinfo=UTC)),
    ],
)
def test_periods_start_at_midnight_utc(reset, start):
    assert api_key_period_start(limit_reset=reset, now=WEDNESDAY) == start


def test_a_period_start_does_not_depend_on_the_callers_timezone():
    from zoneinfo import ZoneInfo

    late_in_tokyo = WEDNESDAY.astimezone(ZoneInfo("Asia/Tokyo"))  # already Thursday there
    assert api_key_period_start(limit_reset="daily", now=late_in_tokyo) == datetime(
        2026, 7, 15, tzinfo=UTC
    )


def _key(**fields) -> ApiKey:
    base = {
        "limit_micros": 1_000_000,
        "period_usage_micros": 400_000,
        "period_reserved_micros": 100_000,
        "total_usage_micros": 5_000_000,
        "limit_reset": "daily",
        "period_start": datetime(2026, 7, 15, 0, 0, tzinfo=UTC),
    }
    return ApiKey(**(base | fields))


def test_spend_within_the_current_period():
    spend = api_key_spend(key=_key(), now=WEDNESDAY)
    assert spend.period_usage_micros == 400_000
    assert spend.limit_remaining_micros == 500_000
    assert spend.total_usage_micros == 5_000_000


def test_a_finished_period_reads_as_zero_before_billing_rolls_it():
    spend = api_key_spend(key=_key(), now=WEDNESDAY + timedelta(days=1))
    assert spend.period_usage_micros == 0
    assert spend.limit_remaining_micros == 1_000_000
    assert spend.total_usage_micros == 5_000_000


def test_a_never_resetting_limit_keeps_its_usage():
    spend = api_key_spend(key=_key(limit_reset="never"), now=WEDNESDAY + timedelta(days=400))
    assert spend.period_usage_micros == 400_000


def test_remaining_never_goes_below_zero_and_is_none_without_a_limit():
    assert api_key_spend(key=_key(limit_micros=0), now=WEDNESDAY).limit_remaining_micros == 0
    assert api_key_spend(key=_key(limit_micros=None), now=WEDNESDAY).limit_remaining_micros is None
