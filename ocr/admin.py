from __future__ import annotations

from django.contrib import admin
from django.core.files.storage import default_storage

from ocr.models import OcrFile, Provider, ProviderModel, StoredUpload


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


@admin.register(OcrFile)
class OcrFileAdmin(admin.ModelAdmin):
    """Files uploaded with POST /v1/files; deleting one here deletes its bytes too."""

    list_display = [
        "id",
        "filename",
        "organization",
        "size",
        "mimetype",
        "created_at",
        "expires_at",
    ]
    list_filter = ["mimetype"]
    search_fields = ["id", "filename", "organization__slug"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        default_storage.delete(obj.storage_name)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        for file in queryset:
            default_storage.delete(file.storage_name)
        super().delete_queryset(request, queryset)
