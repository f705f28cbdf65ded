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
from config.api import ApiError
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


def model_catalogue() -> dict[str, dict]:
    """Every model name a client can ask for now, with its providers in routing order.

    A well-known name answered by another model (OCR_MODEL_ALIASES) is in it too, with
    `alias_of`, when nothing serves it under its own name and its target can run.
    """
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
                "updated": int(row.provider.updated_at.timestamp()),
            }
        )
    for alias, target in settings.OCR_MODEL_ALIASES.items():
        if alias not in by_name and target in by_name:
            by_name[alias] = {**by_name[target], "id": alias, "alias_of": target}
    return dict(sorted(by_name.items()))


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
        data = []
        for entry in model_catalogue().values():
            providers = [
                {key: value for key, value in provider.items() if key != "updated"}
                for provider in entry["providers"]
            ]
            data.append({**entry, "providers": providers})
        return Response({"object": "list", "data": data})


# --- Mistral's models API: what `client.models.list()` / `.retrieve()` read -----------


def _model_card(entry: dict, aliases: list[str]) -> dict:
    """A Mistral `BaseModelCard` for one catalogue entry."""
    kinds = {provider["kind"] for provider in entry["providers"]}
    chat = "openai_compatible" in kinds
    return {
        "id": entry["id"],
        "object": "model",
        "created": min(provider["updated"] for provider in entry["providers"]),
        "owned_by": entry["providers"][0]["id"],
        "name": entry["id"],
        "description": (f"Answered by {entry['alias_of']}." if "alias_of" in entry else None),
        "max_context_length": 32768,
        "aliases": aliases,
        "deprecation": None,
        "capabilities": {
            "completion_chat": chat,
            "vision": chat,
            "ocr": True,
        },
        "type": "base",
    }


def _model_cards() -> dict[str, dict]:
    catalogue = model_catalogue()
    aliases: dict[str, list[str]] = {}
    for entry in catalogue.values():
        if "alias_of" in entry:
            aliases.setdefault(entry["alias_of"], []).append(entry["id"])
            aliases.setdefault(entry["id"], []).append(entry["alias_of"])
    return {
        name: _model_card(entry, sorted(aliases.get(name, []))) for name, entry in catalogue.items()
    }


class MistralModelListView(APIView):
    """`GET /v1/models`: the same models as Mistral model cards (`ModelList`)."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        operation_id="mistral_models_list",
        summary="Mistral's models API: the models as model cards",
        responses={200: schemas.mistral_model_list},
        tags=["models"],
    )
    def get(self, request):
        return Response({"object": "list", "data": list(_model_cards().values())})


class MistralModelView(APIView):
    """`GET /v1/models/{model_id}`: one model card, 404 for a model nobody serves."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        operation_id="mistral_model_retrieve",
        summary="Mistral's models API: one model card",
        responses={200: schemas.mistral_model_card, **schemas.errors(404)},
        tags=["models"],
    )
    def get(self, request, model_id: str):
        card = _model_cards().get(model_id)
        if card is None:
            raise ApiError(404, "model_not_found", f"Model {model_id!r} not found.")
        return Response(card)
