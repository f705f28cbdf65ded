"""The rate-limit decision in the database, for deployments without Redis.

Each key's decisions are serialized by locking its `RateLimitLock` row (a conditional
UPDATE; on SQLite the IMMEDIATE transaction already holds the write lock), then the
sliding window is counted from `RateLimitHit` rows and the slots in flight from
`RateLimitSlot` rows (one query, after the lock, so it sees every earlier decision), and
a hit and a slot are written only when both limits allow the request.
"""

from __future__ import annotations

from django.db import connection, transaction

from billing.models import RateLimitHit, RateLimitLock, RateLimitSlot
from billing.ratelimit import WINDOW_S, Decision, now_ms, slot_ttl_ms


def _lock(*, key_id: int, now: int) -> None:
    if RateLimitLock.objects.filter(pk=key_id).update(touched_ms=now):
        return
    RateLimitLock.objects.bulk_create(
        [RateLimitLock(api_key_id=key_id, touched_ms=now)], ignore_conflicts=True
    )
    RateLimitLock.objects.filter(pk=key_id).update(touched_ms=now)


# Expired rows of a key are deleted on every PURGE_EVERY-th request (and by the sweeper),
# not on each one: counting filters them out anyway, and the hot path stays short.
PURGE_EVERY = 64


def _window(*, key_id: int, now: int, window_ms: int) -> tuple[int, int | None, int]:
    """(requests in the window, oldest of them, live slots) in one query."""
    hits, slots = RateLimitHit._meta.db_table, RateLimitSlot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT COUNT(*) FROM {hits} WHERE api_key_id = %s AND at_ms > %s), "
            f"(SELECT MIN(at_ms) FROM {hits} WHERE api_key_id = %s AND at_ms > %s), "
            f"(SELECT COUNT(*) FROM {slots} WHERE api_key_id = %s AND expires_ms > %s)",
            [key_id, now - window_ms, key_id, now - window_ms, key_id, now],
        )
        return cursor.fetchone()


def decide(*, api_key, rpm: int, max_in_flight: int, token: str):
    key_id = api_key.pk
    window_ms = WINDOW_S * 1000
    with transaction.atomic():
        # No fsync to wait for: on PostgreSQL these tables are UNLOGGED (migration 0004),
        # so a transaction writing only them commits asynchronously by itself.
        _lock(key_id=key_id, now=now_ms())
        # Read the clock once the lock is ours: waiting for it took time.
        now = now_ms()
        used, oldest, in_flight = _window(key_id=key_id, now=now, window_ms=window_ms)
        wait = (oldest + window_ms - now) if oldest is not None else window_ms
        if used >= rpm:
            return Decision(False, "rpm", used, wait, now), None, None
        if in_flight >= max_in_flight:
            return Decision(False, "in_flight", used, wait, now), None, None
        hit = RateLimitHit.objects.create(api_key_id=key_id, at_ms=now)
        RateLimitSlot.objects.create(token=token, api_key_id=key_id, expires_ms=now + slot_ttl_ms())
        if hit.pk % PURGE_EVERY == 0:
            RateLimitHit.objects.filter(api_key_id=key_id, at_ms__lte=now - window_ms).delete()
            RateLimitSlot.objects.filter(api_key_id=key_id, expires_ms__lte=now).delete()

    def release() -> None:
        RateLimitSlot.objects.filter(token=token).delete()

    def refund() -> None:
        RateLimitHit.objects.filter(pk=hit.pk).delete()

    return Decision(True, "", used + 1, wait, now), release, refund


def ratelimit_purge(*, now: int | None = None) -> int:
    """Delete window rows and slots that no longer count (keys idle for a while)."""
    now = now_ms() if now is None else now
    hits, _ = RateLimitHit.objects.filter(at_ms__lte=now - WINDOW_S * 1000).delete()
    slots, _ = RateLimitSlot.objects.filter(expires_ms__lte=now).delete()
    return hits + slots
