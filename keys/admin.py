from __future__ import annotations

from django.contrib import admin, messages

from accounts.templatetags.dashboard import usd
from keys.models import ApiKey
from keys.services import api_key_revoke


# Staff who may only view keys must not revoke them: an action without `permissions`
# is offered to, and run for, anyone who can see the list.
@admin.action(description="Revoke the selected keys (irreversible)", permissions=["change"])
def revoke_keys(modeladmin, request, queryset):
    count = 0
    for key in queryset.filter(revoked_at__isnull=True)[:1000]:
        api_key_revoke(key=key)
        count += 1
    modeladmin.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "label", "name", "organization", "kind", "disabled", "revoked_at", "spent", "last_used_at",
    ]  # fmt: skip
    list_filter = ["kind", "disabled", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["label", "name", "public_id", "organization__slug"]
    list_select_related = ["organization"]
    actions = [revoke_keys]
    # The secret is never stored; its hash and lookup prefix are shown, never editable.
    readonly_fields = [
        "public_id", "organization", "kind", "label", "lookup_prefix", "secret_hash", "scopes",
        "created_by", "created_at", "last_used_at", "revoked_at", "period_start",
        "period_usage_micros", "period_reserved_micros", "total_usage_micros",
    ]  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False  # keys are made where their secret can be shown once (dashboard, API)

    @admin.display(description="Spent", ordering="total_usage_micros")
    def spent(self, obj):
        return usd(obj.total_usage_micros)
