"""Every API answer carries an X-Request-Id, refusals before any view included."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db

REQUEST_ID = re.compile(r"^req_[0-9A-Za-z]{24}$")


def test_an_unknown_api_path_carries_a_request_id(client):
    response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert REQUEST_ID.match(response["X-Request-Id"])


def test_an_ocr_key_refused_by_the_management_api_carries_a_request_id(client_for, api_key):
    response = client_for(api_key[1]).get("/api/v1/keys")

    assert response.status_code in (401, 403)
    assert REQUEST_ID.match(response["X-Request-Id"])


def test_a_management_answer_and_a_middleware_refusal_carry_one_each(client_for, management_key):
    keys = client_for(management_key[1]).get("/api/v1/keys")
    nul = client_for(management_key[1]).get("/api/v1/keys?x=%00")

    assert keys.status_code == 200 and nul.status_code == 400
    assert REQUEST_ID.match(keys["X-Request-Id"]) and REQUEST_ID.match(nul["X-Request-Id"])
    assert keys["X-Request-Id"] != nul["X-Request-Id"]


def test_an_ocr_answer_keeps_the_id_its_view_set(client_for, api_key):
    response = client_for(api_key[1]).post("/v1/ocr", {}, format="json")

    assert response.status_code == 400
    assert REQUEST_ID.match(response["X-Request-Id"])


def test_the_dashboard_gets_none(client):
    assert not client.get("/dashboard/").has_header("X-Request-Id")
