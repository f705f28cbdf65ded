"""What the key endpoints do for a well-authenticated caller: shapes, validation, effects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing.money import micros_to_usd_str
from billing.pricing import Price
from billing.reservations import reservation_create, reservation_settle
from config.api import ApiError
from keys.models import ApiKey
from keys.services import api_key_create
from tests.billing.helpers import USAGE, key_state
from tests.keys.conftest import make_key

KEY_FIELDS = {
    "id", "name", "label", "kind", "scopes", "disabled", "limit", "limit_reset",
    "limit_remaining", "usage", "usage_total", "rate_limit", "rate_limit_rpm",
    "max_in_flight", "expires_at", "created_at", "last_used_at", "revoked_at",
}  # fmt: skip


@pytest.fixture
def manager(management_key, client_for) -> APIClient:
    return client_for(management_key[1])


def test_it_creates_an_api_key_by_default(manager, org_a, client_for):
    response = manager.post("/api/v1/keys", {"name": "ci"}, format="json")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"data", "key"}
    assert set(body["data"]) == KEY_FIELDS
    assert body["key"].startswith("sk-ar-")
    assert body["data"]["kind"] == "api"
    assert body["data"]["scopes"] == ["key:read", "ocr"]
    assert body["data"]["limit"] is None and body["data"]["limit_remaining"] is None
    assert body["data"]["usage"] == "0.000000"
    stored = ApiKey.objects.get(public_id=body["data"]["id"])
    assert stored.organization == org_a and stored.name == "ci"
    mine = client_for(body["key"]).get("/api/v1/key")
    assert mine.status_code == 200 and mine.json()["data"]["id"] == body["data"]["id"]


def test_it_creates_a_management_key_when_asked(manager, client_for):
    response = manager.post("/api/v1/keys", {"kind": "management"}, format="json")
    assert response.status_code == 201
    secret = response.json()["key"]
    assert secret.startswith("ak_")
    assert client_for(secret).get("/api/v1/keys").status_code == 200


def test_it_creates_a_key_with_every_setting(manager, client_for):
    expires = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    body = {
        "name": "limited",
        "limit": "12.5",
        "limit_reset": "monthly",
        "rate_limit_rpm": 30,
        "max_in_flight": 2,
        "expires_at": expires.isoformat(),
        "scopes": ["ocr"],
        "disabled": False,
    }
    response = manager.post("/api/v1/keys", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    assert data["limit"] == "12.500000"
    assert data["limit_remaining"] == "12.500000"
    assert data["limit_reset"] == "monthly"
    assert data["rate_limit"] == {"rpm": 30, "max_in_flight": 2}
    assert data["rate_limit_rpm"] == 30 and data["max_in_flight"] == 2
    assert data["scopes"] == ["ocr"]
    stored = ApiKey.objects.get(public_id=data["id"])
    assert stored.limit_micros == 12_500_000
    assert stored.expires_at == expires
    # Without key:read the new key may not even read itself.
    assert client_for(response.json()["key"]).get("/api/v1/key").status_code == 403


@pytest.mark.parametrize(("limit", "micros"), [(12.5, 12_500_000), (0, 0), ("0.000001", 1)])
def test_a_limit_may_be_a_number_or_a_string(limit, micros, manager):
    response = manager.post("/api/v1/keys", {"limit": limit}, format="json")
    assert response.status_code == 201, response.content
    assert ApiKey.objects.get(public_id=response.json()["data"]["id"]).limit_micros == micros


def test_a_key_created_disabled_does_not_work(manager, client_for):
    response = manager.post("/api/v1/keys", {"disabled": True}, format="json")
    assert response.status_code == 201
    assert client_for(response.json()["key"]).get("/api/v1/key").status_code == 401


def test_a_management_key_cannot_mint_a_stronger_one(org_a, client_for):
    _, weak = make_key(org_a, scopes=["keys:read", "keys:write"])
    client = client_for(weak)
    stronger = client.post("/api/v1/keys", {"kind": "management"}, format="json")
    assert stronger.status_code == 403
    assert stronger.json()["error"]["code"] == "insufficient_scope"
    same = client.post(
        "/api/v1/keys", {"kind": "management", "scopes": ["keys:read"]}, format="json"
    )
    assert same.status_code == 201
    # API keys carry OCR scopes no management key holds; minting them is the point.
    assert client.post("/api/v1/keys", {}, format="json").status_code == 201


def test_a_management_key_cannot_revoke_or_change_a_stronger_one(org_a, client_for):
    full, full_secret = make_key(org_a)
    weak_key, weak = make_key(org_a, scopes=["keys:read", "keys:write"])
    client = client_for(weak)

    revoke = client.delete(f"/api/v1/keys/{full.public_id}")
    disable = client.patch(f"/api/v1/keys/{full.public_id}", {"disabled": True}, format="json")

    assert revoke.status_code == 403 and disable.status_code == 403
    assert revoke.json()["error"]["code"] == "insufficient_scope"
    assert client_for(full_secret).get("/api/v1/keys").status_code == 200  # still works
    # Keys within its reach it manages as before: an API key, a weaker management key,
    # itself.
    api = client.post("/api/v1/keys", {}, format="json").json()["data"]
    weaker = client.post(
        "/api/v1/keys", {"kind": "management", "scopes": ["keys:read"]}, format="json"
    ).json()["data"]
    renamed = client.patch(f"/api/v1/keys/{api['id']}", {"name": "x"}, format="json")
    assert renamed.status_code == 200
    assert client.delete(f"/api/v1/keys/{weaker['id']}").status_code == 200
    # The full key manages the weak one.
    full_client = client_for(full_secret)
    assert full_client.delete(f"/api/v1/keys/{weak_key.public_id}").status_code == 200


BAD_BODIES = [
    ({"name": 5}, "name"),
    ({"name": ["a"]}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "x" * 60_000}, "name"),
    ({"limit": -1}, "limit"),
    ({"limit": "-0.01"}, "limit"),
    ({"limit": "abc"}, "limit"),
    ({"limit": True}, "limit"),
    ({"limit": [1]}, "limit"),
    ({"limit": {"usd": 1}}, "limit"),
    ({"limit": "1e400"}, "limit"),
    ({"limit": "Infinity"}, "limit"),
    ({"limit": "0.0000001"}, "limit"),
    ({"limit": 1e12}, "limit"),
    ({"limit": "9" * 5000}, "limit"),
    ({"limit_reset": "hourly"}, "limit_reset"),
    ({"limit_reset": 1}, "limit_reset"),
    ({"limit_reset": None}, "limit_reset"),
    ({"rate_limit_rpm": 0}, "rate_limit_rpm"),
    ({"rate_limit_rpm": "60"}, "rate_limit_rpm"),
    ({"rate_limit_rpm": 1.5}, "rate_limit_rpm"),
    ({"rate_limit_rpm": True}, "rate_limit_rpm"),
    ({"rate_limit_rpm": 10**30}, "rate_limit_rpm"),
    ({"max_in_flight": -1}, "max_in_flight"),
    ({"disabled": "yes"}, "disabled"),
    ({"disabled": 1}, "disabled"),
    ({"disabled": None}, "disabled"),
    ({"expires_at": "yesterday"}, "expires_at"),
    ({"expires_at": "2000-01-01T00:00:00Z"}, "expires_at"),
    ({"expires_at": 12345}, "expires_at"),
    ({"expires_at": "9999-12-31T23:59:59-05:00"}, "expires_at"),
    ({"expires_at": "2" * 100_00}, "expires_at"),
    ({"expires_at": "2030-01-01T00:00:00\u0000"}, "expires_at"),  # a trailing NUL passed
    ({"limit": "\uff11\uff12"}, "limit"),  # full-width '12': Decimal() read it as 12
    ({"limit_rest": "daily"}, "limit_rest"),
    ({"revoked_at": None}, "revoked_at"),
]
CREATE_ONLY_BAD_BODIES = [
    ({"kind": "admin"}, "kind"),
    ({"kind": None}, "kind"),
    ({"scopes": "ocr"}, "scopes"),
    ({"scopes": ["root"]}, "scopes"),
    ({"scopes": []}, "scopes"),
    ({"scopes": [1]}, "scopes"),
    ({"scopes": ["ocr"] * 500}, "scopes"),
    ({"kind": "api", "scopes": ["keys:write"]}, "scopes"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES + CREATE_ONLY_BAD_BODIES)
def test_create_refuses_bad_input(body, field, manager):
    before = ApiKey.objects.count()
    response = manager.post("/api/v1/keys", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert field in error["details"]
    assert ApiKey.objects.count() == before


@pytest.mark.parametrize(("body", "field"), BAD_BODIES + [({"scopes": ["ocr"]}, "scopes")])
def test_update_refuses_bad_input(body, field, manager, target_key):
    response = manager.patch(f"/api/v1/keys/{target_key.public_id}", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]
    target_key.refresh_from_db()
    assert target_key.name == "target" and target_key.limit_micros is None


@pytest.mark.parametrize("body", [[1, 2], "a string", 42, None])
def test_a_body_that_is_not_an_object_is_refused(body, manager):
    response = manager.post("/api/v1/keys", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("raw", ['{"name": ', '{"limit": NaN}', "\xff\xfe"])
def test_malformed_json_is_refused(raw, manager):
    response = manager.post("/api/v1/keys", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request_body"


@pytest.mark.parametrize("method", ["post", "patch"])
def test_json_nested_too_deeply_is_malformed_not_a_crash(method, manager, target_key):
    path = "/api/v1/keys" if method == "post" else f"/api/v1/keys/{target_key.public_id}"
    body = "[" * 5000 + "]" * 5000  # 10 KB, under the body limit

    response = getattr(manager, method)(path, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request_body"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_a_nul_in_a_key_id_is_no_such_key_not_a_crash(method, manager):
    response = getattr(manager, method)("/api/v1/keys/key_%00", content_type="application/json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_only_json_is_accepted(manager):
    response = manager.post("/api/v1/keys", {"name": "form"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_a_huge_body_is_refused_before_parsing(manager):
    body = json.dumps({"name": "x" * (70 * 1024)})
    response = manager.post("/api/v1/keys", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_it_updates_every_setting(manager, target_key):
    expires = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    changes = {
        "name": "renamed",
        "disabled": True,
        "limit": 3,
        "limit_reset": "daily",
        "rate_limit_rpm": 5,
        "max_in_flight": 1,
        "expires_at": expires.isoformat(),
    }
    response = manager.patch(f"/api/v1/keys/{target_key.public_id}", changes, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["name"] == "renamed" and data["disabled"] is True
    assert data["limit"] == "3.000000" and data["limit_reset"] == "daily"
    assert data["rate_limit"] == {"rpm": 5, "max_in_flight": 1}
    assert manager.get(f"/api/v1/keys/{target_key.public_id}").json()["data"] == data
    target_key.refresh_from_db()
    assert (target_key.limit_micros, target_key.expires_at) == (3_000_000, expires)


def test_null_clears_a_setting(manager, org_a):
    key, _ = api_key_create(
        organization=org_a,
        limit_micros=5,
        rate_limit_rpm=9,
        expires_at=timezone.now() + timedelta(1),
    )
    nulls = {"limit": None, "rate_limit_rpm": None, "max_in_flight": None, "expires_at": None}
    response = manager.patch(f"/api/v1/keys/{key.public_id}", nulls, format="json")
    assert response.status_code == 200
    key.refresh_from_db()
    assert (key.limit_micros, key.rate_limit_rpm, key.expires_at) == (None, None, None)


def test_an_update_changes_only_what_is_sent(manager, org_a):
    key, _ = api_key_create(organization=org_a, name="keep", limit_micros=7, rate_limit_rpm=9)
    response = manager.patch(f"/api/v1/keys/{key.public_id}", {"disabled": True}, format="json")
    assert response.status_code == 200
    key.refresh_from_db()
    assert (key.name, key.limit_micros, key.rate_limit_rpm, key.disabled) == ("keep", 7, 9, True)


def test_disabling_and_enabling_a_key(org_a, manager, client_for):
    key, secret = make_key(org_a, kind="api")
    url = f"/api/v1/keys/{key.public_id}"
    assert manager.patch(url, {"disabled": True}, format="json").status_code == 200
    assert client_for(secret).get("/api/v1/key").status_code == 401
    assert manager.patch(url, {"disabled": False}, format="json").status_code == 200
    assert client_for(secret).get("/api/v1/key").status_code == 200


def test_revoking_is_final(org_a, manager, client_for):
    key, secret = make_key(org_a, kind="api")
    url = f"/api/v1/keys/{key.public_id}"
    first = manager.delete(url)
    assert first.status_code == 200
    revoked_at = first.json()["data"]["revoked_at"]
    assert revoked_at is not None
    assert client_for(secret).get("/api/v1/key").status_code == 401
    again = manager.delete(url)
    assert again.status_code == 200 and again.json()["data"]["revoked_at"] == revoked_at
    for body in ({"disabled": False}, {"name": "back"}, {}):
        response = manager.patch(url, body, format="json")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "key_revoked"
    unrevoke = manager.patch(url, {"revoked_at": None}, format="json")
    assert unrevoke.status_code == 400
    key.refresh_from_db()
    assert key.revoked_at is not None and key.name == "matrix"
    assert client_for(secret).get("/api/v1/key").status_code == 401
    assert manager.get(url).json()["data"]["revoked_at"] == revoked_at


def test_a_key_may_revoke_itself(management_key, manager):
    key, _ = management_key
    assert manager.delete(f"/api/v1/keys/{key.public_id}").status_code == 200
    assert manager.get("/api/v1/keys").status_code == 401


def test_an_unknown_id_is_not_found(manager):
    for path in ("/api/v1/keys/key_doesnotexist", "/api/v1/keys/" + "x" * 5000):
        response = manager.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_the_list_pages_through_every_key_once(org_a, management_key, manager):
    created = [api_key_create(organization=org_a, name=f"k{i}")[0] for i in range(6)]
    seen, cursor, pages = [], None, 0
    while True:
        query = {"page_size": 4} | ({"cursor": cursor} if cursor else {})
        response = manager.get("/api/v1/keys", query)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"data", "next"}
        seen += [key["id"] for key in body["data"]]
        cursor, pages = body["next"], pages + 1
        if cursor is None:
            break
    expected = [key.public_id for key in reversed(created)] + [management_key[0].public_id]
    assert seen == expected
    assert pages == 2


def test_the_list_hides_revoked_keys_unless_asked(org_a, manager):
    key, _ = make_key(org_a, revoked_at=timezone.now())
    listed = {k["id"] for k in manager.get("/api/v1/keys").json()["data"]}
    assert key.public_id not in listed
    everything = manager.get("/api/v1/keys", {"include_revoked": "true"}).json()["data"]
    assert key.public_id in {k["id"] for k in everything}


@pytest.mark.parametrize(
    "query",
    [
        {"page_size": 0},
        {"page_size": 101},
        {"page_size": "ten"},
        {"cursor": "key_nosuchkey"},
        {"cursor": "x" * 500},
        {"include_revoked": "maybe"},
    ],
)
def test_the_list_refuses_bad_query_parameters(query, manager):
    response = manager.get("/api/v1/keys", query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_another_tenants_key_is_not_a_cursor(manager, management_key_b):
    response = manager.get("/api/v1/keys", {"cursor": management_key_b[0].public_id})
    assert response.status_code == 400


def test_the_current_key_reports_usage_in_usd_strings(org_a, client_for):
    key, secret = make_key(
        org_a,
        kind="api",
        limit_micros=2_000_000,
        period_usage_micros=250_000,
        period_reserved_micros=50_000,
        total_usage_micros=9_125_000,
    )
    data = client_for(secret).get("/api/v1/key").json()["data"]
    assert data["limit"] == "2.000000"
    assert data["usage"] == "0.250000"
    assert data["limit_remaining"] == "1.700000"
    assert data["usage_total"] == "9.125000"
    assert data["last_used_at"] is not None


def test_the_rate_limit_in_force_falls_back_to_the_tenant_then_the_platform(
    org_a, client_for, settings
):
    settings.DEFAULT_RATE_LIMIT_RPM = 111
    settings.DEFAULT_MAX_IN_FLIGHT = 7
    key, secret = make_key(org_a, kind="api")
    client = client_for(secret)
    assert client.get("/api/v1/key").json()["data"]["rate_limit"] == {
        "rpm": 111,
        "max_in_flight": 7,
    }
    org_a.rate_limit_rpm = 222
    org_a.save()
    assert client.get("/api/v1/key").json()["data"]["rate_limit"]["rpm"] == 222
    ApiKey.objects.filter(pk=key.pk).update(rate_limit_rpm=333, max_in_flight=3)
    data = client.get("/api/v1/key").json()["data"]
    assert data["rate_limit"] == {"rpm": 333, "max_in_flight": 3}
    assert data["rate_limit_rpm"] == 333


def test_the_schema_documents_the_key_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    assert set(paths["/api/v1/keys"]) >= {"get", "post"}
    assert set(paths["/api/v1/keys/{public_id}"]) >= {"get", "patch", "delete"}
    assert "get" in paths["/api/v1/key"]
    created = paths["/api/v1/keys"]["post"]["responses"]["201"]
    assert "KeyCreatedEnvelope" in json.dumps(created)
    assert {"bearerKey", "apiKeyHeader"} <= set(schema["components"]["securitySchemes"])
    # Either header is enough: alternatives are separate requirement objects (OR).
    assert paths["/api/v1/key"]["get"]["security"] == [{"bearerKey": []}, {"apiKeyHeader": []}]


@pytest.mark.parametrize("raw_name", ['"a\\u0000b"', '"\\ud800"', '"ok \\udfff"'])
def test_names_that_no_database_can_store_are_refused(raw_name, manager):
    raw = '{"name": ' + raw_name + "}"
    response = manager.post("/api/v1/keys", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "name" in response.json()["error"]["details"]


# A Tuesday; the 2nd of the month was the Monday of the week before.
PATCH_DAY = datetime(2026, 3, 10, 8, 30, tzinfo=UTC)


def _spend(key, micros, *, at, monkeypatch, request_id):
    """One request of `key` charged `micros` at `at`, through reservation and settlement."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: at)
    reservation = reservation_create(api_key=key, amount_micros=micros, request_id=request_id)
    reservation_settle(reservation=reservation, price=Price(micros, 0, micros), usage=USAGE)
    key.refresh_from_db()


@pytest.mark.parametrize(
    ("before", "after", "usage_after"),
    [
        ("daily", "monthly", 4_000),  # the 2nd's 3,000 were forgotten
        ("daily", "weekly", 1_000),
        ("monthly", "daily", 1_000),  # the period rolled over: today's 1,000 were forgotten
        ("weekly", "never", 6_000),  # never: everything since the key was created
        ("never", "monthly", 4_000),  # the key's first period: February's 2,000 were kept
    ],
)
def test_changing_limit_reset_counts_what_the_new_period_already_spent(
    before, after, usage_after, manager, funded_org_a, monkeypatch
):
    key = api_key_create(organization=funded_org_a, limit_micros=10_000, limit_reset=before)[0]
    created = datetime(2026, 2, 20, tzinfo=UTC)
    ApiKey.objects.filter(pk=key.pk).update(created_at=created, period_start=created)
    for micros, at in [
        (2_000, datetime(2026, 2, 25, tzinfo=UTC)),
        (3_000, datetime(2026, 3, 2, 9, tzinfo=UTC)),  # the Monday of last week
        (1_000, PATCH_DAY),
    ]:
        _spend(key, micros, at=at, monkeypatch=monkeypatch, request_id=f"req_{micros}")

    response = manager.patch(f"/api/v1/keys/{key.public_id}", {"limit_reset": after}, format="json")

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["limit_reset"] == after
    assert data["usage"] == micros_to_usd_str(usage_after)
    assert data["limit_remaining"] == micros_to_usd_str(10_000 - usage_after)
    assert manager.get(f"/api/v1/keys/{key.public_id}").json()["data"]["usage"] == data["usage"]
    # The limit holds against what the new period already spent.
    key.refresh_from_db()
    room = 10_000 - usage_after
    with pytest.raises(ApiError):
        reservation_create(api_key=key, amount_micros=room + 1, request_id="req_over")
    reservation_create(api_key=key, amount_micros=room, request_id="req_fits")


def test_a_charge_settling_while_limit_reset_changes_counts_once(
    manager, funded_org_a, monkeypatch
):
    monkeypatch.setattr("django.utils.timezone.now", lambda: PATCH_DAY)
    key = api_key_create(organization=funded_org_a, limit_micros=5_000, limit_reset="daily")[0]
    running = reservation_create(api_key=key, amount_micros=2_000, request_id="req_running")
    response = manager.patch(f"/api/v1/keys/{key.public_id}", {"limit_reset": "monthly"},
                             format="json")  # fmt: skip
    assert response.json()["data"]["usage"] == "0.000000"
    reservation_settle(reservation=running, price=Price(1_500, 0, 1_500), usage=USAGE)
    assert key_state(key) == (1_500, 0, 1_500)
    # A PATCH that does not change limit_reset leaves the counters alone.
    manager.patch(f"/api/v1/keys/{key.public_id}", {"limit_reset": "monthly", "name": "x"},
                  format="json")  # fmt: skip
    assert key_state(key) == (1_500, 0, 1_500)


def test_the_schema_says_the_key_bodies_take_no_other_field(client, manager):
    # schemathesis against a live server sent extra fields the schema allowed; the
    # server refuses them (400 "Unknown field."), so the schema must not allow them.
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    create, update = components["KeyCreateInputRequest"], components["PatchedKeyUpdateInputRequest"]

    assert create["additionalProperties"] is False
    assert update["additionalProperties"] is False
    assert create["properties"]["scopes"]["minItems"] == 1  # an empty list is refused
    extra = manager.post("/api/v1/keys", {"name": "x", "colour": "red"}, format="json")
    assert extra.status_code == 400
    empty = manager.post("/api/v1/keys", {"scopes": []}, format="json")
    assert empty.status_code == 400
