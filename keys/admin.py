from __future__ import annotations

from django.contrib import admin, messages

from accounts.templatetags.dashboard import usd
from config.api import ApiError
from keys.models import ApiKey
from keys.services import UPDATABLE_FIELDS, api_key_revoke, api_key_update


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

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.revoked_at is not None:  # frozen, as the API says (409)
            return [field.name for field in ApiKey._meta.fields]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        """Write only what the operator changed, through the service's conditional UPDATE.
        `obj.save()` wrote the whole row as the form had read it, so the spend counters
        of requests reserving or settling meanwhile went back (a settlement then took
        the key's reserved amount below zero: an IntegrityError, the charge lost)."""
        changes = {
            field: form.cleaned_data[field]
            for field in form.changed_data
            if field in UPDATABLE_FIELDS
        }
        if not changes:
            return
        try:
            api_key_update(key=obj, **changes)
        except ApiError as error:  # revoked meanwhile
            self.message_user(request, error.message, messages.ERROR)

    @admin.display(description="Spent", ordering="total_usage_micros")
    def spent(self, obj):
        return usd(obj.total_usage_micros)
