"""The PostgreSQL health check (config/postgresql): no round trip for a quiet idle
connection, and a connection the server closed is replaced before it fails a request."""

from __future__ import annotations

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
