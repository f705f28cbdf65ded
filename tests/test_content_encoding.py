"""Compressed request bodies are refused as such (415), not read as they came."""

from __future__ import annotations

import gzip
import json

import pytest

from billing.models import UsageRecord
from tests.ocr.dialect_support import b64, phototest_png

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("coding", ["gzip", "br", "GZIP, deflate"])
def test_a_compressed_body_is_415_and_costs_nothing(client, coding):
    body = gzip.compress(json.dumps({"image": b64(phototest_png())}).encode())

    response = client.post(
        "/api/v1/ocr/extract",
        body,
        content_type="application/json",
        HTTP_CONTENT_ENCODING=coding,
        HTTP_AUTHORIZATION="Bearer sk-ar-not-checked-before-this",
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_content_encoding"
    assert not UsageRecord.objects.exists()


def test_identity_is_no_encoding(client):
    response = client.post(
        "/api/v1/ocr/extract", {}, content_type="application/json", HTTP_CONTENT_ENCODING="identity"
    )

    assert response.status_code == 401  # on to authentication as any request


def test_the_dashboard_is_left_alone(client):
    response = client.get("/login/", HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
