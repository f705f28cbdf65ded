"""`GET /api/v1/models` and the OpenAPI schema documenting every dialect."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.models import FeePolicy
from billing.services import credits_add
from keys.services import api_key_create
from ocr.models import Provider, ProviderModel
from tests.ocr.dialect_support import phototest_png

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.django_db


def test_it_lists_models_providers_and_prices_in_usd(fake_openai, provider_for):
    provider_for(
        fake_openai,
        model="local/rapidocr",
        priority=5,
        prices={"per_page_micros": 1500, "input_per_mtok_micros": 150_000},
    )

    response = APIClient().get("/api/v1/models")

    assert response.status_code == 200
    models = {m["id"]: m for m in response.json()["data"]}
    rapid = models["local/rapidocr"]
    # Routing order: the priority-5 fake first, then the built-in engine (priority 1000).
    assert [p["kind"] for p in rapid["providers"]] == ["openai_compatible", "local"]
    assert rapid["providers"][0]["provider_pricing"] == {
        "per_page_usd": "0.001500",
        "per_request_usd": "0.000000",
        "input_per_mtok_usd": "0.150000",
        "output_per_mtok_usd": "0.000000",
    }
    # What the client pays: the platform fee (5.5 %) is in it, exactly.
    assert rapid["providers"][0]["pricing"] == {
        "per_page_usd": "0.0015825",
        "per_request_usd": "0.000000",
        "input_per_mtok_usd": "0.158250",
        "output_per_mtok_usd": "0.000000",
    }
    assert rapid["providers"][1]["pricing"]["per_page_usd"] == "0.001055"
    assert rapid["pricing"] == rapid["providers"][0]["pricing"]
    assert rapid["provider_pricing"] == rapid["providers"][0]["provider_pricing"]
    assert response.json()["platform_fee"] == {"percent": "5.5", "per_request_usd": "0.000000"}


def test_credit_for_n_requests_at_the_listed_price_buys_exactly_n(
    local_provider, org_b, client_for
):
    """A client that tops up N x the listed price of a page gets N one-page answers, then
    402: the listed price is what it pays (it was the provider's price without the fee,
    so $0.003 at '0.001000' a page bought 2 pages, not 3)."""
    listed = APIClient().get("/api/v1/models").json()["data"]
    per_page = Decimal(
        next(m for m in listed if m["id"] == "local/rapidocr")["pricing"]["per_page_usd"]
    )
    credits_add(
        organization=org_b, amount_micros=int(3 * per_page * 1_000_000), idempotency_key="n"
    )
    client = client_for(api_key_create(organization=org_b, name="n")[1])
    image = {"image": base64.b64encode(phototest_png()).decode()}

    answers = [client.post("/api/v1/ocr/extract", image, format="json") for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 402]
    assert {a["X-Cost-Usd"] for a in answers[:3]} == {format(per_page, "f")}


def test_a_key_sees_its_tenants_own_fee_and_a_fixed_fee_is_per_request(
    local_provider, org_a, api_key, client_for
):
    FeePolicy.objects.create(organization=org_a, percent_bp=1000, fixed_micros=200)

    def rapid(client):
        body = client.get("/api/v1/models").json()
        return body["platform_fee"], next(m for m in body["data"] if m["id"] == "local/rapidocr")

    fee, model = rapid(client_for(api_key[1]))
    assert fee == {"percent": "10", "per_request_usd": "0.000200"}
    assert model["pricing"]["per_page_usd"] == "0.001100"
    assert model["pricing"]["per_request_usd"] == "0.000200"
    fee, model = rapid(client_for(None))
    assert fee["percent"] == "5.5"
    assert model["pricing"]["per_page_usd"] == "0.001055"


def test_disabled_and_unavailable_models_are_not_listed(fake_openai, provider_for):
    provider_for(fake_openai, model="no-secret", with_secret=False)
    ProviderModel.objects.filter(name="local/rapidocr").update(enabled=False)
    Provider.objects.filter(slug="local").update(enabled=True)

    ids = {m["id"] for m in APIClient().get("/api/v1/models").json()["data"]}

    assert "no-secret" not in ids
    assert "local/rapidocr" not in ids


def test_a_bad_key_does_not_matter_on_a_public_list():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer whatever")

    assert client.get("/api/v1/models").status_code == 200


def test_the_schema_documents_every_dialect():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in (
        "/api/v1/ocr/extract",
        "/v1/ocr",
        "/api/ocr-structured-v4",
        "/api/upload",
        "/api/ocr/process",
        "/ocr",
    ):
        operation = paths[path]["post"]
        assert operation["requestBody"]["content"], path
        assert "200" in operation["responses"], path
        assert "401" in operation["responses"], path
    extract = paths["/api/v1/ocr/extract"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(extract)
    assert "/api/v1/models" in paths
    components = schema["components"]["schemas"]
    assert {"text", "format", "model", "tokens"} <= set(
        components["AnyRouterExtractResponse"]["properties"]
    )
    assert "usage" in components["DocsRouterOcrResponse"]["properties"]
    assert "usage_info" in components["MistralOcrResponse"]["properties"]
    # Multipart file fields are binary uploads, not URI strings.
    for component in ("UploadRequest", "FileUploadRequest"):
        assert components[component]["properties"]["file"]["format"] == "binary", component


def test_the_seeds_model_names_are_listed_as_aliases_of_what_answers_them(settings):
    settings.OCR_MODEL_ALIASES = {"openai/gpt-4o": "local/rapidocr", "gone/model": "no/target"}

    models = {m["id"]: m for m in APIClient().get("/api/v1/models").json()["data"]}

    alias = models["openai/gpt-4o"]
    assert alias["alias_of"] == "local/rapidocr"
    assert alias["providers"] == models["local/rapidocr"]["providers"]
    assert "alias_of" not in models["local/rapidocr"]
    assert "gone/model" not in models  # nothing can answer it
