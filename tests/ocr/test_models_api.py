"""`GET /api/v1/models` and the OpenAPI schema documenting every dialect."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from ocr.models import Provider, ProviderModel

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
    assert rapid["providers"][0]["pricing"] == {
        "per_page_usd": "0.001500",
        "per_request_usd": "0.000000",
        "input_per_mtok_usd": "0.150000",
        "output_per_mtok_usd": "0.000000",
    }
    assert rapid["providers"][1]["pricing"]["per_page_usd"] == "0.001000"
    assert rapid["pricing"] == rapid["providers"][0]["pricing"]


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
    assert "usage" in components["V1OcrResponse"]["properties"]
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
