"""A refused key is refused once: later reads of request.auth do not re-raise (no 500)."""

import pytest

ENDPOINTS = [
    ("post", "/api/v1/ocr/extract"),
    ("post", "/v1/ocr"),
    ("post", "/ocr"),
    ("post", "/api/ocr-structured-v4"),
    ("get", "/api/v1/key"),
    ("get", "/api/v1/keys"),
    ("get", "/api/v1/credits"),
]


@pytest.mark.parametrize("method,path", ENDPOINTS)
@pytest.mark.parametrize(
    "header",
    ["Basic abc", "Bearer", "Bearer sk-ar-notakey", "Token x", "Bearer ak_" + "A" * 38],
)
def test_a_malformed_authorization_header_is_a_clean_401(client, db, method, path, header):
    response = getattr(client, method)(
        path, data={}, content_type="application/json", HTTP_AUTHORIZATION=header
    )
    assert response.status_code == 401
    body = response.json()
    code = body["error"]["code"] if isinstance(body["error"], dict) else body.get("code")
    assert code == "invalid_api_key"
