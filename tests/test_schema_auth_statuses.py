"""Every operation that needs a key documents what the key checks answer: no key, a key of
the wrong kind, a key without the scope, a revoked key (schemathesis against a live
server: GET /api/files/{key} answered a revoked key 401, undocumented; the OCR
endpoints documented no 403 for a key without the `ocr` scope)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from keys.services import api_key_create, api_key_revoke
from tests.openapi import response_errors

pytestmark = pytest.mark.django_db

_ARGUMENTS = {
    "{key}": "ocr/x/a.png",
    "{file_id}": "00000000-0000-0000-0000-000000000000",
    "{public_id}": "key_0000000000000000",
    "{model_id}": "local/rapidocr",
}


def _operations():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if operation.get("security") and {} not in operation["security"]:
                yield path, method


def _call(client: APIClient, path: str, method: str):
    url = path
    for name, value in _ARGUMENTS.items():
        url = url.replace(name, value)
    return getattr(client, method)(url, {}, format="json")


def _client(secret: str | None) -> APIClient:
    client = APIClient()
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_every_refusal_by_key_is_documented(org_a):
    keys = {
        "none": None,
        "api": api_key_create(organization=org_a, name="api")[1],
        "management": api_key_create(organization=org_a, kind="management", name="m")[1],
        "no scope": api_key_create(organization=org_a, name="bare", scopes=["key:read"])[1],
    }
    revoked, keys["revoked"] = api_key_create(organization=org_a, name="gone")
    api_key_revoke(key=revoked)

    problems = []
    for path, method in _operations():
        for label, secret in keys.items():
            response = _call(_client(secret), path, method)
            for error in response_errors(response, path=path, method=method):
                problems.append(f"{method.upper()} {path} with {label} key: {error}")

    assert not problems, "\n".join(problems)
