"""The sweeper inside the server: each gunicorn worker releases stale reservations.

A worker killed mid-request (SIGKILL, out of memory, gunicorn's timeout) leaves its
reservation `active`: the hold lowers the tenant's available balance and the key's
limit until someone runs `manage.py sweep_reservations`, which nothing did unless the
operator added cron. Every worker now runs that sweep itself in a daemon thread, every
`RESERVATION_SWEEP_INTERVAL_S` (jittered, so workers and hosts spread out).

Several sweepers at once are safe: a reservation is closed by a conditional
`UPDATE … WHERE status = 'active'` whose row count decides (`billing.reservations`), so
it is released once, and never both settled and released.
"""

from __future__ import annotations

import logging
import random
import threading

from django.conf import settings
from django.db import connections

from billing.ratelimit_db import ratelimit_purge
from billing.reservations import reservation_sweep

logger = logging.getLogger(__name__)

# Each wait is the interval times a factor in this range: workers started together
# drift apart instead of sweeping in step.
JITTER = (0.75, 1.25)


def sweep_round(*, older_than_s: float) -> int | None:
    """One sweep: the number of reservations released, or None when it failed (logged;
    the next round tries again). Never raises: a database that is down must not take
    the worker's thread, or the worker, with it."""
    try:
        released = reservation_sweep(older_than_s=older_than_s)
        purged = ratelimit_purge()
    except Exception:  # noqa: BLE001 - any failure waits for the next round
        logger.warning("reservation sweep failed; trying again next round", exc_info=True)
        return None
    if released:
        # A stale hold means a worker died mid-request: worth seeing at the default level.
        logger.warning(
            "released %d stale reservation(s) older than %s s (purged %d rate-limit rows)",
            released,
            older_than_s,
            purged,
        )
    return released


def sweeper_loop(*, interval_s: float, older_than_s: float, stop: threading.Event) -> None:
    while not stop.wait(interval_s * random.uniform(*JITTER)):
        try:
            sweep_round(older_than_s=older_than_s)
        finally:
            # This thread's own connection: not closed by any request cycle, so closed
            # here rather than held idle (or broken, after a database restart) for ever.
            connections.close_all()


def sweeper_start() -> threading.Thread | None:
    """Start this process's sweeper thread; None when `RESERVATION_SWEEP_INTERVAL_S` is 0."""
    interval = settings.RESERVATION_SWEEP_INTERVAL_S
    if interval <= 0:
        return None
    thread = threading.Thread(
        target=sweeper_loop,
        kwargs={
            "interval_s": interval,
            "older_than_s": settings.RESERVATION_TIMEOUT_S,
            "stop": threading.Event(),
        },
        name="reservation-sweeper",
        daemon=True,
    )
    thread.start()
    return thread
