"""Reservations under real concurrency: 50 threads, each with its own PostgreSQL connection."""

import threading

import pytest
from django.db import connection, connections

from accounts.services import tenant_create
from billing.models import CreditAccount, LedgerEntry, Reservation, UsageRecord
from billing.pricing import Price
from billing.reservations import reservation_create, reservation_settle
from billing.services import credits_add
from config.api import ApiError
from keys.services import api_key_create
from tests.billing.helpers import SEEDED_TRANSACTIONS, USAGE, assert_ledger_clean

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): concurrent connections are the point of it",
)

THREADS = 50
PRICE = Price(provider_cost_micros=1_000, fee_micros=55, total_micros=1_055)


def _run_concurrently(key) -> tuple[list[str], list[ApiError], int]:
    """50 threads reserve and settle at once; a watcher samples the balance meanwhile."""
    barrier = threading.Barrier(THREADS + 1)
    done = threading.Event()
    results: list = []
    lowest = [None]

    def request(n: int) -> None:
        try:
            barrier.wait()
            reservation = reservation_create(
                api_key=key, amount_micros=PRICE.total_micros, request_id=f"req_c{n}"
            )
            reservation_settle(reservation=reservation, price=PRICE, usage=USAGE)
            results.append(f"req_c{n}")
        except ApiError as error:
            results.append(error)
        finally:
            connections.close_all()

    def watch() -> None:
        try:
            barrier.wait()
            while not done.is_set():
                account = CreditAccount.objects.get(organization_id=key.organization_id)
                free = account.balance_micros - account.reserved_micros
                lowest[0] = free if lowest[0] is None else min(lowest[0], free)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request, args=(n,)) for n in range(THREADS)]
    watcher = threading.Thread(target=watch)
    for thread in [*threads, watcher]:
        thread.start()
    for thread in threads:
        thread.join(60)
    done.set()
    watcher.join(10)
    succeeded = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, ApiError)]
    return succeeded, refused, lowest[0]


@SEEDED_TRANSACTIONS
def test_a_balance_covering_ten_lets_exactly_ten_through():
    org = tenant_create(slug="race-balance", owner_email="race@example.com")
    credits_add(organization=org, amount_micros=10 * PRICE.total_micros, idempotency_key="fund")
    key = api_key_create(organization=org)[0]

    succeeded, refused, lowest = _run_concurrently(key)

    assert len(succeeded) == 10
    assert len(refused) == 40
    assert {(e.status, e.code, e.extra["limit_source"]) for e in refused} == {
        (402, "insufficient_credits", "balance")
    }
    account = CreditAccount.objects.get(organization=org)
    assert (account.balance_micros, account.reserved_micros) == (0, 0)
    assert lowest is not None and lowest >= 0
    assert LedgerEntry.objects.filter(organization=org, kind="charge").count() == 10
    assert UsageRecord.objects.filter(organization=org, status="succeeded").count() == 10
    assert Reservation.objects.filter(organization=org).count() == 10
    assert_ledger_clean()


@SEEDED_TRANSACTIONS
def test_a_key_limit_covering_ten_lets_exactly_ten_through():
    org = tenant_create(slug="race-limit", owner_email="race-limit@example.com")
    credits_add(organization=org, amount_micros=1_000_000_000, idempotency_key="fund")
    key = api_key_create(organization=org, limit_micros=10 * PRICE.total_micros)[0]

    succeeded, refused, _ = _run_concurrently(key)

    assert len(succeeded) == 10
    assert len(refused) == 40
    assert {e.extra["limit_source"] for e in refused} == {"key_limit"}
    key.refresh_from_db()
    assert key.period_usage_micros == key.limit_micros == key.total_usage_micros
    assert key.period_reserved_micros == 0
    account = CreditAccount.objects.get(organization=org)
    assert (account.balance_micros, account.reserved_micros) == (
        1_000_000_000 - 10 * PRICE.total_micros,
        0,
    )
    assert_ledger_clean()
