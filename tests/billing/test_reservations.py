from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from billing.models import CreditAccount, LedgerEntry, Reservation, UsageRecord
from billing.pricing import Price
from billing.reservations import (
    reservation_create,
    reservation_release,
    reservation_settle,
    reservation_sweep,
)
from billing.selectors import credits_available_micros
from billing.services import credits_add
from config.api import ApiError
from keys.models import ApiKey
from keys.services import api_key_create
from tests.billing.helpers import USAGE, account_state, assert_ledger_clean, key_state


@pytest.fixture
def key(funded_org_a):
    return api_key_create(organization=funded_org_a, name="k")[0]


def test_it_reserves_and_settles_to_the_actual_price(key):
    reservation = reservation_create(api_key=key, amount_micros=5_000, request_id="req_1")
    assert account_state(key.organization) == (10_000_000, 5_000)
    assert key_state(key) == (0, 5_000, 0)
    assert credits_available_micros(organization=key.organization) == 9_995_000

    record = reservation_settle(
        reservation=reservation, price=Price(2_000, 110, 2_110), usage=USAGE
    )
    assert account_state(key.organization) == (10_000_000 - 2_110, 0)
    assert key_state(key) == (2_110, 0, 2_110)
    assert (record.status, record.total_micros, record.fee_micros) == ("succeeded", 2_110, 110)
    assert (record.dialect, record.model, record.pages, record.api_key_id) == (
        "000",
        "local/rapidocr",
        1,
        key.pk,
    )
    assert record.available_after_micros == 10_000_000 - 2_110
    entry = LedgerEntry.objects.get(idempotency_key="charge:req_1")
    assert (entry.amount_micros, entry.kind, entry.usage_record_id) == (-2_110, "charge", record.pk)
    assert entry.balance_after_micros == 10_000_000 - 2_110
    reservation.refresh_from_db()
    assert reservation.status == "settled"
    assert_ledger_clean()


def test_it_never_charges_more_than_reserved(key):
    reservation = reservation_create(api_key=key, amount_micros=1_000, request_id="req_cap")
    record = reservation_settle(reservation=reservation, price=Price(1_500, 83, 1_583), usage={})
    assert record.total_micros == 1_000
    # Both parts scaled down to fit: 83 x 1000 / 1583 = 52.4 -> 52.
    assert (record.provider_cost_micros, record.fee_micros) == (948, 52)
    assert account_state(key.organization) == (10_000_000 - 1_000, 0)
    assert_ledger_clean()


def test_a_failure_after_reservation_costs_nothing(key):
    before = account_state(key.organization)
    reservation = reservation_create(api_key=key, amount_micros=7_000, request_id="req_fail")
    record = reservation_release(
        reservation=reservation,
        usage={**USAGE, "error_code": "ocr_upstream_failed", "http_status": 502},
    )
    assert account_state(key.organization) == before
    assert key_state(key) == (0, 0, 0)
    assert (record.status, record.total_micros, record.error_code, record.http_status) == (
        "failed",
        0,
        "ocr_upstream_failed",
        502,
    )
    assert not LedgerEntry.objects.filter(kind="charge").exists()


def test_settling_twice_moves_nothing_again(key):
    reservation = reservation_create(api_key=key, amount_micros=5_000, request_id="req_twice")
    first = reservation_settle(reservation=reservation, price=Price(1_000, 55, 1_055), usage={})
    again = reservation_settle(reservation=reservation, price=Price(1_000, 55, 1_055), usage={})
    released = reservation_release(reservation=reservation, usage={})
    assert first.pk == again.pk == released.pk
    assert account_state(key.organization) == (10_000_000 - 1_055, 0)
    assert UsageRecord.objects.count() == 1
    assert_ledger_clean()


def test_it_refuses_what_the_balance_cannot_cover(org_a):
    key = api_key_create(organization=org_a)[0]
    credits_add(organization=org_a, amount_micros=3_000, idempotency_key="t")
    reservation_create(api_key=key, amount_micros=2_000, request_id="req_a")
    with pytest.raises(ApiError) as caught:
        reservation_create(api_key=key, amount_micros=1_001, request_id="req_b")
    error = caught.value
    assert (error.status, error.code) == (402, "insufficient_credits")
    assert error.extra == {
        "limit_source": "balance",
        "required_usd": "0.001001",
        "available_usd": "0.001000",
    }
    assert account_state(org_a) == (3_000, 2_000)
    assert key_state(key) == (0, 2_000, 0)
    assert not Reservation.objects.filter(request_id="req_b").exists()


def test_a_hold_given_back_during_the_refusal_lets_the_request_through(org_a):
    """Another request's hold is released between the refusing statement and the read of
    what is available (64 clients on one tenant): the request fits, so it is not told
    "needs up to $X and more than $X is available"; it reserves."""
    key = api_key_create(organization=org_a)[0]
    credits_add(organization=org_a, amount_micros=3_000, idempotency_key="t")
    other = reservation_create(api_key=key, amount_micros=2_000, request_id="req_a")
    account_table = CreditAccount._meta.db_table
    released = []

    def release_after_the_refusal(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if account_table in sql and "reserved_micros" in sql and not released:
            released.append(True)
            reservation_release(reservation=other, usage=USAGE)
        return result

    with connection.execute_wrapper(release_after_the_refusal):
        reservation = reservation_create(api_key=key, amount_micros=2_500, request_id="req_b")

    assert released
    assert reservation.amount_micros == 2_500
    assert account_state(org_a) == (3_000, 2_500)


def test_it_refuses_what_the_key_limit_cannot_cover(funded_org_a):
    key = api_key_create(organization=funded_org_a, limit_micros=5_000)[0]
    reservation = reservation_create(api_key=key, amount_micros=3_000, request_id="req_1")
    reservation_settle(reservation=reservation, price=Price(1_900, 100, 2_000), usage={})
    reservation_create(api_key=key, amount_micros=2_000, request_id="req_2")
    with pytest.raises(ApiError) as caught:
        reservation_create(api_key=key, amount_micros=1_001, request_id="req_3")
    assert caught.value.extra == {
        "limit_source": "key_limit",
        "required_usd": "0.001001",
        "available_usd": "0.001000",
    }
    # The balance hold taken before the key check was rolled back with it.
    assert account_state(funded_org_a) == (10_000_000 - 2_000, 2_000)
    reservation_create(api_key=key, amount_micros=1_000, request_id="req_4")


@pytest.mark.parametrize(
    ("reset", "stale_start", "fresh_start"),
    [
        ("daily", datetime(2026, 3, 9, 23, 59, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC)),
        ("weekly", datetime(2026, 3, 8, 12, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)),
        ("monthly", datetime(2026, 2, 28, 12, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_the_key_limit_resets_each_period(
    funded_org_a, monkeypatch, reset, stale_start, fresh_start
):
    key = api_key_create(organization=funded_org_a, limit_micros=5_000, limit_reset=reset)[0]
    ApiKey.objects.filter(pk=key.pk).update(
        period_start=stale_start, period_usage_micros=5_000, total_usage_micros=5_000
    )
    key.refresh_from_db()
    now = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)  # a Tuesday
    monkeypatch.setattr("django.utils.timezone.now", lambda: now)
    reservation_create(api_key=key, amount_micros=4_000, request_id="req_new_period")
    key.refresh_from_db()
    assert (key.period_start, key.period_usage_micros, key.period_reserved_micros) == (
        fresh_start,
        0,
        4_000,
    )
    with pytest.raises(ApiError):
        reservation_create(api_key=key, amount_micros=1_001, request_id="req_over")


def test_a_limit_that_never_resets_keeps_counting(funded_org_a):
    key = api_key_create(organization=funded_org_a, limit_micros=5_000)[0]
    ApiKey.objects.filter(pk=key.pk).update(
        period_start=datetime(2020, 1, 1, tzinfo=UTC), period_usage_micros=5_000
    )
    with pytest.raises(ApiError) as caught:
        reservation_create(api_key=key, amount_micros=1, request_id="req_x")
    assert caught.value.extra["limit_source"] == "key_limit"


def test_a_charge_settled_after_the_period_rolled_over_stays_in_its_period(funded_org_a):
    key = api_key_create(organization=funded_org_a, limit_micros=5_000, limit_reset="daily")[0]
    reservation = reservation_create(api_key=key, amount_micros=3_000, request_id="req_old")
    # Another request started the next period meanwhile.
    ApiKey.objects.filter(pk=key.pk).update(
        period_start=reservation.created_at + timedelta(hours=1)
    )
    reservation_settle(reservation=reservation, price=Price(1_000, 55, 1_055), usage={})
    assert key_state(key) == (0, 0, 1_055)


def test_the_sweeper_releases_only_old_active_reservations(key):
    old = reservation_create(api_key=key, amount_micros=1_000, request_id="req_old")
    Reservation.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(hours=1))
    fresh = reservation_create(api_key=key, amount_micros=2_000, request_id="req_fresh")
    assert reservation_sweep(older_than_s=600) == 1
    assert reservation_sweep(older_than_s=600) == 0
    assert account_state(key.organization) == (10_000_000, 2_000)
    assert key_state(key) == (0, 2_000, 0)
    # A worker that was only slow settles afterwards: charged from what is still free.
    record = reservation_settle(reservation=old, price=Price(500, 28, 528), usage={})
    assert record.total_micros == 528
    assert account_state(key.organization) == (10_000_000 - 528, 2_000)
    reservation_release(reservation=fresh, usage={})
    assert account_state(key.organization) == (10_000_000 - 528, 0)
    assert key_state(key) == (528, 0, 528)
    assert_ledger_clean()


def test_credits_add_never_takes_reserved_money(key):
    reservation_create(api_key=key, amount_micros=9_000_000, request_id="req_big")
    with pytest.raises(ValueError):
        credits_add(organization=key.organization, amount_micros=-1_000_001, idempotency_key="d")
    entry = credits_add(
        organization=key.organization, amount_micros=-1_000_000, idempotency_key="e"
    )
    assert entry.balance_after_micros == 9_000_000
    assert credits_add(organization=key.organization, amount_micros=5, idempotency_key="e") is None
    assert_ledger_clean()


def test_reserving_and_settling_are_one_statement_each_on_postgresql(
    key, django_assert_num_queries
):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the one-statement settlement is PostgreSQL's (SQLite takes the ORM path)")
    # One statement each, with no transaction of its own (no savepoint either).
    with django_assert_num_queries(1):
        reservation = reservation_create(api_key=key, amount_micros=5_000, request_id="req_one")
    with django_assert_num_queries(1):
        record = reservation_settle(
            reservation=reservation, price=Price(1_000, 55, 1_055), usage=USAGE
        )
    assert (record.pk, record.total_micros, record.available_after_micros) == (
        UsageRecord.objects.get(request_id="req_one").pk,
        1_055,
        10_000_000 - 1_055,
    )
    assert LedgerEntry.objects.get(idempotency_key="charge:req_one").usage_record_id == record.pk
    assert key_state(key) == (1_055, 0, 1_055)
    assert_ledger_clean()


def test_odd_usage_values_cannot_fail_a_settlement(key):
    reservation = reservation_create(api_key=key, amount_micros=5_000, request_id="req_odd")
    record = reservation_settle(
        reservation=reservation,
        price=Price(1_000, 55, 1_055),
        usage={
            "model": "m" * 500,
            "pages": -3,
            "output_tokens": 10**30,
            "latency_ms": 10**12,
            "http_status": 70_000,
            "organization": "ignored",
        },
    )
    record = UsageRecord.objects.get(pk=record.pk)
    assert (len(record.model), record.pages, record.latency_ms, record.http_status) == (
        200,
        0,
        2**31 - 1,
        599,
    )
    assert record.output_tokens == 2**63 - 1
    assert record.total_micros == 1_055


def test_a_late_settlement_takes_nothing_held_by_others(org_a):
    key = api_key_create(organization=org_a)[0]
    credits_add(organization=org_a, amount_micros=3_000, idempotency_key="fund")
    slow = reservation_create(api_key=key, amount_micros=2_000, request_id="req_slow")
    Reservation.objects.filter(pk=slow.pk).update(created_at=slow.created_at - timedelta(hours=1))
    assert reservation_sweep(older_than_s=600) == 1
    reservation_create(api_key=key, amount_micros=2_500, request_id="req_other")
    record = reservation_settle(reservation=slow, price=Price(1_000, 55, 1_055), usage={})
    # Only 500 µ$ are free beyond the other hold: the late charge is dropped, not forced.
    assert (record.status, record.total_micros) == ("succeeded", 0)
    assert account_state(org_a) == (3_000, 2_500)
    assert_ledger_clean()
