"""Browser clients: CORS preflights answered before auth, API answers open to any origin."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/ocr/extract", "/v1/ocr", "/ocr", "/api/v1/keys"])
def test_a_preflight_is_answered_without_a_key(client, path):
    response = client.options(
        path,
        HTTP_ORIGIN="https://app.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )

    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Allow-Headers"] == "authorization, content-type"


def test_api_answers_allow_any_origin_and_expose_the_cost_headers(client):
    response = client.post(
        "/api/v1/ocr/extract", {}, content_type="application/json", HTTP_ORIGIN="https://a.example"
    )

    assert response.status_code == 401  # no key: the browser can still read why
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "X-Cost-Usd" in response["Access-Control-Expose-Headers"]


def test_the_dashboard_and_stripe_are_not_opened(client):
    for path in ("/dashboard/", "/stripe/webhook"):
        response = client.options(path, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
        assert not response.has_header("Access-Control-Allow-Origin"), path


def test_a_nul_refusal_is_readable_by_a_browser_and_the_dashboard_gets_a_page(client):
    api = client.get("/v1/files?search=a%00b", HTTP_ORIGIN="https://a.example")
    page = client.get("/dashboard/keys/%00/")

    assert api.status_code == 400 and api["Access-Control-Allow-Origin"] == "*"
    assert api.json()["error"]["code"] == "invalid_request"
    assert page.status_code == 404 and page["Content-Type"].startswith("text/plain")
