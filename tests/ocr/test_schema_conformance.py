"""Every dialect's answers, errors included, match what /api/schema/ documents.

Found by schemathesis against a live server, which never sent a readable document and
so never saw a 200: these send real ones through the real engine.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.ocr.dialect_support import b64, data_url, phototest_png
from tests.ocr.documents import make_pdf
from tests.openapi import assert_matches_schema, response_errors

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def png() -> bytes:
    return phototest_png()


def test_docsrouter_answers_match_the_schema(client, png):
    plain = client.post("/v1/ocr", {"base64": b64(png)}, format="json")
    tables = client.post(
        "/v1/ocr",
        {"base64": b64(png), "options": {"extract_tables": True, "output_format": "json"}},
        format="json",
    )

    assert plain.status_code == 200 and tables.status_code == 200
    assert "tables" not in plain.json()["result"]  # only with extract_tables, as the seed
    assert isinstance(plain.json()["usage"]["total_cost_cents"], float | int)
    assert_matches_schema(plain, path="/v1/ocr")
    assert_matches_schema(tables, path="/v1/ocr")


def test_mistral_answers_match_the_schema(client, png):
    image = client.post(
        "/v1/ocr",
        {"document": {"type": "image_url", "image_url": data_url(png)}},
        format="json",
    )
    pdf = make_pdf([["Invoice 42", "Total 12.50"], ["Page two"]])
    document = client.post(
        "/v1/ocr",
        {
            "document": {
                "type": "document_url",
                "document_url": data_url(pdf, "application/pdf"),
            },
            "table_format": "html",
            "confidence_scores_granularity": "word",
            "extract_header": True,
        },
        format="json",
    )
    invalid = client.post("/v1/ocr", {"document": {"type": "nope"}}, format="json")

    assert image.status_code == 200 and document.status_code == 200
    assert "created" not in image.json()  # Mistral's answer, not DocsRouter's
    assert_matches_schema(image, path="/v1/ocr")
    assert_matches_schema(document, path="/v1/ocr")
    assert invalid.status_code == 422
    assert_matches_schema(invalid, path="/v1/ocr")


def test_a_docsrouter_answer_is_not_taken_for_a_mistral_one(client, png):
    answer = client.post("/v1/ocr", {"base64": b64(png)}, format="json")
    mixed = answer.json() | {"pages": [], "usage_info": {"pages_processed": 0}, "text": ""}

    # oneOf: matching both shapes is matching neither.
    assert not response_errors(answer, path="/v1/ocr", method="POST")
    assert response_errors(answer, path="/v1/ocr", method="POST", body=mixed)


def test_the_other_dialects_answers_match_the_schema(client, png):
    extract = client.post("/api/v1/ocr/extract", {"image": b64(png)}, format="json")
    otoroshi = client.post("/ocr", {"image_base64": b64(png)}, format="json")
    invoice = client.post(
        "/api/ocr-structured-v4", {"imageBase64": b64(png), "mimeType": "image/png"}, format="json"
    )

    assert_matches_schema(extract, path="/api/v1/ocr/extract")
    assert_matches_schema(otoroshi, path="/ocr")
    assert_matches_schema(invoice, path="/api/ocr-structured-v4")


OCR_OPERATIONS = [
    "/api/v1/ocr/extract",
    "/v1/ocr",
    "/ocr",
    "/api/ocr-structured-v4",
    "/api/ocr/process",
]
SEED_003 = ["/api/upload", "/api/ocr/process"]


def test_the_ocr_answer_headers_are_documented():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    for path in OCR_OPERATIONS:
        responses = schema["paths"][path]["post"]["responses"]
        assert {"X-Request-Id", "X-Cost-Usd", "X-Credits-Remaining-Usd", "RateLimit"} <= set(
            responses["200"]["headers"]
        ), path
        assert {"X-Request-Id", "X-Cost-Usd"} <= set(responses["401"]["headers"]), path


@pytest.mark.parametrize(
    ("headers", "query"),
    [({"HTTP_CONTENT_ENCODING": "gzip"}, ""), ({}, "?x=%00")],
    ids=["compressed body", "NUL in the query"],
)
@pytest.mark.parametrize("path", [*OCR_OPERATIONS, "/api/upload"])
def test_refusals_before_any_view_match_the_schema(client, path, headers, query):
    # Refused by middleware, they lacked X-Request-Id and X-Cost-Usd, and seed 003's
    # endpoints answered the platform envelope, not their own (a live probe).
    response = client.post(path + query, b"{}", content_type="application/json", **headers)

    assert response.status_code in (400, 415)
    assert response["X-Cost-Usd"] == "0.000000"
    if path in SEED_003:
        assert isinstance(response.json()["error"], str)
    assert_matches_schema(response, path=path)
