"""Django's PostgreSQL backend, with a health check that costs no round trip when the
connection is plainly fine, and query logs that show the prepared statements too.

`CONN_HEALTH_CHECKS` makes Django run `SELECT 1` on a persistent connection before its
first query in every request: a whole extra round trip to the database per request, on
a path that makes three. A connection the server has closed (a restart, an idle
timeout, `pg_terminate_backend`) receives the server's last message or end-of-file, so
an idle connection whose socket has nothing to read is still usable; only a connection
with something waiting gets the real `SELECT 1` check (which then fails and reconnects).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base, operations
from psycopg import ClientCursor, errors, pq


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        # The server-side-binding cursors of config/prepared.py keep no client-side text:
        # show the statement with its values, as the ORM's queries are shown.
        if not isinstance(cursor, ClientCursor):
            try:
                return self.compose_sql(sql, params)
            except errors.DataError:
                return sql
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def close_if_health_check_failed(self) -> None:
        if (
            not self.pool
            and self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self._idle_and_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _idle_and_quiet(self) -> bool:
        connection = self.connection
        try:
            if connection.closed or connection.info.transaction_status != pq.TransactionStatus.IDLE:
                return False
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
