from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from accounts.services import MANAGER_ROLES


def dashboard_view(view=None, *, manage: bool = False):
    """A signed-in user with a current organization (owners and admins only when `manage`).

    Views read the tenant from `request.organization` and filter every query by it, so an
    object of another organization is simply not found (404).
    """

    def decorate(func):
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.membership is None:
                return redirect("dashboard-org-new")
            if manage and request.membership.role not in MANAGER_ROLES:
                raise PermissionDenied("Only owners and admins can do this.")
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate
