from __future__ import annotations

from django.contrib import admin
from django.db.models import Count

from accounts.forms import LimitedAdminAuthenticationForm
from accounts.models import Invitation, Membership, Organization
from accounts.templatetags.dashboard import usd
from billing.admin import adjust_credits_action

# Failed sign-ins limited as on the dashboard (accounts/throttle.py); config/urls.py
# answers its refusals 429.
admin.site.login_form = LimitedAdminAuthenticationForm


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "public_id", "personal", "balance", "members", "created_at"]
    list_filter = ["personal"]
    search_fields = ["slug", "name", "public_id", "memberships__user__email"]
    readonly_fields = ["public_id", "balance", "created_at"]
    inlines = [MembershipInline]
    actions = [adjust_credits_action]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("credit_account")
            .annotate(member_count=Count("memberships", distinct=True))
        )

    @admin.display(description="Balance", ordering="credit_account__balance_micros")
    def balance(self, obj):
        account = getattr(obj, "credit_account", None)
        return usd(account.balance_micros) if account else usd(0)

    @admin.display(description="Members", ordering="member_count")
    def members(self, obj):
        return obj.member_count


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organization__slug"]
    autocomplete_fields = ["user", "organization"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "organization", "role", "invited_by", "expires_at", "accepted_at"]
    search_fields = ["email", "organization__slug"]
    readonly_fields = ["token_hash", "accepted_at", "accepted_by", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # invitations carry a mailed token: they are made from the dashboard
