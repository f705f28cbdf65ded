"""Reservation and settlement on PostgreSQL, each in one statement (data-modifying CTEs).

The hot path of every request, with the same semantics as the portable ORM path in
`billing.reservations` (which SQLite takes), in fewer round trips:

- reserve: lock the credit account if the balance covers the amount, then the key if its
  limit (after a period roll-over) does; only when both are locked, the two holds and
  the reservation row. Nothing is written when either limit refuses, so the statement
  runs as its own transaction (no BEGIN/COMMIT round trips).
- settle: claim the reservation, release the hold and debit the balance, move the key's
  counters, insert the usage record and the charge entry, all only when the claim
  succeeded. A statement is atomic on its own: no BEGIN/COMMIT round trips. When the
  reservation is no longer active (settled twice, swept), nothing happens and the caller
  takes the general path, which handles those cases.

Rows are locked in the same order as everywhere else (credit account, then key): the
key UPDATE depends on the account UPDATE's result, and in the settlement the key UPDATE
is the unreferenced CTE, which PostgreSQL runs last.
"""

from __future__ import annotations

import functools
from datetime import datetime

from django.db import connection, models

from billing.models import CreditAccount, LedgerEntry, Reservation, UsageRecord
from config.prepared import prepared_cursor
from keys.models import ApiKey

# Values the field would send unchanged, by the field's internal type: these skip
# get_db_prep_save (about a third of the settlement's CPU otherwise).
_PLAIN_TYPES: dict[str, type] = {
    "CharField": str,
    "TextField": str,
    "IntegerField": int,
    "BigIntegerField": int,
    "PositiveIntegerField": int,
    "PositiveBigIntegerField": int,
    "SmallIntegerField": int,
    "ForeignKey": int,
    "BooleanField": bool,
    "DateTimeField": datetime,
}


@functools.cache
def _insert_columns(
    model: type[models.Model],
) -> tuple[tuple[str, models.Field, str, type | None], ...]:
    """(quoted column, field, SQL cast type, plain value type) of every concrete non-key
    column, once per process: asking the fields for their types costs more than the
    statement."""
    quote = connection.ops.quote_name
    return tuple(
        (
            quote(field.column),
            field,
            field.cast_db_type(connection),
            _PLAIN_TYPES.get(field.get_internal_type()),
        )
        for field in model._meta.concrete_fields
        if not field.primary_key
    )


@functools.cache
def _insert_sql(
    model: type[models.Model], computed: tuple[tuple[str, str], ...] = ()
) -> tuple[str, str]:
    """(column list, select list) for `INSERT INTO t (cols) SELECT …`, once per process.

    Every concrete column gets a value: computed SQL, or a parameter cast to the column's
    type (untyped parameters in a SELECT list would be read as text).
    """
    expressions = dict(computed)
    columns, selects = [], []
    for column, field, cast, _ in _insert_columns(model):
        columns.append(column)
        selects.append(expressions.get(field.attname, f"%s::{cast}"))
    return ", ".join(columns), ", ".join(selects)


def _insert_params(
    model: type[models.Model], values: dict, computed: tuple[tuple[str, str], ...] = ()
) -> list:
    """The parameters of `_insert_sql(model, computed)`: given values, else what Model()
    would hold (the field's default, '' for text, else None)."""
    skipped = {name for name, _ in computed}
    params = []
    for _, field, _, plain in _insert_columns(model):
        if field.attname in skipped:
            continue
        value = values[field.attname] if field.attname in values else field.get_default()
        if value is None or (
            type(value) is plain and (plain is not datetime or value.tzinfo is not None)
        ):
            params.append(value)
        else:
            params.append(field.get_db_prep_save(value, connection))
    return params


def _fsync_setting(*, skip: bool) -> str | None:
    """set_config value: 'off' to skip the WAL fsync at commit, None to keep the current."""
    return "off" if skip else None


_CONFIG_CTE = """config AS (
  SELECT set_config('synchronous_commit', COALESCE(%s, current_setting('synchronous_commit')), true)
)"""


@functools.cache
def _reserve_sql() -> str:
    cols, select = _insert_sql(Reservation)
    stale = "(%s::timestamptz IS NOT NULL AND (period_start IS NULL OR period_start < %s))"
    return f"""
WITH {_CONFIG_CTE}, balance_ok AS (
  SELECT 1 FROM {CreditAccount._meta.db_table}
  WHERE organization_id = %s AND balance_micros >= reserved_micros + %s
  FOR NO KEY UPDATE
), key_ok AS (
  SELECT 1 FROM {ApiKey._meta.db_table}
  WHERE id = %s AND EXISTS (SELECT 1 FROM balance_ok) AND (
    limit_micros IS NULL
    OR (CASE WHEN {stale} THEN 0 ELSE period_usage_micros END)
       + period_reserved_micros + %s <= limit_micros)
  FOR NO KEY UPDATE
), account AS (
  UPDATE {CreditAccount._meta.db_table} SET reserved_micros = reserved_micros + %s
  WHERE organization_id = %s AND EXISTS (SELECT 1 FROM key_ok)
  RETURNING 1
), apikey AS (
  UPDATE {ApiKey._meta.db_table}
  SET period_usage_micros = CASE WHEN {stale} THEN 0 ELSE period_usage_micros END,
      period_start = CASE WHEN {stale} THEN %s ELSE period_start END,
      period_reserved_micros = period_reserved_micros + %s
  WHERE id = %s AND EXISTS (SELECT 1 FROM key_ok)
  RETURNING 1
), reservation AS (
  INSERT INTO {Reservation._meta.db_table} ({cols})
  SELECT {select} WHERE EXISTS (SELECT 1 FROM key_ok)
  RETURNING id
)
SELECT (SELECT count(*) FROM balance_ok), (SELECT count(*) FROM key_ok),
       (SELECT id FROM reservation), (SELECT count(*) FROM account),
       (SELECT count(*) FROM apikey), (SELECT count(*) FROM config)
"""


def reserve_in_one_statement(
    *, api_key: ApiKey, amount_micros: int, request_id: str, period_start, now: datetime
) -> tuple[str | None, Reservation | None]:
    """(None, reservation), or (the limit that refused, None) and nothing changed.

    All or nothing in one statement, so it needs no transaction of its own: the account
    row, then the key row, are locked (`FOR NO KEY UPDATE`, which in READ COMMITTED waits
    for a concurrent writer and re-checks its condition on the row's newest version) only when
    the balance, then the key's limit, cover the amount; the holds and the reservation
    row are written only when both were locked. Nothing can change a locked row before
    this statement's own updates, so the checks hold for them. `NO KEY` is the lock the
    UPDATE takes anyway: it excludes other writers but not the foreign-key checks (`FOR
    KEY SHARE`) that concurrent requests' inserts of reservations and usage records make
    on the same key row, which a plain `FOR UPDATE` would make wait.
    """
    ts = connection.ops.adapt_datetimefield_value
    values = {
        "request_id": request_id,
        "organization_id": api_key.organization_id,
        "api_key_id": api_key.pk,
        "amount_micros": amount_micros,
        "key_period_start": period_start,
        "status": Reservation.Status.ACTIVE,
        "created_at": now,
    }
    insert_params = _insert_params(Reservation, values)
    sql = _reserve_sql()
    start = ts(period_start) if period_start is not None else None
    # Only a statement that is its own transaction may skip the fsync (a hold is not
    # money; see durability); inside a caller's transaction the caller decides.
    skip = not connection.in_atomic_block
    params = [
        _fsync_setting(skip=skip),
        api_key.organization_id,
        amount_micros,
        api_key.pk,
        start,
        start,
        amount_micros,
        amount_micros,
        api_key.organization_id,
        start,
        start,
        start,
        start,
        start,
        amount_micros,
        api_key.pk,
        *insert_params,
    ]
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        balance_ok, key_ok, reservation_id, account_held, key_held, _ = cursor.fetchone()
    if not balance_ok:
        return "balance", None
    if not key_ok:
        return "key_limit", None
    if not (reservation_id and account_held and key_held):
        # Cannot happen while both rows are locked; refuse loudly rather than hold money.
        raise RuntimeError(f"reservation {request_id}: a locked row refused its update")
    reservation = Reservation(pk=reservation_id, **values)
    reservation._state.adding = False
    return None, reservation


# The charge entry's running balance and its usage record come from the statement itself.
_LEDGER_COMPUTED = (
    ("balance_after_micros", "account.balance_micros"),
    ("usage_record_id", "usage.id"),
)


@functools.cache
def _settle_sql() -> str:
    usage_cols, usage_select = _insert_sql(UsageRecord)
    ledger_cols, ledger_select = _insert_sql(LedgerEntry, _LEDGER_COMPUTED)
    return f"""
WITH {_CONFIG_CTE}, claimed AS (
  UPDATE {Reservation._meta.db_table} SET status = %s, closed_at = %s
  WHERE id = %s AND status = %s
  RETURNING amount_micros
), account AS (
  UPDATE {CreditAccount._meta.db_table}
  SET balance_micros = balance_micros - %s,
      reserved_micros = reserved_micros - (SELECT amount_micros FROM claimed),
      updated_at = %s
  WHERE organization_id = %s AND EXISTS (SELECT 1 FROM claimed)
  RETURNING balance_micros, reserved_micros
), apikey AS (
  UPDATE {ApiKey._meta.db_table}
  SET period_reserved_micros = period_reserved_micros - (SELECT amount_micros FROM claimed),
      total_usage_micros = total_usage_micros + %s,
      period_usage_micros = CASE WHEN period_start IS NULL OR period_start <= %s
                                 THEN period_usage_micros + %s ELSE period_usage_micros END
  WHERE id = %s AND EXISTS (SELECT 1 FROM claimed)
), usage AS (
  INSERT INTO {UsageRecord._meta.db_table} ({usage_cols})
  SELECT {usage_select} WHERE EXISTS (SELECT 1 FROM claimed)
  RETURNING id
), ledger AS (
  INSERT INTO {LedgerEntry._meta.db_table} ({ledger_cols})
  SELECT {ledger_select} FROM account, usage WHERE %s > 0
)
SELECT usage.id, account.balance_micros, account.reserved_micros
FROM usage, account, config
"""


def settle_in_one_statement(
    *,
    reservation: Reservation,
    charge_micros: int,
    usage_values: dict,
    now: datetime,
    synchronous: bool,
) -> UsageRecord | None:
    """Settle an active reservation; None (and no change) when it is not active."""
    ts = connection.ops.adapt_datetimefield_value
    usage_values = {
        **usage_values,
        "request_id": reservation.request_id,
        "organization_id": reservation.organization_id,
        "api_key_id": reservation.api_key_id,
        "total_micros": charge_micros,
        "status": UsageRecord.Status.SUCCEEDED,
        "created_at": now,
    }
    usage_params = _insert_params(UsageRecord, usage_values)
    ledger_params = _insert_params(
        LedgerEntry,
        {
            "organization_id": reservation.organization_id,
            "amount_micros": -charge_micros,
            "kind": LedgerEntry.Kind.CHARGE,
            "idempotency_key": f"charge:{reservation.request_id}",
            "created_at": now,
        },
        _LEDGER_COMPUTED,
    )
    # Inside a caller's transaction the caller decides durability; alone, we may skip
    # the WAL fsync when charges are configured as not synchronous.
    skip_fsync = not synchronous and not connection.in_atomic_block
    sql = _settle_sql()
    params = [
        _fsync_setting(skip=skip_fsync),
        Reservation.Status.SETTLED,
        ts(now),
        reservation.pk,
        Reservation.Status.ACTIVE,
        charge_micros,
        ts(now),
        reservation.organization_id,
        charge_micros,
        ts(reservation.created_at),
        charge_micros,
        reservation.api_key_id,
        *usage_params,
        *ledger_params,
        charge_micros,
    ]
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    reservation.status, reservation.closed_at = Reservation.Status.SETTLED, now
    record = UsageRecord(pk=row[0], **usage_values)
    record._state.adding = False
    record.balance_after_micros = row[1]
    record.available_after_micros = row[1] - row[2]
    return record
