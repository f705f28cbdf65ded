from __future__ import annotations

from django.contrib import admin

from ocr.models import Provider, ProviderModel, StoredUpload


class ProviderModelInline(admin.TabularInline):
    model = ProviderModel
    extra = 0
    fields = [
        "name", "upstream_model", "per_page_micros", "per_request_micros",
        "input_per_mtok_micros", "output_per_mtok_micros", "enabled",
    ]  # fmt: skip


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["slug", "kind", "name", "base_url", "priority", "enabled", "model_count"]
    list_filter = ["kind", "enabled"]
    search_fields = ["slug", "name", "models__name"]
    inlines = [ProviderModelInline]

    @admin.display(description="Models")
    def model_count(self, obj):
        return obj.models.count()


@admin.register(ProviderModel)
class ProviderModelAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "per_page_micros", "per_request_micros", "enabled"]
    list_filter = ["enabled", "provider"]
    search_fields = ["name", "upstream_model"]


@admin.register(StoredUpload)
class StoredUploadAdmin(admin.ModelAdmin):
    list_display = ["key", "organization", "size", "content_type", "created_at"]
    search_fields = ["key"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
