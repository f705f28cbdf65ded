"""The Stripe webhook with payloads signed by Stripe's real scheme (see the fake)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection
from django.test import Client

from billing.models import CreditAccount, LedgerEntry, StripeEvent
from billing.services import credits_add
from tests.fakes.stripe_server import FakeStripe

WEBHOOK = "/stripe/webhook"


@pytest.fixture
def fake_stripe(settings):
    fake = FakeStripe(api_key="sk_test_fake_123", webhook_secret="whsec_test_abc").start()
    settings.STRIPE_SECRET_KEY = fake.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_API_BASE = fake.url
    yield fake
    fake.stop()


def _checkout(fake: FakeStripe, org, dollars: int = 20) -> dict:
    """A Checkout Session opened through the dashboard, as a customer would."""
    client = Client()
    client.force_login(org.memberships.get().user)
    response = client.post(
        "/dashboard/credits/buy/", {"amount_usd": str(dollars), "attempt": str(time.time_ns())}
    )
    assert response.status_code == 302
    return fake.sessions[response["Location"].rsplit("/", 1)[1]]


def _deliver(client, fake: FakeStripe, payload: bytes, **kwargs):
    headers = fake.signed(payload, **kwargs)
    return client.post(
        WEBHOOK,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
    )


def _completed(fake, session, *, payment_status="paid", event_id=None) -> bytes:
    obj = dict(session, status="complete", payment_status=payment_status)
    return fake.event("checkout.session.completed", obj, event_id=event_id)


def _balance(org) -> int:
    return CreditAccount.objects.get(organization=org).balance_micros


def test_a_paid_checkout_credits_the_balance(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a, dollars=20)

    response = _deliver(client, fake_stripe, _completed(fake_stripe, session))

    assert response.status_code == 200
    assert response.json()["outcome"] == "credited"
    assert _balance(org_a) == 20_000_000
    entry = LedgerEntry.objects.get(organization=org_a)
    assert entry.kind == "topup"
    assert entry.idempotency_key == f"stripe:checkout:{session['id']}"
    assert entry.stripe_event.type == "checkout.session.completed"
    assert entry.stripe_event.organization == org_a
    assert entry.stripe_event.processed_at is not None


def test_an_unpaid_checkout_waits_for_async_payment(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a, dollars=7)

    first = _deliver(client, fake_stripe, _completed(fake_stripe, session, payment_status="unpaid"))
    assert first.status_code == 200
    assert first.json()["outcome"] == "awaiting_payment"
    assert _balance(org_a) == 0

    paid = dict(session, status="complete", payment_status="paid")
    second = _deliver(
        client, fake_stripe, fake_stripe.event("checkout.session.async_payment_succeeded", paid)
    )
    assert second.status_code == 200
    assert second.json()["outcome"] == "credited"
    assert _balance(org_a) == 7_000_000

    # A late "completed" for the same session (another event id) must not credit again.
    third = _deliver(client, fake_stripe, _completed(fake_stripe, session))
    assert third.json()["outcome"] == "already_credited"
    assert _balance(org_a) == 7_000_000
    assert LedgerEntry.objects.filter(organization=org_a).count() == 1


def test_a_duplicate_delivery_credits_nothing(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a)
    payload = _completed(fake_stripe, session)

    responses = [_deliver(client, fake_stripe, payload) for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["outcome"] for r in responses] == ["credited", "duplicate", "duplicate"]
    assert _balance(org_a) == 20_000_000
    assert StripeEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_credit_once(org_a, fake_stripe):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL) for truly concurrent transactions")
    session = _checkout(fake_stripe, org_a)
    payload = _completed(fake_stripe, session)
    signature = fake_stripe.signed(payload)["Stripe-Signature"]
    barrier = threading.Barrier(4)
    results: list[int] = []

    def deliver() -> None:
        try:
            barrier.wait(timeout=10)
            response = Client().post(
                WEBHOOK, data=payload, content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signature,
            )  # fmt: skip
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results == [200, 200, 200, 200]
    assert _balance(org_a) == 20_000_000
    assert LedgerEntry.objects.filter(organization=org_a).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_events_for_one_session_credit_once(org_a, fake_stripe):
    """`completed` and `async_payment_succeeded` racing each other: one credit."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL) for truly concurrent transactions")
    session = _checkout(fake_stripe, org_a)
    paid = dict(session, status="complete", payment_status="paid")
    payloads = [
        fake_stripe.event(kind, paid)
        for kind in ["checkout.session.completed", "checkout.session.async_payment_succeeded"] * 2
    ]
    barrier = threading.Barrier(len(payloads))
    results: list[int] = []

    def deliver(payload: bytes) -> None:
        try:
            signature = fake_stripe.signed(payload)["Stripe-Signature"]
            barrier.wait(timeout=10)
            response = Client().post(
                WEBHOOK, data=payload, content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signature,
            )  # fmt: skip
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert results == [200] * len(payloads)
    assert _balance(org_a) == 20_000_000
    assert LedgerEntry.objects.filter(organization=org_a).count() == 1


def test_a_tampered_payload_is_refused(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a)
    payload = _completed(fake_stripe, session)
    signature = fake_stripe.signed(payload)["Stripe-Signature"]
    tampered = payload.replace(b'"amount_total": 2000', b'"amount_total": 2000000')
    assert tampered != payload

    response = client.post(
        WEBHOOK, data=tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert _balance(org_a) == 0
    assert not StripeEvent.objects.exists()


def test_a_wrong_secret_or_missing_header_is_refused(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a)
    payload = _completed(fake_stripe, session)
    forged = FakeStripe(api_key="x", webhook_secret="whsec_attacker").signed(payload)

    wrong = client.post(
        WEBHOOK, data=payload, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=forged["Stripe-Signature"],
    )  # fmt: skip
    missing = client.post(WEBHOOK, data=payload, content_type="application/json")
    garbage = client.post(
        WEBHOOK, data=b"not json", content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1"
    )

    assert [wrong.status_code, missing.status_code, garbage.status_code] == [400, 400, 400]
    assert _balance(org_a) == 0
    assert not StripeEvent.objects.exists()


def test_a_stale_timestamp_is_refused(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a)
    payload = _completed(fake_stripe, session)

    response = _deliver(client, fake_stripe, payload, timestamp=int(time.time()) - 600)

    assert response.status_code == 400
    assert _balance(org_a) == 0


def test_a_timestamp_from_the_future_is_refused(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a)
    payload = _completed(fake_stripe, session)

    response = _deliver(client, fake_stripe, payload, timestamp=int(time.time()) + 600)

    assert response.status_code == 400
    assert _balance(org_a) == 0


@pytest.mark.parametrize("amount", [0, -200, None, "12.5", -(10**9), True])
def test_a_checkout_amount_that_is_no_payment_credits_nothing(client, org_a, fake_stripe, amount):
    session = dict(_checkout(fake_stripe, org_a), amount_total=amount)

    response = _deliver(client, fake_stripe, _completed(fake_stripe, session))

    # Acknowledged (Stripe must not retry it for days), stored, not credited.
    assert response.status_code == 200
    assert response.json()["outcome"] == "invalid_amount"
    assert _balance(org_a) == 0
    assert not LedgerEntry.objects.exists()
    assert StripeEvent.objects.count() == 1


def test_without_a_webhook_secret_nothing_is_accepted(client, org_a, fake_stripe, settings):
    session = _checkout(fake_stripe, org_a)
    payload = _completed(fake_stripe, session)
    headers = fake_stripe.signed(payload)
    settings.STRIPE_WEBHOOK_SECRET = ""

    response = client.post(
        WEBHOOK, data=payload, content_type="application/json",
        HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
    )  # fmt: skip

    assert response.status_code == 400
    assert _balance(org_a) == 0


def test_a_refund_debits_what_was_refunded(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a, dollars=20)
    _deliver(client, fake_stripe, _completed(fake_stripe, session))

    partial = fake_stripe.charge_for(session["id"], amount_refunded_cents=500)
    first = _deliver(client, fake_stripe, fake_stripe.event("charge.refunded", partial))
    assert first.status_code == 200
    assert first.json()["outcome"] == "debited"
    assert _balance(org_a) == 15_000_000

    # Stripe reports the cumulative refunded amount: the second refund debits only its part.
    more = fake_stripe.charge_for(session["id"], amount_refunded_cents=1200)
    _deliver(client, fake_stripe, fake_stripe.event("charge.refunded", more))
    assert _balance(org_a) == 8_000_000

    # The same refund reported again under a new event id moves nothing.
    again = _deliver(client, fake_stripe, fake_stripe.event("charge.refunded", more))
    assert again.json()["outcome"] == "already_refunded"
    assert _balance(org_a) == 8_000_000
    refunds = LedgerEntry.objects.filter(organization=org_a, kind="refund")
    assert sorted(e.amount_micros for e in refunds) == [-7_000_000, -5_000_000]


def test_a_refund_never_takes_the_balance_below_zero(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a, dollars=20)
    _deliver(client, fake_stripe, _completed(fake_stripe, session))
    credits_add(organization=org_a, amount_micros=-18_000_000, kind="charge", idempotency_key="x")

    charge = fake_stripe.charge_for(session["id"], amount_refunded_cents=2000)
    response = _deliver(client, fake_stripe, fake_stripe.event("charge.refunded", charge))

    assert response.status_code == 200
    assert _balance(org_a) == 0
    entry = LedgerEntry.objects.get(organization=org_a, kind="refund")
    assert entry.amount_micros == -2_000_000
    assert "20000000 µ$ refunded" in entry.note
    assert "only 2000000 µ$ debited" in entry.note


def test_a_refund_finds_the_tenant_through_the_checkout(client, org_a, org_b, fake_stripe):
    session_a = _checkout(fake_stripe, org_a, dollars=10)
    session_b = _checkout(fake_stripe, org_b, dollars=10)
    _deliver(client, fake_stripe, _completed(fake_stripe, session_a))
    _deliver(client, fake_stripe, _completed(fake_stripe, session_b))

    # The fake's charges carry no metadata: the payment intent leads to the tenant.
    charge = fake_stripe.charge_for(session_b["id"], amount_refunded_cents=1000)
    _deliver(client, fake_stripe, fake_stripe.event("charge.refunded", charge))

    assert _balance(org_a) == 10_000_000
    assert _balance(org_b) == 0


def test_a_chargeback_debits_once_and_a_won_dispute_gives_it_back(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a, dollars=20)
    _deliver(client, fake_stripe, _completed(fake_stripe, session))
    dispute = fake_stripe.dispute_for(session["id"], amount_cents=1500)

    created = _deliver(client, fake_stripe, fake_stripe.event("charge.dispute.created", dispute))
    withdrawn = _deliver(
        client, fake_stripe, fake_stripe.event("charge.dispute.funds_withdrawn", dispute)
    )

    assert created.json()["outcome"] == "debited"
    assert withdrawn.json()["outcome"] == "already_debited"
    assert _balance(org_a) == 5_000_000

    won = dict(dispute, status="won")
    reinstated = _deliver(
        client, fake_stripe, fake_stripe.event("charge.dispute.funds_reinstated", won)
    )
    closed = _deliver(client, fake_stripe, fake_stripe.event("charge.dispute.closed", won))

    assert reinstated.json()["outcome"] == "reinstated"
    assert closed.json()["outcome"] == "already_reinstated"
    assert _balance(org_a) == 20_000_000
    moves = LedgerEntry.objects.filter(organization=org_a).exclude(kind="topup")
    assert sorted(e.amount_micros for e in moves) == [-15_000_000, 15_000_000]


def test_a_lost_dispute_keeps_the_debit_and_never_goes_below_zero(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a, dollars=20)
    _deliver(client, fake_stripe, _completed(fake_stripe, session))
    credits_add(organization=org_a, amount_micros=-12_000_000, kind="charge", idempotency_key="x")
    dispute = fake_stripe.dispute_for(session["id"])

    _deliver(client, fake_stripe, fake_stripe.event("charge.dispute.funds_withdrawn", dispute))
    lost = dict(dispute, status="lost")
    closed = _deliver(client, fake_stripe, fake_stripe.event("charge.dispute.closed", lost))

    assert closed.json()["outcome"] == "ignored"
    assert _balance(org_a) == 0
    entry = LedgerEntry.objects.get(organization=org_a, kind="refund")
    assert entry.amount_micros == -8_000_000
    assert "only 8000000 µ$ debited" in entry.note


def test_an_inquiry_moves_nothing(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a, dollars=20)
    _deliver(client, fake_stripe, _completed(fake_stripe, session))
    inquiry = fake_stripe.dispute_for(session["id"], status="warning_needs_response")

    response = _deliver(client, fake_stripe, fake_stripe.event("charge.dispute.created", inquiry))

    assert response.json()["outcome"] == "inquiry"
    assert _balance(org_a) == 20_000_000


def test_unknown_event_types_are_acknowledged(client, fake_stripe, db):
    payload = fake_stripe.event("customer.created", {"id": "cus_1", "object": "customer"})

    response = _deliver(client, fake_stripe, payload)

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    assert StripeEvent.objects.get().type == "customer.created"


def test_a_failure_answers_500_and_rolls_back_so_a_retry_works(client, org_a, fake_stripe):
    session = _checkout(fake_stripe, org_a, dollars=20)
    broken = {k: v for k, v in session.items() if k != "id"}  # a crash while processing
    broken.update(status="complete", payment_status="paid")
    event_id = "evt_retry_me"

    failed = _deliver(
        client,
        fake_stripe,
        fake_stripe.event("checkout.session.completed", broken, event_id=event_id),
    )
    assert failed.status_code == 500
    assert not StripeEvent.objects.exists()  # rolled back: Stripe's retry is processed anew

    fixed = _deliver(client, fake_stripe, _completed(fake_stripe, session, event_id=event_id))
    assert fixed.status_code == 200
    assert _balance(org_a) == 20_000_000


def test_the_webhook_takes_only_post(client, db):
    assert client.get(WEBHOOK).status_code == 405


def test_the_body_is_verified_raw(client, org_a, fake_stripe):
    """Re-serialising the JSON (other spacing) breaks the signature: the raw body is used."""
    session = _checkout(fake_stripe, org_a)
    payload = _completed(fake_stripe, session)
    signature = fake_stripe.signed(payload)["Stripe-Signature"]
    compact = json.dumps(json.loads(payload), separators=(",", ":")).encode()

    response = client.post(
        WEBHOOK, data=compact, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )

    assert response.status_code == 400
