"""JSON bodies read alike on every API endpoint: a UTF-8 byte order mark is ignored (RFC
8259 §8.1; PowerShell writes one), a body nested too deeply is a 400 saying so."""

from __future__ import annotations

import pytest

from billing.models import LedgerEntry

pytestmark = pytest.mark.django_db

BOM = b"\xef\xbb\xbf"
DIALECTS = [
    # (path, a body that parses but lacks the document, the code that then answers)
    ("/api/v1/ocr/extract", b'{"filename": "a.png"}', "missing_required_fields"),
    ("/v1/ocr", b'{"model": "x"}', None),
    ("/api/ocr-structured-v4", b'{"model": "x"}', None),
    ("/ocr", b'{"pages": [1]}', None),
]


@pytest.mark.parametrize(("path", "body", "code"), DIALECTS)
def test_a_bom_before_the_json_is_read_as_the_json(client_for, api_key, path, body, code):
    client = client_for(api_key[1])
    plain = client.generic("POST", path, body, content_type="application/json")
    with_bom = client.generic("POST", path, BOM + body, content_type="application/json")

    assert plain.status_code == with_bom.status_code == 400
    assert with_bom.json() == plain.json()  # the same refusal: the body was read
    assert "not valid JSON" not in str(with_bom.json())
    if code:
        assert with_bom.json()["error"]["code"] == code
    assert not LedgerEntry.objects.filter(kind="charge").exists()


def test_the_management_api_reads_a_bom_too(client_for, management_key):
    response = client_for(management_key[1]).generic(
        "POST",
        "/api/v1/keys",
        BOM + b'{"name": "from powershell"}',
        content_type="application/json",
    )

    assert response.status_code == 201
    assert response.json()["data"]["name"] == "from powershell"


@pytest.mark.parametrize("path", [path for path, _, _ in DIALECTS] + ["/api/v1/keys"])
def test_a_body_nested_too_deeply_says_so(client_for, api_key, management_key, path):
    secret = management_key[1] if path == "/api/v1/keys" else api_key[1]
    body = b"[" * 5000 + b"]" * 5000

    response = client_for(secret).generic("POST", path, body, content_type="application/json")

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]["message"]
