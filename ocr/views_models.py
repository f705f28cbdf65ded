"""`GET /api/v1/models`: the models a client can ask for, who serves them, at what price.

Public, like the model lists of the services the dialects imitate: prices are not secret
and a client picks a model before it has a key. Prices are USD decimal strings.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.money import micros_to_usd_str
from ocr.dialects import schemas
from ocr.models import ProviderModel
from ocr.providers import client_for


def models_served() -> list[ProviderModel]:
    """Enabled models of enabled providers that can run now (secret present), by priority."""
    rows = (
        ProviderModel.objects.filter(enabled=True, provider__enabled=True)
        .select_related("provider")
        .order_by("provider__priority", "provider__slug", "name")
    )
    return [row for row in rows if client_for(row.provider).available(model=row)]


def _price(row) -> dict[str, str]:
    return {
        "per_page_usd": micros_to_usd_str(row.per_page_micros),
        "per_request_usd": micros_to_usd_str(row.per_request_micros),
        "input_per_mtok_usd": micros_to_usd_str(row.input_per_mtok_micros),
        "output_per_mtok_usd": micros_to_usd_str(row.output_per_mtok_micros),
    }


class ModelListView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        operation_id="models_list",
        summary="Models, the providers serving them (in routing order) and their prices",
        responses={200: schemas.models_response},
        tags=["models"],
    )
    def get(self, request):
        by_name: dict[str, dict] = {}
        for row in models_served():
            entry = by_name.setdefault(
                row.name,
                {"id": row.name, "object": "model", "providers": [], "pricing": _price(row)},
            )
            entry["providers"].append(
                {
                    "id": row.provider.slug,
                    "kind": row.provider.kind,
                    "name": row.provider.name or row.provider.slug,
                    "priority": row.provider.priority,
                    "pricing": _price(row),
                }
            )
        # A well-known name answered by another model (OCR_MODEL_ALIASES) is listed too,
        # when nothing serves it under its own name and its target can run.
        for alias, target in settings.OCR_MODEL_ALIASES.items():
            if alias not in by_name and target in by_name:
                by_name[alias] = {**by_name[target], "id": alias, "alias_of": target}
        return Response({"object": "list", "data": sorted(by_name.values(), key=lambda m: m["id"])})
