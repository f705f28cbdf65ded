"""The request's database connection, checked again after a wait."""

from __future__ import annotations

from django.db import connection


def connection_check() -> None:
    """Check the connection as Django does at the start of a request, before a statement
    that comes after a wait: the pricing and reservation after the intake (a URL fetch),
    the pricing and settlement or release after the provider call (seconds, minutes for
    a long PDF). A connection the server closed meanwhile (a restart, an idle timeout,
    pg_terminate_backend) is replaced here; used as it was, its statement failed a
    request whose OCR had succeeded and left the hold to the sweeper. No round trip
    while the socket is quiet (config/postgresql); nothing to do inside a transaction,
    which cannot move to another connection."""
    if connection.in_atomic_block:
        return
    connection.health_check_done = False
    connection.close_if_health_check_failed()
