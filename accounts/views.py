"""Dashboard: sign-up, the overview, organizations and members."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.db.models import Count, Sum
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from accounts.decorators import dashboard_view
from accounts.forms import InviteForm, OrganizationForm, RoleForm, SignupForm
from accounts.ids import random_base62
from accounts.middleware import organization_switch
from accounts.models import Invitation, Membership
from accounts.services import (
    invitation_accept,
    invitation_create,
    invitation_email_send,
    invitation_revoke,
    invitation_token_hash,
    membership_remove,
    membership_role_set,
    organization_create,
    user_signup,
)
from accounts.throttle import signup_allowed, signup_refusal_message
from billing.models import CreditAccount, UsageRecord
from config.api import ApiError
from keys.models import ApiKey


def home(request):
    return redirect("dashboard" if request.user.is_authenticated else "login")


def signup(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not signup_allowed(request=request):
            form.add_error(None, signup_refusal_message())
            response = render(request, "accounts/signup.html", {"form": form}, status=429)
            response["Retry-After"] = str(settings.AUTH_SIGNUP_WINDOW_S)
            return response
        try:
            user, org = user_signup(
                email=form.cleaned_data["email"], password=form.cleaned_data["password1"]
            )
        except ApiError as error:
            form.add_error("email", error.message)
        else:
            login(request, user, backend="accounts.backends.EmailBackend")
            request.session["current_org"] = org.public_id
            messages.success(request, "Welcome! Your organization is ready.")
            target = request.GET.get("next", "")
            # Only a path on this site: never an open redirect to somewhere else.
            if not url_has_allowed_host_and_scheme(
                target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                target = "dashboard"
            return redirect(target)
    return render(request, "accounts/signup.html", {"form": form})


@dashboard_view
def overview(request):
    org = request.organization
    account = CreditAccount.objects.filter(organization=org).first()
    month_start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    month = UsageRecord.objects.filter(organization=org, created_at__gte=month_start).aggregate(
        requests=Count("id"), spend=Sum("total_micros")
    )
    keys = ApiKey.objects.filter(organization=org, revoked_at__isnull=True).count()
    return render(
        request,
        "dashboard/overview.html",
        {
            "account": account,
            "month_requests": month["requests"] or 0,
            "month_spend": month["spend"] or 0,
            "active_keys": keys,
            "recent": UsageRecord.objects.filter(organization=org)[:5],
        },
    )


@require_POST
def org_switch(request):
    if not request.user.is_authenticated:
        return redirect("login")
    if not organization_switch(request, public_id=request.POST.get("organization", "")):
        messages.error(request, "You are not a member of that organization.")
    return redirect("dashboard")


def org_new(request):
    if not request.user.is_authenticated:
        return redirect("login")
    form = OrganizationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"]
        # A random suffix keeps slugs unique; the slug column holds 60 characters.
        slug = f"{slugify(name)[:40] or 'org'}-{random_base62(6).lower()}"
        try:
            org = organization_create(slug=slug, name=name, owner=request.user)
        except ApiError as error:
            form.add_error("name", error.message)
        else:
            request.session["current_org"] = org.public_id
            messages.success(request, f"Created {org.name}.")
            return redirect("dashboard")
    return render(request, "dashboard/org_new.html", {"form": form})


@dashboard_view
def members(request):
    org = request.organization
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        if request.membership.role not in ("owner", "admin"):
            messages.error(request, "Only owners and admins invite members.")
        elif form.is_valid():
            try:
                invitation, token = invitation_create(
                    organization=org,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=request.user,
                )
            except ApiError as error:
                form.add_error("email", error.message)
            else:
                url = request.build_absolute_uri(reverse("invite-accept", args=[token]))
                invitation_email_send(invitation=invitation, accept_url=url)
                messages.success(request, f"Invitation sent to {invitation.email}.")
                return redirect("dashboard-members")
    pending = Invitation.objects.filter(
        organization=org,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )
    return render(
        request,
        "dashboard/members.html",
        {
            "memberships": Membership.objects.filter(organization=org)
            .select_related("user")
            .order_by("created_at"),
            "pending": pending,
            "form": form,
            "role_choices": Membership.Role.choices,
        },
    )


@require_POST
@dashboard_view
def member_role(request, membership_id: int):
    target = get_object_or_404(Membership, pk=membership_id, organization=request.organization)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            membership_role_set(
                actor=request.membership, membership=target, role=form.cleaned_data["role"]
            )
            messages.success(request, f"{target.user.email} is now {target.role}.")
        except ApiError as error:
            messages.error(request, error.message)
    return redirect("dashboard-members")


@require_POST
@dashboard_view
def member_remove(request, membership_id: int):
    target = get_object_or_404(Membership, pk=membership_id, organization=request.organization)
    try:
        membership_remove(actor=request.membership, membership=target)
    except ApiError as error:
        messages.error(request, error.message)
        return redirect("dashboard-members")
    messages.success(request, f"Removed {target.user.email}.")
    return redirect("dashboard-members" if target.pk != request.membership.pk else "dashboard")


@require_POST
@dashboard_view(manage=True)
def invitation_cancel(request, invitation_id: int):
    invitation = get_object_or_404(Invitation, pk=invitation_id, organization=request.organization)
    invitation_revoke(invitation=invitation)
    messages.success(request, f"Invitation to {invitation.email} cancelled.")
    return redirect("dashboard-members")


def invite_accept(request, token: str):
    invitation = (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_hash=invitation_token_hash(token))
        .first()
    )
    if invitation is None:
        return render(request, "accounts/invite.html", {"error": "Unknown invitation."}, status=404)
    if not request.user.is_authenticated:
        return render(request, "accounts/invite.html", {"invitation": invitation, "anon": True})
    if request.method == "GET":
        return render(request, "accounts/invite.html", {"invitation": invitation})
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        membership = invitation_accept(invitation=invitation, user=request.user)
    except ApiError as error:
        return render(
            request,
            "accounts/invite.html",
            {"invitation": invitation, "error": error.message},
            status=error.status,
        )
    request.session["current_org"] = membership.organization.public_id
    messages.success(request, f"You joined {membership.organization.name}.")
    return redirect("dashboard")
