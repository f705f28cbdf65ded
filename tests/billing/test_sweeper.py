"""The sweeper inside the server (billing/sweeper.py): stale holds go without cron."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, connections

from billing.models import Reservation
from billing.reservations import reservation_create, reservation_sweep
from billing.sweeper import sweep_round, sweeper_start
from keys.services import api_key_create
from tests.billing.helpers import SEEDED_TRANSACTIONS, account_state, assert_ledger_clean
from tests.live_gunicorn import gunicorn_running, manage, sqlite_env


def _backdate(reservation: Reservation, seconds: float) -> None:
    Reservation.objects.filter(pk=reservation.pk).update(
        created_at=reservation.created_at - timedelta(seconds=seconds)
    )


def test_a_round_releases_stale_reservations_and_leaves_running_ones(funded_org_a):
    key = api_key_create(organization=funded_org_a)[0]
    stale = reservation_create(api_key=key, amount_micros=3_000, request_id="req_stale")
    _backdate(stale, 3600)
    reservation_create(api_key=key, amount_micros=2_000, request_id="req_running")

    assert sweep_round(older_than_s=900) == 1
    assert sweep_round(older_than_s=900) == 0
    assert account_state(funded_org_a) == (10_000_000, 2_000)
    assert Reservation.objects.get(request_id="req_stale").status == "released"
    assert_ledger_clean()


def test_a_database_error_is_logged_and_the_next_round_sweeps(funded_org_a, caplog):
    key = api_key_create(organization=funded_org_a)[0]
    _backdate(reservation_create(api_key=key, amount_micros=3_000, request_id="req_s"), 3600)

    def database_down(execute, sql, params, many, context):
        raise OperationalError("connection refused")

    with caplog.at_level(logging.WARNING), connection.execute_wrapper(database_down):
        assert sweep_round(older_than_s=900) is None  # no exception
    assert "reservation sweep failed" in caplog.text

    assert sweep_round(older_than_s=900) == 1
    assert account_state(funded_org_a) == (10_000_000, 0)


def test_it_is_off_with_an_interval_of_zero(settings):
    settings.RESERVATION_SWEEP_INTERVAL_S = 0
    assert sweeper_start() is None


@SEEDED_TRANSACTIONS
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL): connections"
)
def test_sweepers_at_once_release_each_reservation_once(funded_org_a):
    """Every worker of every host sweeps: each hold is given back exactly once."""
    key = api_key_create(organization=funded_org_a)[0]
    for n in range(40):
        stale = reservation_create(api_key=key, amount_micros=1_000 + n, request_id=f"req_{n}")
        _backdate(stale, 3600)
    barrier = threading.Barrier(4)
    released: list[int] = []

    def sweeper() -> None:
        try:
            barrier.wait()
            released.append(reservation_sweep(older_than_s=900))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(released) == 40
    assert account_state(funded_org_a) == (10_000_000, 0)
    key.refresh_from_db()
    assert key.period_reserved_micros == 0
    assert_ledger_clean()


SETUP = """
from datetime import timedelta
from accounts.services import tenant_create
from billing.models import Reservation
from billing.reservations import reservation_create
from billing.services import credits_add
from keys.services import api_key_create
org = tenant_create(slug="swept", owner_email="ops@swept.test", password="pw-swept-123456")
credits_add(organization=org, amount_micros=10_000_000, idempotency_key="fund")
key = api_key_create(organization=org)[0]
# A worker SIGKILLed an hour ago, and a request running now.
stale = reservation_create(api_key=key, amount_micros=3_000, request_id="req_killed")
Reservation.objects.filter(pk=stale.pk).update(created_at=stale.created_at - timedelta(hours=1))
reservation_create(api_key=key, amount_micros=2_000, request_id="req_running")
"""


def test_the_running_server_releases_a_stale_reservation_by_itself(tmp_path):
    """Before, the hold stayed `active` until someone ran sweep_reservations."""
    database = tmp_path / "sweep.sqlite3"
    env = sqlite_env(
        database,
        FILE_CACHE_DIR=str(tmp_path / "cache"),
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
        OCR_WARM_ON_START="0",
        RESERVATION_SWEEP_INTERVAL_S="0.2",  # the age stays RESERVATION_TIMEOUT_S, 900 s
    )
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", SETUP)

    def states() -> dict[str, str]:
        with sqlite3.connect(database) as db:
            rows = db.execute("SELECT request_id, status FROM billing_reservation").fetchall()
        return dict(rows)

    def account() -> tuple[int, int]:
        with sqlite3.connect(database) as db:
            return db.execute(
                "SELECT balance_micros, reserved_micros FROM billing_creditaccount"
            ).fetchone()

    assert states()["req_killed"] == "active"
    with open(tmp_path / "gunicorn.log", "w+") as log, gunicorn_running(env, log=log):
        deadline = time.monotonic() + 10
        while states()["req_killed"] == "active" and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a few more rounds on both workers: nothing further moves
        log.seek(0)
        output = log.read()

    assert states() == {"req_killed": "released", "req_running": "active"}
    assert account() == (10_000_000, 2_000)
    assert output.count("released 1 stale reservation(s) older than 900 s") == 1, output
    assert manage(env, "check_ledger") == "ledger ok"
