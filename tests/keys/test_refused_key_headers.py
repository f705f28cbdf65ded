"""A key refused by an OCR endpoint learns nothing of the tenant's balance.

A management key (or an API key without the ocr scope) gets 401/403 on every OCR
endpoint; the answer used to carry `X-Credits-Remaining-Usd` all the same, so a
`key:read`-only management key, refused 403 on `/api/v1/credits`, read the balance there.
"""

from __future__ import annotations

import pytest

from billing.services import credits_add
from keys.services import api_key_create
from tests.ocr.dialect_support import client_with

pytestmark = pytest.mark.django_db

OCR_POSTS = [
    ("/api/v1/ocr/extract", {"image": "aGk="}),
    ("/v1/ocr", {"base64": "aGk="}),
    ("/v1/ocr", {"document": {"type": "image_url", "image_url": "data:image/png;base64,aGk="}}),
    ("/ocr", {"image_base64": "aGk="}),
    ("/api/ocr-structured-v4", {"imageBase64": "aGk=", "mimeType": "image/png"}),
    ("/api/ocr/process", {"key": "ocr/x/y.png"}),
]


@pytest.mark.parametrize(("path", "body"), OCR_POSTS)
def test_a_management_key_is_refused_without_the_balance(org_a, path, body):
    credits_add(organization=org_a, amount_micros=9_000_000, idempotency_key="fund")
    secret = api_key_create(organization=org_a, kind="management", scopes=["key:read"])[1]

    response = client_with(secret).post(path, body, format="json")

    assert response.status_code == 401, response.content
    assert "X-Credits-Remaining-Usd" not in response
    assert response["X-Cost-Usd"] == "0.000000"


def test_an_accepted_key_still_gets_the_balance_on_an_error(org_a):
    credits_add(organization=org_a, amount_micros=9_000_000, idempotency_key="fund")
    secret = api_key_create(organization=org_a)[1]

    response = client_with(secret).post("/v1/ocr", {"base64": "aGk="}, format="json")

    assert 400 <= response.status_code < 500
    assert response["X-Credits-Remaining-Usd"] == "9.000000"


def test_mistrals_files_api_answers_carry_the_ocr_headers(org_a):
    credits_add(organization=org_a, amount_micros=9_000_000, idempotency_key="fund")
    api = client_with(api_key_create(organization=org_a)[1])
    management = client_with(api_key_create(organization=org_a, kind="management")[1])

    listed = api.get("/v1/files")
    missing = api.get("/v1/files/00000000-0000-0000-0000-000000000000")
    refused = management.get("/v1/files")

    for response in (listed, missing):
        assert response["X-Request-Id"].startswith("req_")
        assert response["X-Cost-Usd"] == "0.000000"
        assert response["X-Credits-Remaining-Usd"] == "9.000000"
    assert (listed.status_code, missing.status_code) == (200, 404)
    assert refused.status_code == 401
    assert "X-Credits-Remaining-Usd" not in refused
