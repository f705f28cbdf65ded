"""Which billing writes wait for the disk.

A charge (settlement) is money: its commit waits for the WAL flush as usual. A hold
(reservation), its release and rate-limit bookkeeping are not: on PostgreSQL they commit
with `synchronous_commit = off`, saving one fsync per request. If the database crashes
within the ~200 ms before such a commit reaches the disk, the hold vanishes with all its
effects together (balance hold and key hold are in the same transaction), a settlement
of a vanished hold charges only what the balance still covers, and a lost release leaves
an active reservation that the sweeper frees. Balances stay equal to their ledgers.
"""

from __future__ import annotations

from django.db import connection


def commit_without_waiting_for_disk() -> None:
    """Call inside `transaction.atomic()`: this transaction's commit does not fsync.

    Only for an outermost transaction: inside a caller's larger transaction (which may
    move money) it does nothing.
    """
    if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")
