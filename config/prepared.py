"""A cursor for the hot path's hand-written statements that PostgreSQL plans only once.

Django's psycopg backend binds parameters on the client: every execution sends a new
statement text, which PostgreSQL parses and plans afresh. For the large statements run
on every request (reservation, settlement) planning costs more of the database's CPU
than running them. A server-side-binding psycopg cursor sends the same text each time
with the values apart, so psycopg prepares it on a connection (at its first run, with
the `prepare_threshold` of 0 that config/settings.py sets) and the server reuses the plan. The cursor is wrapped like any
Django cursor (query logging, error translation, execute wrappers).

Every parameter of statements run through it must have a type PostgreSQL can infer, or
an explicit cast.
"""

from __future__ import annotations

import psycopg
from django.db import connection


def prepared_cursor():
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(psycopg.Cursor(connection.connection))
