"""The rate-limit decision in the database, for deployments without Redis.

Each key's decisions are serialized by locking its `RateLimitLock` row (a conditional
UPDATE; on SQLite the IMMEDIATE transaction already holds the write lock), then the
sliding window is counted from `RateLimitHit` rows and the slots in flight from
`RateLimitSlot` rows, and both are written only when both limits allow the request.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Min

from billing.durability import commit_without_waiting_for_disk
from billing.models import RateLimitHit, RateLimitLock, RateLimitSlot
from billing.ratelimit import WINDOW_S, Decision, now_ms, slot_ttl_ms


def _lock(*, key_id: int, now: int) -> None:
    if RateLimitLock.objects.filter(pk=key_id).update(touched_ms=now):
        return
    RateLimitLock.objects.bulk_create(
        [RateLimitLock(api_key_id=key_id, touched_ms=now)], ignore_conflicts=True
    )
    RateLimitLock.objects.filter(pk=key_id).update(touched_ms=now)


def decide(*, api_key, rpm: int, max_in_flight: int, token: str):
    key_id = api_key.pk
    window_ms = WINDOW_S * 1000
    with transaction.atomic():
        commit_without_waiting_for_disk()  # rate-limit rows are bookkeeping, not money
        now = now_ms()
        _lock(key_id=key_id, now=now)
        # Read the clock again once the lock is ours: waiting for it took time.
        now = now_ms()
        RateLimitHit.objects.filter(api_key_id=key_id, at_ms__lte=now - window_ms).delete()
        RateLimitSlot.objects.filter(api_key_id=key_id, expires_ms__lte=now).delete()
        window = RateLimitHit.objects.filter(api_key_id=key_id).aggregate(
            used=Count("id"), oldest=Min("at_ms")
        )
        used, oldest = window["used"], window["oldest"]
        wait = (oldest + window_ms - now) if oldest is not None else 0
        if used >= rpm:
            return Decision(False, "rpm", used, wait, now), None, None
        if RateLimitSlot.objects.filter(api_key_id=key_id).count() >= max_in_flight:
            return Decision(False, "in_flight", used, wait, now), None, None
        hit = RateLimitHit.objects.create(api_key_id=key_id, at_ms=now)
        RateLimitSlot.objects.create(token=token, api_key_id=key_id, expires_ms=now + slot_ttl_ms())
    if oldest is None:
        wait = window_ms

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
