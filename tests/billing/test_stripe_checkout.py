"""Buying credits: the dashboard opens a Stripe Checkout Session on the fake Stripe API."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Membership
from billing.models import LedgerEntry
from tests.fakes.stripe_server import FakeStripe

BUY = "/dashboard/credits/buy/"


@pytest.fixture
def fake_stripe(settings):
    fake = FakeStripe(api_key="sk_test_fake_123", webhook_secret="whsec_test_abc").start()
    settings.STRIPE_SECRET_KEY = fake.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_API_BASE = fake.url
    yield fake
    fake.stop()


@pytest.fixture
def owner_client(client, org_a):
    client.force_login(org_a.memberships.get().user)
    return client


def test_it_opens_a_checkout_session_in_payment_mode(owner_client, org_a, fake_stripe):
    response = owner_client.post(BUY, {"amount_usd": "20.00", "attempt": "attempt-1"})

    assert response.status_code == 302
    (session,) = fake_stripe.sessions.values()
    assert response["Location"] == session["url"]
    assert session["mode"] == "payment"
    assert session["amount_total"] == 2000
    assert session["currency"] == "usd"
    assert session["metadata"]["organization"] == org_a.public_id
    assert session["client_reference_id"] == org_a.public_id
    assert "{CHECKOUT_SESSION_ID}" in session["success_url"]
    (request,) = [r for r in fake_stripe.requests if r["path"] == "/v1/checkout/sessions"]
    assert request["headers"]["Authorization"] == "Bearer sk_test_fake_123"
    assert org_a.public_id in request["headers"]["Idempotency-Key"]
    pi_metadata = f"payment_intent_data[metadata][organization]={org_a.public_id}"
    assert pi_metadata.encode() in request["body"]
    # Opening a checkout credits nothing: only the webhook does.
    assert not LedgerEntry.objects.filter(organization=org_a).exists()


def test_it_reuses_the_session_when_the_form_is_submitted_twice(owner_client, fake_stripe):
    first = owner_client.post(BUY, {"amount_usd": "20", "attempt": "same-attempt"})
    second = owner_client.post(BUY, {"amount_usd": "20", "attempt": "same-attempt"})
    third = owner_client.post(BUY, {"amount_usd": "20", "attempt": "other-attempt"})

    assert first["Location"] == second["Location"]
    assert third["Location"] != first["Location"]
    assert len(fake_stripe.sessions) == 2


def test_it_refuses_less_than_the_minimum(owner_client, fake_stripe):
    response = owner_client.post(BUY, {"amount_usd": "4.99", "attempt": "a"})

    assert response.status_code == 400
    assert b"minimum top-up is $5" in response.content
    assert fake_stripe.sessions == {}


def test_it_refuses_garbage_amounts(owner_client, fake_stripe):
    for amount in ("abc", "-10", "1e9", "NaN", ""):
        response = owner_client.post(BUY, {"amount_usd": amount, "attempt": "a"})
        assert response.status_code == 400, amount
    assert fake_stripe.sessions == {}


def test_it_explains_that_top_ups_are_off_without_stripe(owner_client, settings):
    settings.STRIPE_SECRET_KEY = ""

    page = owner_client.get("/dashboard/credits/")
    response = owner_client.post(BUY, {"amount_usd": "20", "attempt": "a"}, follow=True)

    assert page.status_code == 200
    assert b"Top-ups are off" in page.content
    assert b'id="buy"' not in page.content
    assert b"Top-ups are off" in response.content


def test_a_plain_member_cannot_buy(client, org_a, fake_stripe):
    member = get_user_model().objects.create_user("m@example.com", "m@example.com", "pw-m-123456")
    Membership.objects.create(organization=org_a, user=member, role="member")
    client.force_login(member)

    response = client.post(BUY, {"amount_usd": "20", "attempt": "a"})

    assert response.status_code == 403
    assert fake_stripe.sessions == {}


def test_a_stripe_failure_is_shown_not_crashed(owner_client, fake_stripe, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_wrong"  # the fake answers 401

    response = owner_client.post(BUY, {"amount_usd": "20", "attempt": "a"})

    assert response.status_code == 502
    assert b"Stripe refused" in response.content


def test_the_success_and_cancel_pages_render(owner_client, fake_stripe):
    owner_client.post(BUY, {"amount_usd": "20", "attempt": "a"})
    (session_id,) = fake_stripe.sessions

    success = owner_client.get(f"/dashboard/credits/success/?session_id={session_id}")
    cancel = owner_client.get("/dashboard/credits/cancel/")

    assert success.status_code == 200
    assert b"being processed (unpaid)" in success.content
    assert cancel.status_code == 200
    assert b"Nothing was charged" in cancel.content


def test_the_success_page_says_nothing_of_another_tenants_session(owner_client, org_b, fake_stripe):
    owner_client.post(BUY, {"amount_usd": "20", "attempt": "a"})
    (session_id,) = fake_stripe.sessions
    outsider = org_b.memberships.get().user
    owner_client.force_login(outsider)

    page = owner_client.get(f"/dashboard/credits/success/?session_id={session_id}")

    assert page.status_code == 200
    assert page.context["payment_status"] is None
    assert b"unpaid" not in page.content
