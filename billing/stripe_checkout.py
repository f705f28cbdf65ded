"""Stripe Checkout for prepaid top-ups. Credits are added only by the webhook, never here.

The Session is created in payment mode for the chosen amount, with the organization in
its metadata (and in the PaymentIntent's, so refunds can be traced back) and a stable
idempotency key per form submission, so a double click cannot open two payments.
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe
from django.conf import settings

from accounts.models import Organization
from billing.money import MICROS_PER_USD
from config.api import ApiError

STRIPE_TIMEOUT_S = 20.0
MICROS_PER_CENT = MICROS_PER_USD // 100


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def stripe_client() -> stripe.StripeClient:
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses=base,
        max_network_retries=2,
        http_client=stripe.HTTPXClient(timeout=STRIPE_TIMEOUT_S, allow_sync_methods=True),
    )


@dataclass
class CheckoutSession:
    id: str
    url: str


def checkout_session_create(
    *,
    organization: Organization,
    amount_micros: int,
    attempt: str,
    success_url: str,
    cancel_url: str,
    customer_email: str | None = None,
) -> CheckoutSession:
    """A Checkout Session for `amount_micros` (whole cents). 503 when Stripe is off."""
    if not stripe_enabled():
        raise ApiError(503, "topups_disabled", "Top-ups are off: Stripe is not configured.")
    minimum = settings.STRIPE_MIN_TOPUP_USD * MICROS_PER_USD
    if amount_micros < minimum or amount_micros % MICROS_PER_CENT:
        raise ApiError(
            400, "invalid_amount", f"Top-ups are whole cents, ${settings.STRIPE_MIN_TOPUP_USD}+."
        )
    cents = amount_micros // MICROS_PER_CENT
    metadata = {"organization": organization.public_id, "credit_micros": str(amount_micros)}
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": cents,
                    "product_data": {"name": f"OCR credits for {organization.name}"},
                },
            }
        ],
        "client_reference_id": organization.public_id,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    if customer_email:
        params["customer_email"] = customer_email
    try:
        session = stripe_client().v1.checkout.sessions.create(
            params,
            options={"idempotency_key": f"checkout:{organization.public_id}:{attempt}:{cents}"},
        )
    except stripe.StripeError as error:
        raise ApiError(502, "stripe_error", f"Stripe refused the payment: {error}") from error
    return CheckoutSession(id=session.id, url=session.url)


def checkout_session_status(*, organization: Organization, session_id: str) -> str | None:
    """The Session's payment status for the success page (None when unknown). Another
    tenant's Session is unknown: the id comes from the query string."""
    if not stripe_enabled() or not session_id.startswith("cs_"):
        return None
    try:
        session = stripe_client().v1.checkout.sessions.retrieve(session_id)
    except stripe.StripeError:
        return None
    if getattr(session, "client_reference_id", None) != organization.public_id:
        return None
    return session.payment_status
