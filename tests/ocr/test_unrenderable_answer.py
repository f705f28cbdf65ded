"""An answer that cannot be rendered after the charge: the charge is given back (a refund
entry), the request log says failed, the key's counters drop, and the client gets the
dialect's 502, not a 500 it paid for."""

from __future__ import annotations

import pytest

from billing.models import CreditAccount, LedgerEntry, UsageRecord
from billing.selectors import ledger_differences
from keys.models import ApiKey
from tests.ocr.dialect_support import data_url, phototest_png

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _unrenderable_urls(settings):
    settings.ROOT_URLCONF = "tests.ocr.unrenderable_urls"


def test_the_charge_is_given_back_and_the_client_gets_a_502(client, funded):
    before = CreditAccount.objects.get(organization=funded).balance_micros

    response = client.post(
        "/api/v1/ocr/extract-unrenderable",
        {"image": data_url(phototest_png()), "filename": "a.png"},
        format="json",
    )

    assert response.status_code == 502, response.content
    assert response.json()["error"]["code"] == "ocr_upstream_failed"
    assert response["X-Cost-Usd"] == "0.000000"
    assert CreditAccount.objects.get(organization=funded).balance_micros == before
    record = UsageRecord.objects.get(request_id=response["X-Request-Id"])
    assert record.status == "failed" and record.total_micros == 0
    assert record.http_status == 502
    entries = LedgerEntry.objects.filter(usage_record=record)
    charge = entries.get(kind="charge")
    refund = entries.get(kind="refund")
    assert charge.amount_micros < 0 and refund.amount_micros == -charge.amount_micros
    key = ApiKey.objects.get(pk=record.api_key_id)
    assert key.total_usage_micros == 0 and key.period_usage_micros == 0
    assert ledger_differences() == []


def test_the_same_request_on_the_real_endpoint_is_charged(client, funded):
    response = client.post(
        "/api/v1/ocr/extract",
        {"image": data_url(phototest_png()), "filename": "a.png"},
        format="json",
    )

    assert response.status_code == 200
    assert not LedgerEntry.objects.filter(kind="refund").exists()
