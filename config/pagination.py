"""Keyset pagination over `(-created_at, -id)`, shared by the list endpoints.

The cursor is the public id of the last row a client saw; the next page is every row
strictly after it in that order, so pages stay stable while new rows arrive.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from config.api import ApiError


def keyset_after(rows: QuerySet, *, anchor: QuerySet) -> QuerySet:
    """`rows` after the one row of `anchor` (the cursor's row, already tenant-filtered)."""
    after = anchor.values("created_at", "id").first()
    if after is None:
        raise ApiError(400, "invalid_request", "The cursor is not valid.")
    return rows.filter(
        Q(created_at__lt=after["created_at"])
        | Q(created_at=after["created_at"], id__lt=after["id"])
    )
