from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from billing.models import CreditAccount, LedgerEntry, RateLimitSlot, Reservation
from billing.pricing import Price
from billing.reservations import reservation_create, reservation_settle
from keys.services import api_key_create
from tests.billing.helpers import account_state


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_add_credits_prints_the_new_balance(org_a):
    assert run("add_credits", "org-a", "2.50", "--note", "welcome") == "2.500000"
    assert run("add_credits", "org-a", "-0.5") == "2.000000"
    entries = LedgerEntry.objects.filter(organization=org_a).order_by("id")
    assert [(e.amount_micros, e.kind) for e in entries] == [
        (2_500_000, "adjustment"),
        (-500_000, "adjustment"),
    ]
    assert entries[0].note == "welcome"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "1"], "no organization"),
        (["org-a", "ten"], "invalid amount"),
        (["org-a", "NaN"], "invalid amount"),
        (["org-a", "0"], "must not be zero"),
        (["org-a", "-1"], "cannot cover"),
        (["org-a", "1e30"], "at most"),
        (["org-a", "10000000000000"], "at most"),
    ],
)
def test_add_credits_refuses_bad_input(org_a, args, message):
    with pytest.raises(CommandError, match=message):
        run("add_credits", *args)
    assert account_state(org_a) == (0, 0)


@pytest.mark.parametrize("usd", ["0.0000015", "-0.0000035", "1.0000001", "0.0000004"])
def test_add_credits_refuses_an_amount_finer_than_a_micro_dollar(funded_org_a, usd):
    """They were rounded: 0.0000015 added 2 µ$, -0.0000035 took 4 µ$."""
    entries = LedgerEntry.objects.count()

    with pytest.raises(CommandError, match="finer than a micro-dollar"):
        run("add_credits", "org-a", usd)

    assert account_state(funded_org_a) == (10_000_000, 0)
    assert LedgerEntry.objects.count() == entries


def test_add_credits_takes_zeros_past_the_sixth_decimal(org_a):
    assert run("add_credits", "org-a", "1.5000000") == "1.500000"


def test_create_key_refuses_a_limit_finer_than_a_micro_dollar(org_a):
    from keys.models import ApiKey

    with pytest.raises(CommandError, match="finer than a micro-dollar"):
        run("create_key", "org-a", "--limit-usd", "0.0000015")
    assert not ApiKey.objects.exists()

    run("create_key", "org-a", "--limit-usd", "2.5000000")
    assert ApiKey.objects.get().limit_micros == 2_500_000


def test_check_ledger_passes_a_consistent_ledger(funded_org_a, org_b):
    key = api_key_create(organization=funded_org_a)[0]
    reservation = reservation_create(api_key=key, amount_micros=5_000, request_id="req_1")
    reservation_settle(reservation=reservation, price=Price(1_000, 55, 1_055), usage={})
    assert run("check_ledger") == "ledger ok"


def test_check_ledger_passes_while_charges_land(funded_org_a):
    """Run against a live server: a charge committed while the check reads is no
    difference (each balance is compared with its ledger as of one moment)."""
    key = api_key_create(organization=funded_org_a)[0]
    ledger_table = LedgerEntry._meta.db_table
    charged = []

    def charge_after_the_ledger_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if ledger_table in sql and "SUM" in sql.upper() and not charged:
            charged.append(True)
            reservation = reservation_create(api_key=key, amount_micros=5_000, request_id="req_2")
            reservation_settle(reservation=reservation, price=Price(1_000, 55, 1_055), usage={})
        return result

    with connection.execute_wrapper(charge_after_the_ledger_read):
        assert run("check_ledger") == "ledger ok"
    assert charged


def test_check_ledger_reports_a_balance_moved_without_an_entry(funded_org_a, org_b):
    CreditAccount.objects.filter(organization=funded_org_a).update(balance_micros=10_000_001)
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("check_ledger", stdout=out)
    assert caught.value.returncode == 1
    assert "org-a: balance differs from ledger" in out.getvalue()
    assert "org-b" not in out.getvalue()


def test_check_ledger_reports_a_broken_running_balance(funded_org_a):
    LedgerEntry.objects.filter(organization=funded_org_a).update(balance_after_micros=1)
    with pytest.raises(CommandError):
        run("check_ledger")


def test_sweep_releases_reservations_left_by_crashed_workers(funded_org_a):
    key = api_key_create(organization=funded_org_a)[0]
    old = reservation_create(api_key=key, amount_micros=3_000, request_id="req_old")
    Reservation.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(hours=1))
    reservation_create(api_key=key, amount_micros=2_000, request_id="req_new")
    expired = RateLimitSlot.objects.create(token="t" * 32, api_key_id=key.pk, expires_ms=1)
    assert run("sweep_reservations") == (  # RESERVATION_TIMEOUT_S = 900
        "released 1 reservations, purged 1 rate-limit rows"
    )
    assert not RateLimitSlot.objects.filter(pk=expired.pk).exists()
    assert account_state(funded_org_a) == (10_000_000, 2_000)
    assert run("sweep_reservations", "--older-than", "0").startswith("released 1 ")
    assert account_state(funded_org_a) == (10_000_000, 0)


@pytest.mark.parametrize("older_than", ["-5", "nan", "inf", "1e300"])
def test_sweep_refuses_an_age_that_is_not_a_number_of_seconds(funded_org_a, older_than):
    """-5 released the holds of requests still running; the others were tracebacks."""
    key = api_key_create(organization=funded_org_a)[0]
    reservation_create(api_key=key, amount_micros=2_000, request_id="req_running")

    with pytest.raises(CommandError, match="--older-than"):
        run("sweep_reservations", "--older-than", older_than)

    assert account_state(funded_org_a) == (10_000_000, 2_000)
