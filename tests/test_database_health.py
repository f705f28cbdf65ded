"""The PostgreSQL health check (config/postgresql): no round trip for a quiet idle
connection, and a connection the server closed is replaced before it fails a request."""

from __future__ import annotations

import contextlib
import json
import time

import psycopg
import pytest
from django.db import connection


def _require_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): the health check is PostgreSQL's")


def _start_request_checks():
    # What Django does at the start of every request for a persistent connection.
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _last_query_start(pid: int):
    """When the backend started its latest statement, read from another connection."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        row = other.execute(
            "SELECT query_start FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone()
        return row[0]


@pytest.mark.django_db(transaction=True)
def test_a_quiet_idle_connection_is_trusted_without_a_query():
    _require_postgresql()
    pid = _backend_pid()
    before = _last_query_start(pid)

    _start_request_checks()

    assert connection.connection is not None and not connection.connection.closed
    assert _last_query_start(pid) == before  # no SELECT 1 reached the server
    assert _backend_pid() == pid  # the same connection serves the request


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_is_replaced_before_the_request_uses_it():
    _require_postgresql()
    pid = _backend_pid()
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    deadline = time.monotonic() + 5
    while connection._idle_and_quiet() and time.monotonic() < deadline:
        time.sleep(0.01)  # until the termination notice reaches our socket

    _start_request_checks()

    assert _backend_pid() != pid  # a fresh connection, and the query worked


@pytest.mark.django_db
def test_prepared_statements_show_in_the_query_log(api_key):
    _require_postgresql()
    from django.test.utils import CaptureQueriesContext

    from keys.selectors import api_key_authenticate

    with CaptureQueriesContext(connection) as queries:
        api_key_authenticate(secret=api_key[1])
    (query,) = queries.captured_queries
    assert query["sql"].startswith("SELECT k.")
    assert f"'{api_key[0].lookup_prefix}'" in query["sql"]


@contextlib.contextmanager
def _database_unreachable():
    """The default connection pointed at a database that cannot be reached (nothing
    listens on port 1; a SQLite file in a directory that does not exist)."""
    connection.close()
    saved = dict(connection.settings_dict)
    if connection.vendor == "postgresql":
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    else:
        connection.settings_dict["NAME"] = "/nonexistent-directory/db.sqlite3"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "field"),
    [("/api/v1/ocr/extract", "image"), ("/ocr", "file"), ("/api/upload", "file")],
)
def test_an_unreachable_database_is_a_json_503_on_api_paths(client_for, api_key, path, field):
    _require_postgresql()  # closing SQLite's in-memory test database would lose it
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.ocr.dialect_support import phototest_png

    upload = SimpleUploadedFile("page.png", phototest_png(), content_type="image/png")
    with _database_unreachable():
        response = client_for(api_key[1]).post(path, {field: upload})
        key_info = client_for(api_key[1]).get("/api/v1/key")
        health = client_for(None).get("/healthz")

    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert "database" in str(response.json()["error"])
    assert int(response["Retry-After"]) > 0
    assert key_info.status_code == 503
    assert key_info.json()["error"]["code"] == "service_unavailable"
    assert health.status_code == 503
    assert health.json()["database"] == "error"


def test_a_crash_of_the_database_outside_a_view_is_a_json_503(rf):
    from django.db import OperationalError

    from config.errors import server_error

    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = server_error(rf.post("/v1/ocr"))

    assert response.status_code == 503
    assert json.loads(response.content)["error"]["code"] == "service_unavailable"


def _terminate(pid: int) -> None:
    """The server closes backend `pid`, as a restart or an idle timeout would; returns
    once the notice has reached our socket."""
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    deadline = time.monotonic() + 5
    while connection._idle_and_quiet() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.django_db(transaction=True)
def test_a_settlement_after_the_connection_was_closed_mid_request_charges_once(
    funded_org_a, api_key
):
    """The server closed the connection while the provider ran: the settlement runs on a
    new one, instead of a 500 that left the hold to the sweeper."""
    _require_postgresql()
    from billing.models import Reservation
    from billing.pricing import Price
    from billing.reservations import reservation_create, reservation_settle
    from billing.selectors import credits_available_micros

    key = api_key[0]
    before = credits_available_micros(organization=funded_org_a)
    reservation = reservation_create(api_key=key, amount_micros=50_000, request_id="req_dropped")
    _terminate(_backend_pid())  # while "the provider runs"

    record = reservation_settle(
        reservation=reservation,
        price=Price(10_000, 2_000, 12_000),
        usage={"organization": funded_org_a, "api_key": key, "dialect": "000", "pages": 1},
    )

    assert record.total_micros == 12_000
    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.SETTLED
    assert credits_available_micros(organization=funded_org_a) == before - 12_000


@pytest.mark.django_db(transaction=True)
def test_a_release_after_the_connection_was_closed_gives_the_hold_back(funded_org_a, api_key):
    _require_postgresql()
    from billing.models import Reservation
    from billing.reservations import reservation_create, reservation_release
    from billing.selectors import credits_available_micros

    key = api_key[0]
    before = credits_available_micros(organization=funded_org_a)
    reservation = reservation_create(api_key=key, amount_micros=50_000, request_id="req_dropped")
    _terminate(_backend_pid())

    reservation_release(
        reservation=reservation,
        usage={"organization": funded_org_a, "api_key": key, "dialect": "000", "pages": 0},
    )

    reservation.refresh_from_db()
    assert reservation.status == Reservation.Status.RELEASED
    assert credits_available_micros(organization=funded_org_a) == before


@pytest.mark.django_db(transaction=True)
def test_an_ocr_request_whose_connection_closed_while_the_engine_ran_is_answered_once(
    client_for, funded_org_a, api_key, monkeypatch
):
    """The provider call is where a request waits longest; the pricing and settlement
    after it run on a new connection when the server closed the old one meanwhile."""
    _require_postgresql()
    import importlib

    from django.apps import apps

    from billing.models import Reservation
    from ocr import pipeline
    from tests.ocr.dialect_support import data_url, phototest_png

    # A transactional test's flush empties migration data: the local provider's rows.
    importlib.import_module("ocr.migrations.0002_seed_local_provider").seed(apps, None)
    real_call = pipeline.route_call

    def call_then_lose_the_connection(**kwargs):
        result = real_call(**kwargs)
        _terminate(_backend_pid())
        return result

    monkeypatch.setattr(pipeline, "route_call", call_then_lose_the_connection)

    response = client_for(api_key[1]).post(
        "/v1/ocr", {"base64": data_url(phototest_png())}, format="json"
    )

    assert response.status_code == 200, response.content
    assert Reservation.objects.get().status == Reservation.Status.SETTLED
