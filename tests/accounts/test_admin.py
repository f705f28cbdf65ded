"""The operator admin: staff only, the adjust-credits form, key revocation, read-only ledger."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from billing.models import CreditAccount, LedgerEntry, StripeEvent, UsageRecord
from billing.pricing import Price
from billing.reservations import reservation_create, reservation_settle
from billing.services import credits_add
from keys.services import api_key_create, api_key_revoke
from tests.billing.helpers import SEEDED_TRANSACTIONS, USAGE, assert_ledger_clean, key_state
from tests.billing.test_ratelimit_processes import needs_postgres


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


@needs_postgres
@SEEDED_TRANSACTIONS
def test_an_admin_edit_of_a_key_keeps_the_spend_counters_that_move_meanwhile(
    browser, operator, funded_org_a
):
    """The admin's save wrote the whole row as it had read it, so a request reserving on
    the key between the read and the write lost its hold: its settlement then took the
    key's reserved amount below zero (an IntegrityError, the charge never recorded)."""
    key = api_key_create(organization=funded_org_a, name="k", limit_micros=50_000)[0]
    held, reservations = threading.Event(), []

    def request_in_flight() -> None:
        try:
            with transaction.atomic():
                reservations.append(
                    reservation_create(api_key=key, amount_micros=2_000, request_id="req_w")
                )
                held.set()
                time.sleep(1.0)  # the admin's write waits for this row meanwhile
        finally:
            connection.close()

    thread = threading.Thread(target=request_in_flight)
    thread.start()
    assert held.wait(10)
    form = {"name": "renamed", "limit_reset": key.limit_reset, "limit_micros": 50_000}
    response = browser(operator).post(f"/admin/keys/apikey/{key.pk}/change/", form)
    thread.join()

    assert response.status_code == 302, response.content
    key.refresh_from_db()
    assert (key.name, key.period_reserved_micros) == ("renamed", 2_000)
    reservation_settle(reservation=reservations[0], price=Price(1_000, 55, 1_055), usage=USAGE)
    assert key_state(key) == (1_055, 0, 1_055)
    assert_ledger_clean()


def test_a_revoked_key_is_read_only_in_the_admin(browser, operator, api_key):
    key = api_key_revoke(key=api_key[0])
    client = browser(operator)

    page = client.get(f"/admin/keys/apikey/{key.pk}/change/")
    response = client.post(f"/admin/keys/apikey/{key.pk}/change/", {"name": "back"})

    assert page.status_code == 200 and b'name="limit_micros"' not in page.content
    assert response.status_code in (302, 403)
    key.refresh_from_db()
    assert key.name == api_key[0].name
