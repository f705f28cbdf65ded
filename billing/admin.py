"""Operator admin for money: balances, the read-only ledger with a credit adjustment,
fee policies, the request log and Stripe events. The ledger is append-only, so nothing
here edits or deletes an entry; an adjustment is a new entry recording who and why."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import path, reverse

from accounts.models import Organization
from accounts.templatetags.dashboard import usd
from billing.models import (
    CreditAccount,
    FeePolicy,
    LedgerEntry,
    Reservation,
    StripeEvent,
    UsageRecord,
)
from billing.money import usd_to_micros
from billing.services import credits_add


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AdjustCreditsForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.all())
    amount_usd = forms.DecimalField(
        label="Amount (USD)",
        max_digits=14,
        decimal_places=6,
        help_text="Positive adds credits, negative removes them (never below zero).",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)
    # One value per rendered form: submitting it twice adjusts once.
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=40)

    def clean_amount_usd(self):
        amount = self.cleaned_data["amount_usd"]
        if amount == 0:
            raise forms.ValidationError("The amount cannot be zero.")
        return amount


def adjust_credits_view(request, admin_site):
    if not request.user.has_perm("billing.add_ledgerentry") and not request.user.is_superuser:
        raise PermissionDenied
    initial = {"nonce": secrets.token_hex(16), "organization": request.GET.get("org")}
    form = AdjustCreditsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        org = data["organization"]
        try:
            entry = credits_add(
                organization=org,
                amount_micros=usd_to_micros(data["amount_usd"]),
                kind=LedgerEntry.Kind.ADJUSTMENT,
                idempotency_key=f"admin:adjust:{data['nonce']}",
                note=data["reason"],
                created_by=request.user,
            )
        except ValueError:
            form.add_error("amount_usd", "The balance cannot cover this debit.")
        else:
            if entry is None:
                messages.warning(request, "This adjustment was already recorded.")
            else:
                messages.success(
                    request,
                    f"Adjusted {org} by {usd(entry.amount_micros)}; "
                    f"balance {usd(entry.balance_after_micros)}.",
                )
            return redirect("admin:billing_ledgerentry_changelist")
    context = {
        **admin_site.each_context(request),
        "title": "Adjust credits",
        "form": form,
        "opts": LedgerEntry._meta,
    }
    return render(request, "admin/billing/adjust_credits.html", context)


@admin.action(description="Adjust credits of the selected tenant")
def adjust_credits_action(modeladmin, request, queryset):
    field = "pk" if queryset.model is Organization else "organization_id"
    org_ids = set(queryset.values_list(field, flat=True))
    if len(org_ids) != 1:
        modeladmin.message_user(request, "Select rows of exactly one tenant.", messages.ERROR)
        return None
    return redirect(f"{reverse('admin:billing_adjust_credits')}?org={org_ids.pop()}")


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = ["organization", "balance", "reserved", "updated_at"]
    search_fields = ["organization__slug", "organization__name"]
    actions = [adjust_credits_action]

    @admin.display(description="Balance", ordering="balance_micros")
    def balance(self, obj):
        return usd(obj.balance_micros)

    @admin.display(description="Reserved", ordering="reserved_micros")
    def reserved(self, obj):
        return usd(obj.reserved_micros)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "organization", "kind", "amount", "balance_after", "created_by"]
    list_filter = ["kind", "created_at"]
    search_fields = ["organization__slug", "idempotency_key", "note"]
    list_select_related = ["organization", "created_by"]
    date_hierarchy = "created_at"
    actions = [adjust_credits_action]

    def get_urls(self):
        adjust = self.admin_site.admin_view(
            lambda request: adjust_credits_view(request, self.admin_site)
        )
        return [path("adjust/", adjust, name="billing_adjust_credits"), *super().get_urls()]

    @admin.display(description="Amount", ordering="amount_micros")
    def amount(self, obj):
        return usd(obj.amount_micros)

    @admin.display(description="Balance after")
    def balance_after(self, obj):
        return usd(obj.balance_after_micros)


@admin.register(FeePolicy)
class FeePolicyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "organization", "percent_bp", "fixed_micros"]
    autocomplete_fields = ["organization"]


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at", "request_id", "organization", "api_key", "dialect", "model", "provider",
        "status", "http_status", "pages", "total", "latency_ms",
    ]  # fmt: skip
    list_filter = ["status", "dialect", "provider", "http_status", "created_at"]
    search_fields = ["request_id", "model", "organization__slug", "api_key__label", "error_code"]
    list_select_related = ["organization", "api_key"]
    date_hierarchy = "created_at"

    @admin.display(description="Total", ordering="total_micros")
    def total(self, obj):
        return usd(obj.total_micros)


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = [
        "request_id",
        "organization",
        "api_key",
        "amount_micros",
        "status",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["request_id"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["event_id", "type", "organization", "livemode", "processed_at", "created_at"]
    list_filter = ["type", "livemode"]
    search_fields = ["event_id", "organization__slug"]
