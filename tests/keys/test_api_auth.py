"""Every key endpoint against every way a caller can be wrong, and the happy path."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from keys.models import ApiKey
from tests.keys.conftest import make_key

KEYS_ENDPOINTS = [
    ("get", "/api/v1/keys", None),
    ("post", "/api/v1/keys", {"name": "made by test"}),
    ("get", "/api/v1/keys/{id}", None),
    ("patch", "/api/v1/keys/{id}", {"name": "renamed"}),
    ("delete", "/api/v1/keys/{id}", None),
]
ALL_ENDPOINTS = [("get", "/api/v1/key", None), *KEYS_ENDPOINTS]
HAPPY_STATUS = {"get": 200, "post": 201, "patch": 200, "delete": 200}


def call(client: APIClient, method: str, path: str, body, target: ApiKey):
    path = path.replace("{id}", target.public_id)
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, format="json")


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def assert_untouched(target: ApiKey) -> None:
    target.refresh_from_db()
    assert target.revoked_at is None
    assert target.name == "target"


@pytest.mark.parametrize(("method", "path", "body"), ALL_ENDPOINTS)
def test_it_refuses_a_missing_key(method, path, body, target_key, client_for):
    assert_error(call(client_for(None), method, path, body, target_key), 401, "invalid_api_key")
    assert_untouched(target_key)


@pytest.mark.parametrize(("method", "path", "body"), ALL_ENDPOINTS)
@pytest.mark.parametrize(
    "header",
    [
        "Bearer sk-ar-tooshort",
        "Bearer ak_" + "!" * 38,
        "Bearer not-a-key-at-all",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
def test_it_refuses_a_malformed_key(method, path, body, header, target_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(call(client, method, path, body, target_key), 401, "invalid_api_key")
    assert_untouched(target_key)


@pytest.mark.parametrize(("method", "path", "body"), ALL_ENDPOINTS)
def test_it_refuses_a_bad_checksum_without_a_query(
    method, path, body, management_key, target_key, client_for, django_assert_num_queries
):
    _, secret = management_key
    broken = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with django_assert_num_queries(0):
        response = call(client_for(broken), method, path, body, target_key)
    assert_error(response, 401, "invalid_api_key")
    assert response.json()["error"]["message"] == "The API key is malformed."
    assert_untouched(target_key)


@pytest.mark.parametrize(("method", "path", "body"), ALL_ENDPOINTS)
def test_it_refuses_an_unknown_key(method, path, body, target_key, client_for):
    from keys import crypto

    never_issued = crypto.generate("management").secret
    response = call(client_for(never_issued), method, path, body, target_key)
    assert_error(response, 401, "invalid_api_key")
    assert_untouched(target_key)


@pytest.mark.parametrize(("method", "path", "body"), ALL_ENDPOINTS)
@pytest.mark.parametrize("state", ["revoked", "disabled", "expired"])
def test_it_refuses_an_inactive_key(
    method, path, body, state, key_in_state, target_key, client_for
):
    response = call(client_for(key_in_state(state)), method, path, body, target_key)
    assert_error(response, 401, "invalid_api_key")
    assert state in response.json()["error"]["message"]
    assert_untouched(target_key)


@pytest.mark.parametrize(("method", "path", "body"), KEYS_ENDPOINTS)
def test_it_refuses_an_api_key_on_management_endpoints(
    method, path, body, api_key, target_key, client_for
):
    response = call(client_for(api_key[1]), method, path, body, target_key)
    assert_error(response, 403, "insufficient_scope")
    assert "management key" in response.json()["error"]["message"]
    assert_untouched(target_key)


@pytest.mark.parametrize(("method", "path", "body"), KEYS_ENDPOINTS)
def test_it_refuses_a_management_key_without_the_scope(
    method, path, body, org_a, target_key, client_for
):
    needed = "keys:read" if method == "get" else "keys:write"
    other = "keys:write" if needed == "keys:read" else "keys:read"
    _, secret = make_key(org_a, scopes=["key:read", other])
    response = call(client_for(secret), method, path, body, target_key)
    assert_error(response, 403, "insufficient_scope")
    assert needed in response.json()["error"]["message"]
    assert_untouched(target_key)


@pytest.mark.parametrize("kind", ["api", "management"])
def test_the_current_key_endpoint_needs_key_read(kind, org_a, client_for):
    scopes = ["ocr"] if kind == "api" else ["keys:read"]
    _, secret = make_key(org_a, kind=kind, scopes=scopes)
    response = client_for(secret).get("/api/v1/key")
    assert_error(response, 403, "insufficient_scope")


@pytest.mark.parametrize(("method", "path", "body"), [e for e in KEYS_ENDPOINTS if "{id}" in e[1]])
def test_another_tenants_key_is_not_found(
    method, path, body, management_key_b, target_key, client_for
):
    response = call(client_for(management_key_b[1]), method, path, body, target_key)
    assert_error(response, 404, "not_found")
    assert target_key.public_id not in response.content.decode()
    assert_untouched(target_key)


def test_another_tenants_keys_are_not_listed(management_key_b, target_key, client_for):
    response = client_for(management_key_b[1]).get("/api/v1/keys")
    assert response.status_code == 200
    ids = {key["id"] for key in response.json()["data"]}
    assert target_key.public_id not in ids
    assert ids == {management_key_b[0].public_id}


def test_a_key_created_by_another_tenant_belongs_to_that_tenant(
    management_key_b, org_b, target_key, client_for
):
    response = client_for(management_key_b[1]).post("/api/v1/keys", {}, format="json")
    assert response.status_code == 201
    created = ApiKey.objects.get(public_id=response.json()["data"]["id"])
    assert created.organization == org_b


@pytest.mark.parametrize(("method", "path", "body"), KEYS_ENDPOINTS)
def test_the_happy_path(method, path, body, management_key, target_key, client_for):
    response = call(client_for(management_key[1]), method, path, body, target_key)
    assert response.status_code == HAPPY_STATUS[method], response.content
    assert "data" in response.json()


@pytest.mark.parametrize("fixture", ["api_key", "management_key"])
def test_the_current_key_answers_for_either_kind(fixture, request, client_for):
    key, secret = request.getfixturevalue(fixture)
    response = client_for(secret).get("/api/v1/key")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["id"] == key.public_id
    assert data["kind"] == key.kind
    assert data["label"] == key.label


@pytest.mark.parametrize(("method", "path", "body"), ALL_ENDPOINTS)
def test_the_x_api_key_header_works(method, path, body, management_key, target_key):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=management_key[1])
    response = call(client, method, path, body, target_key)
    assert response.status_code == HAPPY_STATUS[method], response.content


def test_a_bad_authorization_header_is_not_rescued_by_x_api_key(management_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer sk-ar-wrong", HTTP_X_API_KEY=management_key[1])
    assert_error(client.get("/api/v1/keys"), 401, "invalid_api_key")


@pytest.mark.parametrize("param", ["api_key", "key", "token", "access_token"])
def test_a_key_in_the_query_string_is_not_accepted(param, management_key):
    response = APIClient().get(f"/api/v1/keys?{param}={management_key[1]}")
    assert_error(response, 401, "invalid_api_key")


@pytest.mark.parametrize("field", ["api_key", "key", "token"])
def test_a_key_in_the_body_is_not_accepted(field, management_key):
    client = APIClient()
    response = client.post("/api/v1/keys", {field: management_key[1]}, format="json")
    assert_error(response, 401, "invalid_api_key")
    form = client.post("/api/v1/keys", {field: management_key[1]})
    assert_error(form, 401, "invalid_api_key")
    assert ApiKey.objects.count() == 1


def test_a_revoked_key_stops_working_on_the_next_request(org_a, management_key, client_for):
    victim, victim_secret = make_key(org_a)
    victim_client = client_for(victim_secret)
    assert victim_client.get("/api/v1/keys").status_code == 200
    revoked = client_for(management_key[1]).delete(f"/api/v1/keys/{victim.public_id}")
    assert revoked.status_code == 200
    assert_error(victim_client.get("/api/v1/keys"), 401, "invalid_api_key")


@pytest.mark.parametrize("path", ["/api/v1/key", "/v1/ocr", "/ocr"])
def test_a_refused_key_is_told_how_to_authenticate(path, client_for, db):
    from keys import crypto

    never_issued = crypto.generate("api").secret
    for client in (client_for(None), client_for(never_issued)):
        method = client.get if path == "/api/v1/key" else client.post
        response = method(path)
        assert response.status_code == 401, response.content
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'
