from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import Organization
from billing.models import CreditAccount, LedgerEntry


def credits_add(
    *,
    organization: Organization,
    amount_micros: int,
    kind: str = LedgerEntry.Kind.ADJUSTMENT,
    idempotency_key: str,
    note: str = "",
    created_by=None,
    stripe_event=None,
) -> LedgerEntry | None:
    """Move the balance by `amount_micros` with its ledger entry, in one transaction.

    Returns None when an entry with this idempotency key exists (nothing moves), also when
    a concurrent call with the same key wins the race. A debit never takes the balance
    below what requests in flight have reserved (so their settlement cannot fail): it
    raises ValueError instead.
    """
    if LedgerEntry.objects.filter(idempotency_key=idempotency_key).exists():
        return None
    try:
        with transaction.atomic():
            account, _ = CreditAccount.objects.get_or_create(organization=organization)
            updated = CreditAccount.objects.filter(pk=account.pk)
            if amount_micros < 0:
                updated = updated.filter(balance_micros__gte=F("reserved_micros") - amount_micros)
            if not updated.update(balance_micros=F("balance_micros") + amount_micros):
                raise ValueError("the balance cannot cover this debit")
            # Our UPDATE holds the row lock until commit: this read sees our own total.
            account.refresh_from_db(fields=["balance_micros"])
            return LedgerEntry.objects.create(
                organization=organization,
                amount_micros=amount_micros,
                balance_after_micros=account.balance_micros,
                kind=kind,
                idempotency_key=idempotency_key,
                note=note,
                created_by=created_by,
                stripe_event=stripe_event,
            )
    except IntegrityError:
        if LedgerEntry.objects.filter(idempotency_key=idempotency_key).exists():
            return None
        raise
