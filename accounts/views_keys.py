"""Dashboard: API and management keys of the current organization."""

from __future__ import annotations

from datetime import UTC

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.decorators import dashboard_view
from accounts.forms import KeyCreateForm, KeyEditForm
from billing.money import micros_to_usd, usd_to_micros
from billing.periods import period_start_for
from config.api import ApiError
from keys.models import ApiKey
from keys.services import api_key_create, api_key_revoke, api_key_update


def usage_this_period(key: ApiKey) -> int:
    """Spend in the key's current limit period; a period that has rolled over shows 0."""
    start = period_start_for(limit_reset=key.limit_reset, now=timezone.now())
    if start is not None and (key.period_start is None or key.period_start < start):
        return 0
    return key.period_usage_micros


def _limits(data: dict) -> dict:
    expires = data.get("expires_at")
    if expires is not None and timezone.is_naive(expires):
        expires = timezone.make_aware(expires, UTC)
    limit = data.get("limit_usd")
    return {
        "name": data.get("name") or "",
        "limit_micros": usd_to_micros(limit) if limit is not None else None,
        "limit_reset": data.get("limit_reset") or ApiKey.LimitReset.NEVER,
        "rate_limit_rpm": data.get("rate_limit_rpm"),
        "max_in_flight": data.get("max_in_flight"),
        "expires_at": expires,
    }


@dashboard_view
def key_list(request):
    keys = list(ApiKey.objects.filter(organization=request.organization))
    for key in keys:
        key.period_usage = usage_this_period(key)
    return render(request, "dashboard/keys.html", {"keys": keys})


@never_cache
@dashboard_view(manage=True)
def key_create(request):
    form = KeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            key, secret = api_key_create(
                organization=request.organization,
                kind=data["kind"],
                scopes=data["scopes"] or None,
                created_by=request.user,
                **_limits(data),
            )
        except ApiError as error:
            form.add_error(None, error.message)
        else:
            # Rendered, not redirected: the secret exists only in this one response.
            return render(request, "dashboard/key_created.html", {"key": key, "secret": secret})
    return render(request, "dashboard/key_form.html", {"form": form, "creating": True})


@dashboard_view(manage=True)
def key_edit(request, public_id: str):
    key = get_object_or_404(ApiKey, organization=request.organization, public_id=public_id)
    initial = {
        "name": key.name,
        "limit_usd": micros_to_usd(key.limit_micros) if key.limit_micros is not None else None,
        "limit_reset": key.limit_reset,
        "rate_limit_rpm": key.rate_limit_rpm,
        "max_in_flight": key.max_in_flight,
        "expires_at": key.expires_at.strftime("%Y-%m-%dT%H:%M") if key.expires_at else None,
    }
    form = KeyEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            api_key_update(key=key, **_limits(form.cleaned_data))
        except ApiError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Saved {key.label}.")
            return redirect("dashboard-keys")
    return render(request, "dashboard/key_form.html", {"form": form, "key": key})


@require_POST
@dashboard_view(manage=True)
def key_toggle(request, public_id: str):
    key = get_object_or_404(ApiKey, organization=request.organization, public_id=public_id)
    try:
        api_key_update(key=key, disabled=not key.disabled)
    except ApiError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{key.label} {'disabled' if key.disabled else 'enabled'}.")
    return redirect("dashboard-keys")


@dashboard_view(manage=True)
def key_revoke(request, public_id: str):
    key = get_object_or_404(ApiKey, organization=request.organization, public_id=public_id)
    if request.method == "POST":
        api_key_revoke(key=key)
        messages.success(request, f"Revoked {key.label}. It can no longer be used.")
        return redirect("dashboard-keys")
    return render(request, "dashboard/key_revoke.html", {"key": key})
