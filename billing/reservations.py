"""Reserve the worst-case price before a provider runs; settle or release afterwards.

Every check is a conditional UPDATE whose row count decides (no read-then-write): the
tenant's balance minus other reservations, and the key's remaining spend limit for its
current period. Both happen in one transaction, so a refused request changes nothing.
Lock order everywhere: reservation, credit account, key (no deadlocks between paths).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, DateTimeField, F, Q, Value, When
from django.utils import timezone

from billing.durability import commit_without_waiting_for_disk
from billing.models import CreditAccount, LedgerEntry, Reservation, UsageRecord
from billing.money import micros_to_usd_str
from billing.periods import period_start_for
from billing.pricing import Price
from billing.reservations_pg import reserve_in_one_statement, settle_in_one_statement
from config.api import ApiError
from config.database import connection_check
from keys.models import ApiKey

logger = logging.getLogger(__name__)

_USAGE_TEXT = {"dialect": 20, "model": 200, "provider": 100, "error_code": 60}
# Upper bounds of the columns (a bad value from a provider must not fail the settlement).
_INT32, _INT64 = 2**31 - 1, 2**63 - 1
_USAGE_COUNTS = {
    "pages": _INT32,
    "input_tokens": _INT64,
    "output_tokens": _INT64,
    "latency_ms": _INT32,
    "upstream_latency_ms": _INT32,
    "http_status": 599,
}
SWEEP_BATCH = 500


def _stale_period(period_start) -> Q:
    return Q(period_start__isnull=True) | Q(period_start__lt=period_start)


def _key_reserve(*, key_id: int, amount_micros: int, period_start) -> int:
    """Add to the key's reserved amount if its limit allows; rolls the period over first."""
    usage, reserved = F("period_usage_micros"), F("period_reserved_micros")
    if period_start is None:
        fits = Q(limit_micros__isnull=True) | Q(limit_micros__gte=usage + reserved + amount_micros)
        changes = {"period_reserved_micros": reserved + amount_micros}
    else:
        stale = _stale_period(period_start)
        fits = (
            Q(limit_micros__isnull=True)
            | (stale & Q(limit_micros__gte=reserved + amount_micros))
            | (~stale & Q(limit_micros__gte=usage + reserved + amount_micros))
        )
        # A new period starts from zero usage; amounts still reserved stay reserved.
        changes = {
            "period_usage_micros": Case(
                When(stale, then=Value(0)), default=usage, output_field=BigIntegerField()
            ),
            "period_start": Case(
                When(stale, then=Value(period_start, output_field=DateTimeField())),
                default=F("period_start"),
            ),
            "period_reserved_micros": reserved + amount_micros,
        }
    return ApiKey.objects.filter(fits, pk=key_id).update(**changes)


def _available_micros(*, api_key: ApiKey, source: str, period_start) -> int:
    """What the refusing limit has left now: balance minus holds, or the key's limit
    minus its period's usage and holds."""
    if source == "balance":
        row = (
            CreditAccount.objects.filter(organization_id=api_key.organization_id)
            .values_list("balance_micros", "reserved_micros")
            .first()
        )
        return max(0, row[0] - row[1]) if row else 0
    key = ApiKey.objects.filter(pk=api_key.pk).values(
        "limit_micros", "period_usage_micros", "period_reserved_micros", "period_start"
    )
    row = key.first() or {}
    used = row.get("period_usage_micros", 0)
    if period_start is not None and (
        row.get("period_start") is None or row["period_start"] < period_start
    ):
        used = 0
    limit = row.get("limit_micros") or 0
    return max(0, limit - used - row.get("period_reserved_micros", 0))


def _insufficient(*, source: str, amount_micros: int, available: int) -> ApiError:
    required = micros_to_usd_str(amount_micros)
    if source == "balance":
        message = (
            f"Insufficient credits: this request needs up to ${required} and "
            f"${micros_to_usd_str(available)} is available. Add credits to continue."
        )
    else:
        message = (
            f"This key's spend limit is reached: this request needs up to ${required} and "
            f"${micros_to_usd_str(available)} of the limit remains."
        )
    return ApiError(
        402,
        "insufficient_credits",
        message,
        limit_source=source,
        required_usd=required,
        available_usd=micros_to_usd_str(available),
    )


# A refused reservation whose limit covers it by the time the 402 is written (other
# requests gave their holds back meanwhile) is tried again, this many times in all.
RESERVE_ATTEMPTS = 3


def reservation_create(*, api_key: ApiKey, amount_micros: int, request_id: str) -> Reservation:
    """Hold `amount_micros` against the tenant's balance and the key's limit, or 402."""
    if amount_micros < 0:
        raise ValueError("a reservation cannot be negative")
    connection_check()
    now = timezone.now()
    period_start = period_start_for(limit_reset=api_key.limit_reset, now=now)
    for _ in range(RESERVE_ATTEMPTS):
        if connection.vendor == "postgresql":
            failed, reservation = reserve_in_one_statement(
                api_key=api_key,
                amount_micros=amount_micros,
                request_id=request_id,
                period_start=period_start,
                now=now,
            )
        else:
            with transaction.atomic():
                failed, reservation = _reserve_portably(
                    api_key=api_key,
                    amount_micros=amount_micros,
                    request_id=request_id,
                    period_start=period_start,
                )
        if not failed:
            return reservation
        available = _available_micros(api_key=api_key, source=failed, period_start=period_start)
        if available < amount_micros:
            break
        # Holds were given back between the refusal and this read: the request fits now,
        # and a 402 saying "needs $X, more than $X is available" would be wrong.
    raise _insufficient(source=failed, amount_micros=amount_micros, available=available)


def _reserve_portably(
    *, api_key: ApiKey, amount_micros: int, request_id: str, period_start
) -> tuple[str | None, Reservation | None]:
    """The ORM path (SQLite), inside reservation_create's transaction."""
    commit_without_waiting_for_disk()
    held = CreditAccount.objects.filter(
        organization_id=api_key.organization_id,
        balance_micros__gte=F("reserved_micros") + amount_micros,
    ).update(reserved_micros=F("reserved_micros") + amount_micros)
    if not held:
        return "balance", None
    if not _key_reserve(key_id=api_key.pk, amount_micros=amount_micros, period_start=period_start):
        transaction.set_rollback(True)
        return "key_limit", None
    reservation = Reservation.objects.create(
        request_id=request_id,
        organization_id=api_key.organization_id,
        api_key=api_key,
        amount_micros=amount_micros,
        key_period_start=period_start,
    )
    return None, reservation


def _account_move(
    *, organization_id: int, release_micros: int, charge_micros: int, unheld: bool = False
):
    """Release a hold and debit the balance in one statement; returns (balance, reserved).

    `unheld`: the charge has no hold behind it, so it is taken only if the balance covers
    it beyond every other hold (None, and nothing moves, otherwise).
    """
    table = CreditAccount._meta.db_table
    condition = " AND balance_micros - reserved_micros >= %s" if unheld else ""
    params = [
        charge_micros,
        release_micros,
        connection.ops.adapt_datetimefield_value(timezone.now()),
        organization_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET balance_micros = balance_micros - %s, "
            "reserved_micros = reserved_micros - %s, updated_at = %s "
            f"WHERE organization_id = %s{condition} RETURNING balance_micros, reserved_micros",
            [*params, charge_micros] if unheld else params,
        )
        return cursor.fetchone()


def _key_move(*, reservation: Reservation, release_micros: int, charge_micros: int) -> None:
    if reservation.api_key_id is None:
        return
    # The charge counts in the period the reservation was made in: once the key rolled
    # over to a newer period (period_start after the reservation), it is not added there.
    same_period = Q(period_start__isnull=True) | Q(period_start__lte=reservation.created_at)
    changes = {"period_reserved_micros": F("period_reserved_micros") - release_micros}
    if charge_micros:
        changes["total_usage_micros"] = F("total_usage_micros") + charge_micros
        changes["period_usage_micros"] = Case(
            When(same_period, then=F("period_usage_micros") + charge_micros),
            default=F("period_usage_micros"),
            output_field=BigIntegerField(),
        )
    ApiKey.objects.filter(pk=reservation.api_key_id).update(**changes)


def _usage_fields(usage: dict) -> dict:
    fields = {}
    for name, length in _USAGE_TEXT.items():
        if usage.get(name) is not None:
            fields[name] = str(usage[name])[:length]
    for name, ceiling in _USAGE_COUNTS.items():
        if usage.get(name) is not None:
            fields[name] = min(ceiling, max(0, int(usage[name])))
    return fields


def _claim(reservation: Reservation, status: str) -> bool:
    """Close an active reservation; False when it was settled, released or swept already."""
    now = timezone.now()
    claimed = Reservation.objects.filter(
        pk=reservation.pk, status=Reservation.Status.ACTIVE
    ).update(status=status, closed_at=now)
    if claimed:
        reservation.status, reservation.closed_at = status, now
    return bool(claimed)


def _split(price: Price, charge_micros: int) -> tuple[int, int]:
    """(provider cost, fee) adding up to the charge when the charge is capped: both scaled
    down in proportion (the fee rounded down), so the platform's fee is kept in part."""
    if charge_micros >= price.total_micros:
        return price.provider_cost_micros, price.fee_micros
    fee = price.fee_micros * charge_micros // price.total_micros if price.total_micros else 0
    return charge_micros - fee, fee


def reservation_settle(*, reservation: Reservation, price: Price, usage: dict) -> UsageRecord:
    """Charge the actual price (never above the reservation) and record the request.

    The record carries two extra attributes for response headers, `balance_after_micros`
    and `available_after_micros` (balance minus other reservations), at no extra query.
    """
    connection_check()
    charge = max(0, min(price.total_micros, reservation.amount_micros))
    if price.total_micros > reservation.amount_micros:
        logger.warning(
            "request %s: actual price %s µ$ above the reservation %s µ$; charged the reservation",
            reservation.request_id,
            price.total_micros,
            reservation.amount_micros,
        )
    if connection.vendor == "postgresql":
        cost, fee = _split(price, charge)
        record = settle_in_one_statement(
            reservation=reservation,
            charge_micros=charge,
            usage_values={**_usage_fields(usage), "provider_cost_micros": cost, "fee_micros": fee},
            now=timezone.now(),
            synchronous=settings.BILLING_SYNCHRONOUS_CHARGES,
        )
        if record is not None:
            return record
    with transaction.atomic():
        if not settings.BILLING_SYNCHRONOUS_CHARGES:
            commit_without_waiting_for_disk()
        held = reservation.amount_micros
        if not _claim(reservation, Reservation.Status.SETTLED):
            existing = UsageRecord.objects.filter(request_id=reservation.request_id).first()
            if existing is not None:
                return existing
            # The sweeper released this hold (a very slow call): charge only if the
            # balance still covers it, without taking anyone else's reservation.
            held = 0
        row = _account_move(
            organization_id=reservation.organization_id,
            release_micros=held,
            charge_micros=charge,
            unheld=not held,
        )
        if row is None:
            logger.warning("request %s: swept and uncovered, not charged", reservation.request_id)
            charge = 0
            row = _account_move(
                organization_id=reservation.organization_id, release_micros=0, charge_micros=0
            )
        balance, reserved = row
        _key_move(reservation=reservation, release_micros=held, charge_micros=charge)
        cost, fee = _split(price, charge)
        record = UsageRecord.objects.create(
            **_usage_fields(usage),
            request_id=reservation.request_id,
            organization_id=reservation.organization_id,
            api_key_id=reservation.api_key_id,
            provider_cost_micros=cost,
            fee_micros=fee,
            total_micros=charge,
            status=UsageRecord.Status.SUCCEEDED,
        )
        if charge:
            LedgerEntry.objects.create(
                organization_id=reservation.organization_id,
                amount_micros=-charge,
                balance_after_micros=balance,
                kind=LedgerEntry.Kind.CHARGE,
                idempotency_key=f"charge:{reservation.request_id}",
                usage_record=record,
            )
    record.balance_after_micros = balance
    record.available_after_micros = balance - reserved
    return record


def charge_refund(*, record: UsageRecord, error_code: str, http_status: int) -> bool:
    """Give a settled request's charge back when its answer could not be sent (a fault
    after settlement, e.g. an answer no JSON can hold): the record becomes a failed one at
    zero cost, a `refund` entry returns the amount, and the key's counters drop by it.
    Once per record; False when it was not a succeeded one (nothing moves)."""
    connection_check()
    amount = record.total_micros
    with transaction.atomic():
        # Account row first, as everywhere: the record's claim below then cannot race a
        # second refund of it.
        account = CreditAccount.objects.select_for_update(no_key=True).get(
            organization_id=record.organization_id
        )
        claimed = UsageRecord.objects.filter(
            pk=record.pk, status=UsageRecord.Status.SUCCEEDED
        ).update(
            status=UsageRecord.Status.FAILED,
            http_status=http_status,
            error_code=error_code[:60],
            provider_cost_micros=0,
            fee_micros=0,
            total_micros=0,
        )
        if not claimed:
            return False
        if amount:
            balance = account.balance_micros + amount
            CreditAccount.objects.filter(pk=account.pk).update(
                balance_micros=F("balance_micros") + amount, updated_at=timezone.now()
            )
            LedgerEntry.objects.create(
                organization_id=record.organization_id,
                amount_micros=amount,
                balance_after_micros=balance,
                kind=LedgerEntry.Kind.REFUND,
                idempotency_key=f"refund:{record.request_id}",
                usage_record=record,
                note=f"request {record.request_id}: the answer could not be sent ({error_code})",
            )
            if record.api_key_id is not None:
                same_period = Q(period_start__isnull=True) | Q(period_start__lte=record.created_at)
                ApiKey.objects.filter(pk=record.api_key_id).update(
                    total_usage_micros=F("total_usage_micros") - amount,
                    period_usage_micros=Case(
                        When(same_period, then=F("period_usage_micros") - amount),
                        default=F("period_usage_micros"),
                        output_field=BigIntegerField(),
                    ),
                )
    record.status = UsageRecord.Status.FAILED
    record.total_micros = record.provider_cost_micros = record.fee_micros = 0
    logger.warning("request %s: refunded %s µ$ (%s)", record.request_id, amount, error_code)
    return True


def _release_hold(reservation: Reservation) -> tuple[int, int] | None:
    row = _account_move(
        organization_id=reservation.organization_id,
        release_micros=reservation.amount_micros,
        charge_micros=0,
    )
    _key_move(reservation=reservation, release_micros=reservation.amount_micros, charge_micros=0)
    return row


def reservation_release(*, reservation: Reservation, usage: dict) -> UsageRecord:
    """Give the hold back (the call failed) and record the failed request at zero cost."""
    connection_check()
    row = None
    with transaction.atomic():
        commit_without_waiting_for_disk()
        if _claim(reservation, Reservation.Status.RELEASED):
            row = _release_hold(reservation)
        else:
            existing = UsageRecord.objects.filter(request_id=reservation.request_id).first()
            if existing is not None:
                return existing
        fields = _usage_fields(usage)
        fields.setdefault("error_code", "upstream_failed")
        if fields.get("http_status", 200) < 400:
            fields["http_status"] = 502
        record = UsageRecord.objects.create(
            **fields,
            request_id=reservation.request_id,
            organization_id=reservation.organization_id,
            api_key_id=reservation.api_key_id,
            status=UsageRecord.Status.FAILED,
        )
    if row is not None:
        record.balance_after_micros = row[0]
        record.available_after_micros = row[0] - row[1]
    return record


def reservation_sweep(*, older_than_s: float) -> int:
    """Release active reservations older than `older_than_s` (left by crashed workers)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    released = 0
    while True:
        batch = list(
            Reservation.objects.filter(
                status=Reservation.Status.ACTIVE, created_at__lt=cutoff
            ).order_by("pk")[:SWEEP_BATCH]
        )
        if not batch:
            return released
        for reservation in batch:
            with transaction.atomic():
                commit_without_waiting_for_disk()
                if _claim(reservation, Reservation.Status.RELEASED):
                    _release_hold(reservation)
                    released += 1
