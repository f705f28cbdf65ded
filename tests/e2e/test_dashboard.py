"""A tenant's whole journey in a real browser, against the live server:

sign up -> buy credits through the (fake) Stripe checkout and a signed webhook -> create a
key and see its secret once -> call the OCR API with it -> see the request and its cost
on the usage page -> revoke the key -> the API refuses it. Each dashboard page is saved
to docs/screenshots/ on the way.
"""

from __future__ import annotations

import base64
import io
import re

import httpx
import pytest
from PIL import Image

from billing.models import CreditAccount, UsageRecord
from tests.fakes.stripe_server import FakeStripe

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "ada@example.com"
PASSWORD = "analytical-engine-1843"


@pytest.fixture
def fake_stripe(settings, live_server):
    fake = FakeStripe(
        api_key="sk_test_e2e_fake",
        webhook_secret="whsec_e2e_secret",
        webhook_url=f"{live_server.url}/stripe/webhook",
    ).start()
    settings.STRIPE_SECRET_KEY = fake.api_key
    settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
    settings.STRIPE_API_BASE = fake.url
    yield fake
    fake.stop()


def _png_base64(path) -> str:
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_tenant_signs_up_pays_calls_the_api_and_revokes(
    page, screenshot, live_server, fake_stripe, corpus
):
    url = live_server.url

    # Sign up: a personal organization, signed in at once.
    page.goto(f"{url}/signup/")
    screenshot("01-signup")
    page.fill("#id_email", EMAIL)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{url}/dashboard/")
    assert page.inner_text("#balance") == "$0.00"

    # Buy $10 of credits: Checkout on the fake Stripe, the webhook credits the balance.
    page.click("text=Credits")
    page.fill("#id_amount_usd", "10")
    page.click("#buy")
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:\d+/pay/cs_test_"))
    screenshot("05-fake-stripe-checkout")
    page.click("#pay")
    page.wait_for_url(re.compile(r".*/dashboard/credits/success/\?session_id=cs_test_"))
    assert [r.status_code for r in fake_stripe.deliveries] == [200]
    page.wait_for_function("document.querySelector('#balance').innerText === '$10.00'")
    page.goto(f"{url}/dashboard/credits/")
    page.wait_for_function("document.querySelector('#balance').innerText === '$10.00'")
    assert "Stripe Checkout cs_test_" in page.inner_text("#ledger")
    screenshot("06-credits")

    # Create a key: the secret is on this one page only.
    page.click("text=Keys")
    page.click("#new-key")
    screenshot("03-key-new")
    page.fill("#id_name", "e2e")
    page.fill("#id_limit_usd", "1")
    page.click("main button[type=submit]")
    secret = page.inner_text("#secret").strip()
    assert secret.startswith("sk-ar-")
    screenshot("04-key-created")
    page.click("text=Done")
    assert secret not in page.content()

    # Call the API with it, as a client program would.
    image = _png_base64(corpus / "tesseract" / "phototest.tif")
    response = httpx.post(
        f"{url}/api/v1/ocr/extract",
        json={"image": image, "filename": "phototest.png"},
        headers={"Authorization": f"Bearer {secret}"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    assert "quick brown" in response.json()["text"]
    cost = response.headers["X-Cost-Usd"]
    request_id = response.headers["X-Request-Id"]
    record = UsageRecord.objects.get(request_id=request_id)
    assert record.total_micros > 0

    # The request and its cost on the usage page.
    page.goto(f"{url}/dashboard/usage/")
    row = page.locator("#usage tr", has_text=request_id)
    assert row.count() == 1
    shown_cost = row.locator(".cost").inner_text()
    assert shown_cost.startswith("$")
    assert shown_cost.replace("$", "").rstrip("0").rstrip(".") == cost.rstrip("0").rstrip(".")
    assert page.inner_text("#total-requests") == "1"
    screenshot("07-usage")
    page.goto(f"{url}/dashboard/keys/")
    assert secret not in page.content()
    screenshot("02-keys")

    # Revoke it (with confirmation): the API refuses it at once.
    page.goto(f"{url}/dashboard/keys/")
    page.locator("#keys tr", has_text="e2e").locator("text=Revoke").click()
    screenshot("08-key-revoke")
    page.click("#confirm-revoke")
    assert "revoked" in page.locator("#keys tr", has_text="e2e").inner_text()
    refused = httpx.get(
        f"{url}/api/v1/key", headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    balance = CreditAccount.objects.get(organization=record.organization).balance_micros
    assert balance == 10_000_000 - record.total_micros


def test_the_other_pages(page, screenshot, live_server, corpus, settings):
    """Playground, members, overview, sign-in and password reset, for the screenshots."""
    from accounts.services import user_signup
    from billing.services import credits_add

    settings.STRIPE_SECRET_KEY = ""
    user, org = user_signup(email=EMAIL, password=PASSWORD)
    credits_add(organization=org, amount_micros=5_000_000, kind="topup", idempotency_key="e2e")
    url = live_server.url

    page.goto(f"{url}/password-reset/")
    screenshot("11-password-reset")
    page.goto(f"{url}/login/")
    screenshot("10-login")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{url}/dashboard/")

    page.goto(f"{url}/dashboard/playground/")
    page.set_input_files("#id_file", str(corpus / "tesseract" / "phototest.tif"))
    page.click("#run")
    page.wait_for_selector("#rendered, #error", timeout=180_000)
    assert page.locator("#error").count() == 0, page.inner_text("#error")
    assert "quick brown" in page.inner_text("#rendered")
    assert page.inner_text("#cost").startswith("$")
    screenshot("09-playground")

    page.goto(f"{url}/dashboard/members/")
    page.fill("#id_email", "grace@example.com")
    page.click("button:has-text('Send invitation')")
    assert "grace@example.com" in page.inner_text("main")
    screenshot("12-members")

    page.goto(f"{url}/dashboard/credits/")
    assert "Top-ups are off" in page.inner_text("#topups-off")

    page.goto(f"{url}/dashboard/")
    screenshot("00-overview")

    # The operator's side: the admin's tenant list, staff only.
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("ops@example.com", "ops@example.com", PASSWORD)
    page.click("text=Sign out")
    page.goto(f"{url}/admin/accounts/organization/")
    page.fill("#id_username", "ops@example.com")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    page.set_viewport_size({"width": 1500, "height": 700})
    assert "$4.998945" in page.inner_text("#result_list")
    screenshot("13-admin-tenants")
