"""Dashboard credits and usage pages: figures, filters, chart, CSV, tenancy."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.utils import timezone

from billing.models import UsageRecord
from billing.services import credits_add
from keys.services import api_key_create


def _record(org, key, *, request_id, total, model="local/rapidocr", status="succeeded", days=0):
    record = UsageRecord.objects.create(
        request_id=request_id,
        organization=org,
        api_key=key,
        dialect="000",
        model=model,
        provider="local",
        pages=1,
        provider_cost_micros=total - 100,
        fee_micros=100,
        total_micros=total,
        status=status,
        http_status=200 if status == "succeeded" else 502,
    )
    if days:
        UsageRecord.objects.filter(pk=record.pk).update(
            created_at=timezone.now() - timedelta(days=days)
        )
    return record


def test_usage_shows_requests_totals_and_chart(browser, owner_a, org_a, org_b):
    key, _ = api_key_create(organization=org_a, name="prod")
    other, _ = api_key_create(organization=org_b, name="b")
    _record(org_a, key, request_id="req_today", total=1_234)
    _record(org_a, key, request_id="req_old", total=5_000, days=3, model="mistral-ocr-latest")
    _record(org_b, other, request_id="req_theirs", total=999_999)

    page = browser(owner_a).get("/dashboard/usage/")

    assert page.status_code == 200
    assert b"req_today" in page.content and b"req_old" in page.content
    assert b"req_theirs" not in page.content
    assert page.context["totals"]["requests"] == 2
    assert page.context["totals"]["total"] == 6_234
    assert b"$0.006234" in page.content
    chart = page.context["chart"]
    assert chart.startswith("<svg") and chart.count("<rect") == 30
    assert "$0.001234 over 1 requests" in chart


def test_usage_filters(browser, owner_a, org_a):
    prod, _ = api_key_create(organization=org_a, name="prod")
    dev, _ = api_key_create(organization=org_a, name="dev")
    _record(org_a, prod, request_id="req_a", total=10)
    _record(org_a, dev, request_id="req_b", total=20, model="mistral-ocr-latest")
    _record(org_a, prod, request_id="req_c", total=0, status="failed")
    _record(org_a, prod, request_id="req_d", total=40, days=10)
    client = browser(owner_a)

    def ids(**query):
        page = client.get("/dashboard/usage/", query)
        assert page.status_code == 200
        return sorted(r.request_id for r in page.context["page"])

    assert ids(key=dev.public_id) == ["req_b"]
    assert ids(model="mistral-ocr-latest") == ["req_b"]
    assert ids(status="failed") == ["req_c"]
    today = timezone.now().date()
    assert ids(date_from=(today - timedelta(days=1)).isoformat()) == ["req_a", "req_b", "req_c"]
    assert ids(date_to=(today - timedelta(days=5)).isoformat()) == ["req_d"]
    # Invalid filters (a date that is not one, a key not of this tenant) list nothing, with
    # the form's errors, rather than every row the filter was meant to narrow; never a crash.
    assert ids(date_from="yesterday") == []
    assert ids(key="key_nope") == []
    page = client.get("/dashboard/usage/", {"key": "key_nope"})
    assert page.context["form"].errors


def test_usage_csv_export(browser, owner_a, org_a, org_b):
    key, _ = api_key_create(organization=org_a, name="prod")
    _record(org_a, key, request_id="req_a", total=1_055)
    _record(org_a, key, request_id="req_b", total=20, status="failed")
    _record(org_b, None, request_id="req_theirs", total=7)

    response = browser(owner_a).get("/dashboard/usage.csv", {"status": "succeeded"})

    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["request_id"] for row in rows] == ["req_a"]
    assert rows[0]["total_usd"] == "0.001055"
    assert rows[0]["key"] == key.label


def test_usage_csv_refuses_an_invalid_filter(browser, owner_a, org_a, org_b):
    key, _ = api_key_create(organization=org_a, name="prod")
    _record(org_a, key, request_id="req_a", total=1_055)
    theirs, _ = api_key_create(organization=org_b, name="theirs")

    response = browser(owner_a).get("/dashboard/usage.csv", {"key": theirs.public_id})

    assert response.status_code == 400
    assert b"req_a" not in response.content
    assert b"key" in response.content


def test_credits_page_shows_balance_reserved_and_ledger(browser, owner_a, org_a, org_b):
    for n in range(30):
        credits_add(
            organization=org_a, amount_micros=1_000_000, idempotency_key=f"t{n}", note=f"n{n}"
        )
    credits_add(organization=org_b, amount_micros=5, idempotency_key="b", note="theirs")
    client = browser(owner_a)

    first = client.get("/dashboard/credits/")
    second = client.get("/dashboard/credits/", {"page": 2})

    assert first.context["balance"] == 30_000_000
    assert b"$30.00" in first.content
    assert len(first.context["page"]) == 25 and len(second.context["page"]) == 5
    assert b"theirs" not in first.content + second.content
    assert client.get("/dashboard/credits/", {"page": "zzz"}).status_code == 200


def test_overview(browser, owner_a, org_a):
    credits_add(organization=org_a, amount_micros=12_500_000, idempotency_key="t")

    page = browser(owner_a).get("/dashboard/")

    assert b"$12.50" in page.content


def test_absurd_dates_are_form_errors_not_crashes(browser, owner_a, org_a):
    client = browser(owner_a)

    for query in [{"date_to": "9999-12-31"}, {"date_from": "0001-01-01"}]:
        assert client.get("/dashboard/usage/", query).status_code == 200, query
        assert client.get("/dashboard/usage.csv", query).status_code == 400, query
