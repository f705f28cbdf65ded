"""GET /api/v1/credits and GET /api/v1/usage."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import LedgerEntry, UsageRecord
from billing.pricing import Price
from billing.reservations import reservation_create, reservation_release, reservation_settle
from billing.services import credits_add
from keys.services import api_key_create, api_key_revoke
from tests.billing.helpers import USAGE

PATHS = ["/api/v1/credits", "/api/v1/usage"]


def _request(key, request_id, *, price=None, model="local/rapidocr", at=None):
    reservation = reservation_create(api_key=key, amount_micros=5_000, request_id=request_id)
    usage = {**USAGE, "model": model}
    if price is None:
        record = reservation_release(
            reservation=reservation, usage={**usage, "error_code": "ocr_upstream_failed"}
        )
    else:
        record = reservation_settle(reservation=reservation, price=price, usage=usage)
    if at is not None:
        UsageRecord.objects.filter(pk=record.pk).update(created_at=at)
    return record


@pytest.fixture
def traffic(org_a, org_b, api_key, api_key_b):
    credits_add(organization=org_a, amount_micros=2_000_000, idempotency_key="a-top")
    credits_add(organization=org_a, amount_micros=-500_000, idempotency_key="a-adj")
    credits_add(organization=org_b, amount_micros=1_000_000, idempotency_key="b-top")
    other_key = api_key_create(organization=org_a, name="second")[0]
    day = datetime(2026, 11, 20, 12, tzinfo=UTC)
    _request(api_key[0], "req_a1", price=Price(1_000, 55, 1_055), at=day)
    _request(api_key[0], "req_a2", at=day + timedelta(days=1))
    _request(
        other_key, "req_a3", price=Price(2_000, 110, 2_110), model="m2", at=day + timedelta(days=2)
    )
    _request(api_key_b[0], "req_b1", price=Price(3_000, 165, 3_165), at=day + timedelta(days=1))
    reservation_create(api_key=api_key[0], amount_micros=7_000, request_id="req_inflight")
    return {"other_key": other_key, "day": day}


@pytest.mark.parametrize("path", PATHS)
def test_it_refuses_a_missing_key(path, client_for, org_a):
    response = client_for(None).get(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("path", PATHS)
def test_it_refuses_a_revoked_key(path, client_for, management_key):
    api_key_revoke(key=management_key[0])
    response = client_for(management_key[1]).get(path)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("path", PATHS)
def test_it_refuses_an_api_key(path, client_for, api_key):
    response = client_for(api_key[1]).get(path)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


@pytest.mark.parametrize(
    ("path", "scope"), list(zip(PATHS, ["credits:read", "usage:read"], strict=True))
)
def test_it_refuses_a_management_key_without_the_scope(path, scope, client_for, org_a):
    others = [s for s in ["key:read", "keys:read", "credits:read", "usage:read"] if s != scope]
    _, secret = api_key_create(organization=org_a, kind="management", scopes=others)
    response = client_for(secret).get(path)
    assert response.status_code == 403
    assert scope in response.json()["error"]["message"]


def test_it_shows_the_tenants_credits(traffic, management_key, client_for):
    response = client_for(management_key[1]).get("/api/v1/credits")
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "total_credits": "1.500000",
            "total_usage": "0.003165",
            "balance": "1.496835",
            "reserved": "0.007000",
            "available": "1.489835",
        }
    }


def test_credits_add_up_while_a_charge_lands_between_reads(
    traffic, api_key, management_key, client_for
):
    """A charge committed while the answer is being read (64 clients on one tenant): the
    figures still come from one moment, so total_credits - total_usage == balance."""
    ledger_table = LedgerEntry._meta.db_table
    charged = []

    def charge_after_the_ledger_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if ledger_table in sql and not charged:
            charged.append(True)
            _request(api_key[0], "req_between", price=Price(4_000, 220, 4_220))
        return result

    with connection.execute_wrapper(charge_after_the_ledger_read):
        data = client_for(management_key[1]).get("/api/v1/credits").json()["data"]

    assert charged
    credits, usage = Decimal(data["total_credits"]), Decimal(data["total_usage"])
    assert credits - usage == Decimal(data["balance"]), data


def test_another_tenant_sees_only_its_own_credits(traffic, management_key_b, client_for):
    data = client_for(management_key_b[1]).get("/api/v1/credits").json()["data"]
    assert (data["total_credits"], data["total_usage"], data["reserved"]) == (
        "1.000000",
        "0.003165",
        "0.000000",
    )


def test_it_lists_the_tenants_requests_newest_first(traffic, api_key, management_key, client_for):
    response = client_for(management_key[1]).get("/api/v1/usage")
    assert response.status_code == 200
    body = response.json()
    assert [row["id"] for row in body["data"]] == ["req_a3", "req_a2", "req_a1"]
    assert body["next"] is None
    first = body["data"][2]
    assert first == {
        "id": "req_a1",
        "created_at": "2026-11-20T12:00:00Z",
        "key_id": api_key[0].public_id,
        "key_label": api_key[0].label,
        "dialect": "000",
        "model": "local/rapidocr",
        "provider": "local",
        "status": "succeeded",
        "http_status": 200,
        "error_code": None,
        "pages": 1,
        "input_tokens": 0,
        "output_tokens": 0,
        "provider_cost_usd": "0.001000",
        "fee_usd": "0.000055",
        "total_usd": "0.001055",
        "latency_ms": 12,
        "upstream_latency_ms": 0,
    }
    failed = body["data"][1]
    assert (failed["status"], failed["error_code"], failed["total_usd"]) == (
        "failed",
        "ocr_upstream_failed",
        "0.000000",
    )


def test_it_filters_by_key_model_and_dates(traffic, api_key, management_key, client_for):
    client = client_for(management_key[1])

    def ids(**params):
        response = client.get("/api/v1/usage", params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["data"]]

    assert ids(key=api_key[0].public_id) == ["req_a2", "req_a1"]
    assert ids(key=traffic["other_key"].public_id) == ["req_a3"]
    assert ids(model="m2") == ["req_a3"]
    assert ids(model="nope") == []
    assert ids(**{"from": "2026-11-21"}) == ["req_a3", "req_a2"]
    assert ids(to="2026-11-21") == ["req_a2", "req_a1"]  # a bare date includes that day
    assert ids(**{"from": "2026-11-21T12:00:00Z", "to": "2026-11-22T12:00:00+00:00"}) == ["req_a2"]
    assert ids(**{"from": "2026-11-20T12:00:01"}) == ["req_a3", "req_a2"]  # naive is UTC


def test_it_pages_with_a_cursor(traffic, management_key, client_for):
    client = client_for(management_key[1])
    first = client.get("/api/v1/usage", {"page_size": 2}).json()
    assert [row["id"] for row in first["data"]] == ["req_a3", "req_a2"]
    assert first["next"] == "req_a2"
    second = client.get("/api/v1/usage", {"page_size": 2, "cursor": first["next"]}).json()
    assert [row["id"] for row in second["data"]] == ["req_a1"]
    assert second["next"] is None


def test_another_tenants_requests_are_invisible(traffic, api_key_b, management_key, client_for):
    client = client_for(management_key[1])
    response = client.get("/api/v1/usage", {"key": api_key_b[0].public_id})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert "req_b1" not in str(client.get("/api/v1/usage").json())
    # Another tenant's request id is no cursor here either.
    response = client.get("/api/v1/usage", {"cursor": "req_b1"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"to": "2026-13-01"},
        {"from": "2026-11-22", "to": "2026-11-21"},
        {"page_size": "0"},
        {"page_size": "1000"},
        {"page_size": "x"},
        {"cursor": "nope"},
        {"from": "9" * 100},
        {"to": "9999-12-31"},  # its end of day is past datetime's range: was a 500
        {"to": "9999-12-31T23:00:00-05:00"},
        {"from": "0001-01-01T00:00:00+01:00"},
        {"key": "key_\x00"},
        {"cursor": "\x00"},
    ],
)
def test_it_refuses_bad_filters_with_a_400(params, traffic, management_key, client_for):
    response = client_for(management_key[1]).get("/api/v1/usage", params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"invalid_request"}
