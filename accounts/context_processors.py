from __future__ import annotations

from accounts.models import Membership


def dashboard(request) -> dict:
    """The organization switcher's entries, only on dashboard pages."""
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    memberships = (
        Membership.objects.select_related("organization")
        .filter(user=request.user)
        .order_by("-organization__personal", "organization__name")
    )
    return {
        "current_membership": membership,
        "current_org": membership.organization,
        "org_memberships": memberships,
        "can_manage": membership.role in ("owner", "admin"),
    }
