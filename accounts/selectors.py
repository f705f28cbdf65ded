from __future__ import annotations

from accounts.models import Membership, Organization
from config.api import ApiError


def organization_get_by_slug(*, slug: str) -> Organization:
    org = Organization.objects.filter(slug=slug).first()
    if org is None:
        raise ApiError(404, "not_found", f"No organization '{slug}'.")
    return org


def organization_list_for_user(*, user) -> list[Organization]:
    return list(Organization.objects.filter(memberships__user=user).order_by("slug"))


def membership_get(*, user, organization: Organization) -> Membership | None:
    return Membership.objects.filter(user=user, organization=organization).first()
