"""The dashboard's current organization: chosen in the session, always one the user belongs to.

`request.membership` is the user's Membership in the current organization (None for
anonymous users or users who belong nowhere) and `request.organization` its organization.
A session naming an organization the user has left silently falls back to another one, so
nothing is ever shown from an organization the user is not a member of.
"""

from __future__ import annotations

from accounts.models import Membership

SESSION_KEY = "current_org"


def membership_for(request) -> Membership | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = Membership.objects.select_related("organization").filter(user=user)
    wanted = request.session.get(SESSION_KEY)
    membership = memberships.filter(organization__public_id=wanted).first() if wanted else None
    if membership is None:
        membership = memberships.order_by("-organization__personal", "created_at").first()
        if membership is not None:
            request.session[SESSION_KEY] = membership.organization.public_id
    return membership


def organization_switch(request, *, public_id: str) -> bool:
    """Make `public_id` current when the user is a member; False otherwise."""
    ok = Membership.objects.filter(user=request.user, organization__public_id=public_id).exists()
    if ok:
        request.session[SESSION_KEY] = public_id
    return ok


class CurrentOrganizationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Only browser sessions have a current organization; API calls (keys) never do.
        if request.path.startswith(("/dashboard", "/invite")):
            request.membership = membership_for(request)
        else:
            request.membership = None
        request.organization = request.membership.organization if request.membership else None
        return self.get_response(request)
