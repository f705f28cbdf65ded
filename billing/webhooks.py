"""Stripe webhook: verify, record the event once, credit or debit in the same transaction.

Order matters: the signature is checked on the raw body before anything else is read or
written (400 on failure). Then one transaction inserts the `StripeEvent` (its id is
unique, so a duplicate or replayed delivery stops there with 200 and moves nothing) and
applies the event. A top-up's ledger entry is keyed on the Checkout Session id, so the
two events that can announce one payment (`completed` when paid at once,
`async_payment_succeeded` later) credit it exactly once. Any exception rolls everything
back and answers 500, so Stripe retries; unknown event types answer 200.
"""

from __future__ import annotations

import json
import logging
import time

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts.models import Organization
from billing.models import CreditAccount, LedgerEntry, StripeEvent
from billing.services import credits_add
from billing.stripe_checkout import MICROS_PER_CENT
from config.errors import require_methods

logger = logging.getLogger(__name__)

# How far a signature's timestamp may be from now, either way (Stripe's default: 300 s).
SIGNATURE_TOLERANCE_S = 300
CHECKOUT_PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@csrf_exempt
@require_methods("POST")
def stripe_webhook(request):
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return _error(400, "webhook_not_configured", "STRIPE_WEBHOOK_SECRET is not set.")
    payload = request.body
    header = request.headers.get("Stripe-Signature")
    try:
        stripe.Webhook.construct_event(payload, header, secret, tolerance=SIGNATURE_TOLERANCE_S)
    except (ValueError, stripe.SignatureVerificationError):
        return _error(400, "invalid_signature", "The Stripe signature does not verify.")
    if not _signed_recently(header):
        # The library refuses old timestamps only; one from the future is refused too.
        return _error(400, "invalid_signature", "The Stripe signature's time is not now.")
    event = json.loads(payload)
    try:
        outcome = stripe_event_process(event=event)
    except Exception:
        logger.exception("Stripe event %s failed; Stripe will retry", event.get("id"))
        return _error(500, "webhook_failed", "The event could not be processed.")
    return JsonResponse({"received": True, "outcome": outcome})


def _signed_recently(header: str | None) -> bool:
    stamps = [part[2:] for part in (header or "").split(",") if part.strip().startswith("t=")]
    try:
        signed_at = int(stamps[0].strip())
    except (IndexError, ValueError):
        return False
    return abs(time.time() - signed_at) <= SIGNATURE_TOLERANCE_S


def stripe_event_process(*, event: dict) -> str:
    """Apply one verified event at most once. Returns what happened, for logs and tests."""
    handler = HANDLERS.get(event["type"])
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(
                    event_id=event["id"],
                    type=event["type"],
                    livemode=bool(event.get("livemode")),
                    payload=event,
                )
        except IntegrityError:
            return "duplicate"
        outcome = "ignored"
        if handler is not None:
            outcome = handler(record=record, obj=event["data"]["object"])
        record.processed_at = timezone.now()
        record.save(update_fields=["processed_at", "organization"])
    return outcome


def _organization(metadata: dict | None, fallback: str | None = None) -> Organization | None:
    public_id = (metadata or {}).get("organization") or fallback
    if not public_id:
        return None
    return Organization.objects.filter(public_id=public_id).first()


def checkout_paid(*, record: StripeEvent, obj: dict) -> str:
    if obj.get("mode") != "payment":
        return "ignored"
    if obj.get("payment_status") != "paid":
        # Delayed methods (bank debits) complete unpaid; async_payment_succeeded follows.
        return "awaiting_payment"
    organization = _organization(obj.get("metadata"), obj.get("client_reference_id"))
    if organization is None:
        logger.error("Checkout Session %s names no known organization", obj.get("id"))
        return "unknown_organization"
    record.organization = organization
    if (obj.get("currency") or "usd").lower() != "usd":
        logger.error("Checkout Session %s is not in USD; not credited", obj.get("id"))
        return "unsupported_currency"
    amount_cents = obj.get("amount_total")
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        # Stripe never sends these for a paid payment; kept (the event is stored), not
        # credited, and answered 200 so Stripe does not retry it forever.
        logger.error(
            "Checkout Session %s has amount_total %r; not credited", obj.get("id"), amount_cents
        )
        return "invalid_amount"
    amount_micros = amount_cents * MICROS_PER_CENT
    try:
        entry = credits_add(
            organization=organization,
            amount_micros=amount_micros,
            kind=LedgerEntry.Kind.TOPUP,
            idempotency_key=f"stripe:checkout:{obj['id']}",
            note=f"Stripe Checkout {obj['id']}",
            stripe_event=record,
        )
    except IntegrityError:
        # Another event for the same session credited it concurrently.
        return "already_credited"
    return "credited" if entry is not None else "already_credited"


def _organization_for_charge(obj: dict) -> Organization | None:
    organization = _organization(obj.get("metadata"))
    if organization is not None or not obj.get("payment_intent"):
        return organization
    # Charges made before metadata was copied: find the Checkout Session that paid it.
    topup = (
        StripeEvent.objects.filter(
            type__in=CHECKOUT_PAID_EVENTS,
            payload__data__object__payment_intent=obj["payment_intent"],
            organization__isnull=False,
        )
        .select_related("organization")
        .first()
    )
    return topup.organization if topup else None


def _charge_owner(*, record: StripeEvent, obj: dict) -> Organization | str:
    """The tenant a charge (or a dispute on it) belongs to, set on the event's record; or
    the outcome to answer when there is none, or when the charge is not in USD."""
    organization = _organization_for_charge(obj)
    if organization is None:
        logger.error(
            "%s %s is on a charge of no known organization", obj.get("object"), obj.get("id")
        )
        return "unknown_organization"
    record.organization = organization
    if (obj.get("currency") or "usd").lower() != "usd":
        return "unsupported_currency"
    return organization


def charge_refunded(*, record: StripeEvent, obj: dict) -> str:
    """Debit what was refunded since the last refund event of this charge.

    `amount_refunded` is cumulative, so each ledger key carries the cumulative amount it
    accounts for and partial refunds debit only their own part. The balance never goes
    below zero: the debit is capped at the balance and the note records the shortfall.
    """
    organization = _charge_owner(record=record, obj=obj)
    if isinstance(organization, str):
        return organization
    charge_id = obj["id"]
    refunded_cents = int(obj.get("amount_refunded") or 0)
    # Serialize refunds of one tenant: the row lock makes "previous" below exact.
    account, _ = CreditAccount.objects.get_or_create(organization=organization)
    account = CreditAccount.objects.select_for_update().get(pk=account.pk)
    prefix = f"stripe:refund:{charge_id}:"
    keys = LedgerEntry.objects.filter(
        organization=organization, idempotency_key__startswith=prefix
    ).values_list("idempotency_key", flat=True)
    previous_cents = max((int(key.rsplit(":", 1)[1]) for key in keys), default=0)
    if refunded_cents <= previous_cents:
        return "already_refunded"
    wanted = (refunded_cents - previous_cents) * MICROS_PER_CENT
    # Requests in flight hold part of the balance; the debit takes only what is free.
    _debit_available(
        organization=organization,
        wanted=wanted,
        key=f"{prefix}{refunded_cents}",
        note=f"Stripe refund on {charge_id}: {wanted} µ$ refunded",
        record=record,
    )
    return "debited"


def _debit_available(
    *, organization: Organization, wanted: int, key: str, note: str, record: StripeEvent
) -> LedgerEntry | None:
    """Debit `wanted` µ$ as a refund entry, capped at what requests in flight do not
    hold (the balance never goes below zero); the note records any shortfall."""
    account, _ = CreditAccount.objects.get_or_create(organization=organization)
    account = CreditAccount.objects.select_for_update().get(pk=account.pk)
    debit = min(wanted, max(account.balance_micros - account.reserved_micros, 0))
    if debit < wanted:
        note += f"; only {debit} µ$ debited, the available balance was lower"
    return credits_add(
        organization=organization,
        amount_micros=-debit,
        kind=LedgerEntry.Kind.REFUND,
        idempotency_key=key,
        note=note,
        stripe_event=record,
    )


def dispute_funds_withdrawn(*, record: StripeEvent, obj: dict) -> str:
    """A chargeback: the disputed amount left the platform's Stripe balance, so it leaves
    the tenant's credits (capped at the available balance, as a refund is).

    Stripe announces it twice (`charge.dispute.created`, then `funds_withdrawn`); both
    carry the dispute, whose id keys the debit, so it happens once. An inquiry
    (`warning_*` status) moves no money and debits nothing.
    """
    organization = _charge_owner(record=record, obj=obj)
    if isinstance(organization, str):
        return organization
    if str(obj.get("status") or "").startswith("warning_"):
        return "inquiry"
    amount_cents = obj.get("amount")
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        logger.error("Dispute %s has amount %r; not debited", obj.get("id"), amount_cents)
        return "invalid_amount"
    wanted = amount_cents * MICROS_PER_CENT
    entry = _debit_available(
        organization=organization,
        wanted=wanted,
        key=f"stripe:dispute:{obj['id']}:withdrawn",
        note=f"Stripe dispute {obj['id']} on {obj.get('charge')}: {wanted} µ$ withdrawn",
        record=record,
    )
    return "debited" if entry is not None else "already_debited"


def dispute_funds_reinstated(*, record: StripeEvent, obj: dict) -> str:
    """A dispute won: what its withdrawal debited comes back, once (`funds_reinstated`
    and `charge.dispute.closed` with status `won` both announce it)."""
    if record.type == "charge.dispute.closed" and obj.get("status") != "won":
        return "ignored"
    withdrawn = LedgerEntry.objects.filter(
        idempotency_key=f"stripe:dispute:{obj.get('id')}:withdrawn"
    ).first()
    if withdrawn is None:
        return "nothing_withdrawn"
    record.organization = withdrawn.organization
    entry = credits_add(
        organization=withdrawn.organization,
        amount_micros=-withdrawn.amount_micros,
        kind=LedgerEntry.Kind.ADJUSTMENT,
        idempotency_key=f"stripe:dispute:{obj['id']}:reinstated",
        note=f"Stripe dispute {obj['id']} won: {-withdrawn.amount_micros} µ$ reinstated",
        stripe_event=record,
    )
    return "reinstated" if entry is not None else "already_reinstated"


HANDLERS = {
    "checkout.session.completed": checkout_paid,
    "checkout.session.async_payment_succeeded": checkout_paid,
    "charge.refunded": charge_refunded,
    "charge.dispute.created": dispute_funds_withdrawn,
    "charge.dispute.funds_withdrawn": dispute_funds_withdrawn,
    "charge.dispute.funds_reinstated": dispute_funds_reinstated,
    "charge.dispute.closed": dispute_funds_reinstated,
}
