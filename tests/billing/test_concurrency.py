"""Reservations under real concurrency: 50 threads, each with its own PostgreSQL connection."""

import base64
import json
import threading

import pytest
from django.db import connection, connections

from accounts.services import tenant_create
from billing.models import CreditAccount, LedgerEntry, Reservation, UsageRecord
from billing.pricing import Price, price_actual, price_worst_case
from billing.reservations import reservation_create, reservation_settle
from billing.services import credits_add
from config.api import ApiError
from keys.services import api_key_create
from ocr.dialects.invoice import LLM_WORST_INPUT_TOKENS, LLM_WORST_OUTPUT_TOKENS
from ocr.models import ProviderModel
from tests.billing.helpers import SEEDED_TRANSACTIONS, USAGE, assert_ledger_clean
from tests.ocr.dialect_support import client_with
from tests.ocr.documents import make_pdf

pytest_plugins = ["tests.fakes.fixtures"]

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): concurrent connections are the point of it",
)

THREADS = 50
INVOICE_ANSWER = {
    "vendor": {"name": "ACME", "address": None, "tax_id": None},
    "invoice_number": "42",
    "invoice_date": None,
    "due_date": None,
    "currency": "USD",
    "subtotal": "1.00",
    "tax": "0.00",
    "total": "1.00",
    "line_items": [],
    "bill_to": None,
}
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


INVOICE_THREADS = 20


@SEEDED_TRANSACTIONS
def test_invoices_with_a_chat_step_covering_five_let_exactly_five_through(
    fake_openai, provider_for
):
    """Seed 002 with a chat model holds two amounts, the parse's and the extraction's.
    Held one after the other, 20 requests at once took the extraction holds of more than
    five requests and then refused each other's parse: fewer than five got through on a
    balance covering five. Both are held together, or neither."""
    org = tenant_create(slug="race-invoice", owner_email="race-invoice@example.com")
    served = provider_for(fake_openai, model="extractor", prices={"per_request_micros": 1_000})
    fake_openai.replies.extend([json.dumps(INVOICE_ANSWER)] * INVOICE_THREADS)
    parse = price_worst_case(
        model=ProviderModel.objects.get(name="local/rapidocr"), pages=1, organization=org
    )
    extraction = price_actual(
        model=served,
        pages=0,
        input_tokens=LLM_WORST_INPUT_TOKENS,
        output_tokens=LLM_WORST_OUTPUT_TOKENS,
        organization=org,
    )
    each = parse.total_micros + extraction.total_micros
    credits_add(organization=org, amount_micros=5 * each, idempotency_key="fund")
    secret = api_key_create(organization=org)[1]
    body = {"pdfBase64": base64.b64encode(make_pdf([["Invoice No: 42", "Total 1.00"]])).decode()}
    body["model"] = "extractor"
    barrier = threading.Barrier(INVOICE_THREADS)
    statuses: list[int] = []

    def request() -> None:
        try:
            client = client_with(secret)
            barrier.wait()
            response = client.post("/api/ocr-structured-v4", body, format="json")
            statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(INVOICE_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(statuses) == [200] * 5 + [402] * (INVOICE_THREADS - 5)
    account = CreditAccount.objects.get(organization=org)
    assert (account.balance_micros, account.reserved_micros) == (0, 0)
    assert_ledger_clean()
