"""`GET /api/v1/models`: the models a client can ask for, who serves them, at what price.

Public, like the model lists of the services the dialects imitate: prices are not secret
and a client picks a model before it has a key. Prices are USD decimal strings; `pricing`
is what the client pays (the platform fee in it), `provider_pricing` the provider's list.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import APIException, AuthenticationFailed
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import FeePolicy
from billing.money import micros_to_usd_str, usd_str
from billing.pricing import fee_policy_for, list_price_usd
from config.api import ApiError
from keys.authentication import ApiKeyAuthentication
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


_PRICE_FIELDS = (
    ("per_page_usd", "per_page_micros"),
    ("per_request_usd", "per_request_micros"),
    ("input_per_mtok_usd", "input_per_mtok_micros"),
    ("output_per_mtok_usd", "output_per_mtok_micros"),
)


def _provider_price(row: ProviderModel) -> dict[str, str]:
    """What the provider costs the platform, the price list as configured."""
    return {name: micros_to_usd_str(getattr(row, field)) for name, field in _PRICE_FIELDS}


def _client_price(row: ProviderModel, policy: FeePolicy) -> dict[str, str]:
    """What the client pays: the provider's price with the platform fee in it."""
    return {
        name: usd_str(
            list_price_usd(
                micros=getattr(row, field), policy=policy, per_request=name == "per_request_usd"
            )
        )
        for name, field in _PRICE_FIELDS
    }


def _fee(policy: FeePolicy) -> dict[str, str]:
    return {
        "percent": format((Decimal(policy.percent_bp) / 100).normalize(), "f"),
        "per_request_usd": micros_to_usd_str(policy.fixed_micros),
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
            {"id": row.name, "object": "model", "providers": [], "row": row},
        )
        entry["providers"].append(
            {
                "id": row.provider.slug,
                "kind": row.provider.kind,
                "name": row.provider.name or row.provider.slug,
                "priority": row.provider.priority,
                "row": row,
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
        policy = fee_policy_for(organization=_caller_organization(request))
        data = []
        for entry in model_catalogue().values():
            providers = [
                {
                    **{
                        key: value
                        for key, value in provider.items()
                        if key not in ("updated", "row")
                    },
                    **_prices(provider["row"], policy),
                }
                for provider in entry["providers"]
            ]
            rest = {key: value for key, value in entry.items() if key != "row"}
            data.append({**rest, **_prices(entry["row"], policy), "providers": providers})
        return Response({"object": "list", "platform_fee": _fee(policy), "data": data})


def _prices(row: ProviderModel, policy: FeePolicy) -> dict[str, dict[str, str]]:
    return {"pricing": _client_price(row, policy), "provider_pricing": _provider_price(row)}


def _caller_organization(request):
    """The tenant of a valid key sent with the request (its own fee applies), else None
    (the platform's default fee). The list is public: a bad key is no error here."""
    try:
        authenticated = ApiKeyAuthentication().authenticate(request)
    except (AuthenticationFailed, APIException):
        return None
    return authenticated[1].organization if authenticated else None


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
