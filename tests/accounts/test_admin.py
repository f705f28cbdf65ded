"""The operator admin: staff only, the adjust-credits form, key revocation, read-only ledger."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from billing.models import CreditAccount, LedgerEntry, StripeEvent, UsageRecord
from billing.services import credits_add
from keys.services import api_key_create


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("ops@example.com", "ops@example.com", "x")


def test_only_staff_get_in(browser, owner_a, client, operator):
    assert client.get("/admin/").status_code == 302
    assert browser(owner_a).get("/admin/").status_code == 302
    assert browser(owner_a).get("/admin/billing/ledgerentry/adjust/").status_code == 302
    assert browser(operator).get("/admin/").status_code == 200


def test_every_admin_page_renders(browser, operator, org_a, api_key):
    credits_add(organization=org_a, amount_micros=3_000_000, idempotency_key="t")
    UsageRecord.objects.create(
        request_id="req_x", organization=org_a, dialect="000", status="succeeded", total_micros=9
    )
    StripeEvent.objects.create(event_id="evt_1", type="charge.refunded", payload={})
    client = browser(operator)
    for model in ["accounts/organization", "accounts/membership", "accounts/invitation",
                  "keys/apikey", "billing/creditaccount", "billing/ledgerentry",
                  "billing/usagerecord", "billing/stripeevent", "billing/feepolicy",
                  "billing/reservation", "ocr/provider", "ocr/providermodel",
                  "ocr/storedupload"]:  # fmt: skip
        assert client.get(f"/admin/{model}/").status_code == 200, model
    tenants = client.get("/admin/accounts/organization/")
    assert b"$3.00" in tenants.content
    assert (
        client.get("/admin/keys/apikey/", {"q": api_key[0].label}).context["cl"].result_count == 1
    )
    provider = client.get("/admin/ocr/provider/1/change/")
    assert provider.status_code == 200 and b"local/rapidocr" in provider.content
    filtered = client.get("/admin/billing/usagerecord/", {"status__exact": "succeeded"})
    assert filtered.context["cl"].result_count == 1


def test_the_ledger_is_read_only(browser, operator, org_a):
    entry = credits_add(organization=org_a, amount_micros=1, idempotency_key="t")
    client = browser(operator)

    assert client.get("/admin/billing/ledgerentry/add/").status_code == 403
    client.post(f"/admin/billing/ledgerentry/{entry.pk}/change/", {"amount_micros": 999})
    client.post(f"/admin/billing/ledgerentry/{entry.pk}/delete/", {"post": "yes"})
    entry.refresh_from_db()
    assert entry.amount_micros == 1


def test_adjusting_credits_records_who_and_why(browser, operator, org_a):
    credits_add(organization=org_a, amount_micros=1_000_000, kind="topup", idempotency_key="t")
    client = browser(operator)

    form = client.get("/admin/billing/ledgerentry/adjust/", {"org": org_a.pk})
    assert form.status_code == 200
    nonce = form.context["form"].initial["nonce"]
    data = {"organization": org_a.pk, "amount_usd": "2.50", "reason": "goodwill", "nonce": nonce}
    assert client.post("/admin/billing/ledgerentry/adjust/", data).status_code == 302
    client.post("/admin/billing/ledgerentry/adjust/", data)  # a double submit adjusts once

    entry = LedgerEntry.objects.get(kind="adjustment")
    assert (entry.amount_micros, entry.note, entry.created_by) == (2_500_000, "goodwill", operator)
    assert CreditAccount.objects.get(organization=org_a).balance_micros == 3_500_000

    too_much = {**data, "amount_usd": "-100", "nonce": "other"}
    response = client.post("/admin/billing/ledgerentry/adjust/", too_much)
    assert response.status_code == 200
    assert b"cannot cover" in response.content
    assert CreditAccount.objects.get(organization=org_a).balance_micros == 3_500_000
    no_reason = {**data, "reason": "", "nonce": "third"}
    assert client.post("/admin/billing/ledgerentry/adjust/", no_reason).status_code == 200


def test_the_adjust_action_starts_from_a_tenant(browser, operator, org_a, org_b):
    client = browser(operator)

    one = client.post(
        "/admin/accounts/organization/",
        {"action": "adjust_credits_action", "_selected_action": [org_a.pk]},
    )
    two = client.post(
        "/admin/accounts/organization/",
        {"action": "adjust_credits_action", "_selected_action": [org_a.pk, org_b.pk]},
        follow=True,
    )

    assert one.status_code == 302
    assert one["Location"] == f"/admin/billing/ledgerentry/adjust/?org={org_a.pk}"
    assert b"exactly one tenant" in two.content


def test_the_revoke_action(browser, operator, org_a, client_for):
    key, secret = api_key_create(organization=org_a, name="leaked")
    client = browser(operator)

    client.post("/admin/keys/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert client_for(secret).get("/api/v1/key").status_code == 401


def test_staff_who_may_only_view_keys_cannot_revoke_them(browser, org_a, client_for):
    # The action had no permission of its own, so the view permission was enough to run it.
    from django.contrib.auth.models import Permission

    viewer = get_user_model().objects.create_user("view@example.com", "view@example.com", "x")
    viewer.is_staff = True
    viewer.save()
    viewer.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    key, secret = api_key_create(organization=org_a, name="prod")
    client = browser(viewer)
    assert client.get("/admin/keys/apikey/").status_code == 200

    client.post("/admin/keys/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.revoked_at is None
    assert client_for(secret).get("/api/v1/key").status_code == 200


def test_the_admin_refuses_settings_the_services_refuse(browser, operator, org_a, api_key):
    # A negative fee made every request of the tenant a 500; rpm 0 or in-flight 0 a key
    # that could never be used.
    from billing.models import FeePolicy

    client = browser(operator)
    fee = client.post(
        "/admin/billing/feepolicy/add/",
        {"organization": org_a.pk, "percent_bp": 550, "fixed_micros": -3_000_000},
    )
    key = api_key[0]
    form = {
        "name": key.name,
        "organization": org_a.pk,
        "kind": key.kind,
        "limit_reset": key.limit_reset,
        "period_usage_micros": 0,
        "period_reserved_micros": 0,
        "total_usage_micros": 0,
    }
    refused = [
        client.post(f"/admin/keys/apikey/{key.pk}/change/", {**form, name: value})
        for name, value in (("rate_limit_rpm", 0), ("max_in_flight", 0), ("limit_micros", -5))
    ]

    assert fee.status_code == 200 and b"errornote" in fee.content
    assert not FeePolicy.objects.filter(fixed_micros__lt=0).exists()
    for response in refused:
        assert response.status_code == 200 and b"errornote" in response.content
    key.refresh_from_db()
    assert key.rate_limit_rpm != 0 and key.max_in_flight != 0 and key.limit_micros != -5
    # The same forms with sound values save: only the values were refused.
    saved_key = client.post(
        f"/admin/keys/apikey/{key.pk}/change/", {**form, "rate_limit_rpm": 5, "max_in_flight": 2}
    )
    saved_fee = client.post(
        "/admin/billing/feepolicy/add/",
        {"organization": org_a.pk, "percent_bp": 550, "fixed_micros": 1000},
    )
    assert saved_key.status_code == 302 and saved_fee.status_code == 302
    key.refresh_from_db()
    assert (key.rate_limit_rpm, key.max_in_flight) == (5, 2)
