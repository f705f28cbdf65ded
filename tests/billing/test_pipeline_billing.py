"""Billing around real OCR requests: failures cost nothing, 402 never calls the provider,
a success is charged its actual price with the cost and rate-limit headers."""

from __future__ import annotations

import base64
import io
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image, ImageDraw

from billing.models import LedgerEntry, Reservation, UsageRecord
from billing.reservations import reservation_create
from billing.services import credits_add
from config.api import ApiError
from keys.services import api_key_create
from ocr.models import Provider, ProviderModel
from ocr.pipeline import ocr_execute
from ocr.types import DocumentSource, OcrRequest
from tests.billing.helpers import account_state, assert_ledger_clean, key_state


class FailingUpstream(BaseHTTPRequestHandler):
    """An OpenAI-compatible upstream that answers every call with a 500."""

    calls = 0

    def do_POST(self):  # noqa: N802 (http.server's naming)
        type(self).calls += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"error": {"message": "upstream exploded"}}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def failing_model(db, settings):
    settings.OCR_PROVIDER_RETRIES = 0
    FailingUpstream.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # A fresh slug each time: no cool-down state carried over from another test.
    provider = Provider.objects.create(
        slug=f"failing-{secrets.token_hex(4)}",
        kind="openai_compatible",
        base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
        timeout_s=5,
        priority=1,
    )
    model = ProviderModel.objects.create(
        provider=provider,
        name=f"{provider.slug}/vision",
        per_page_micros=2_000,
        input_per_mtok_micros=100_000,
        output_per_mtok_micros=400_000,
    )
    yield model
    server.shutdown()


def png() -> bytes:
    image = Image.new("L", (320, 80), 255)
    ImageDraw.Draw(image).text((10, 30), "INVOICE 42", fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def ocr_request(model: ProviderModel) -> OcrRequest:
    return OcrRequest(
        dialect="otoroshi",
        source=DocumentSource(data=png(), filename="page.png"),
        max_bytes=10_000_000,
        model=model.name,
    )


def test_a_provider_failure_leaves_balance_and_reserved_as_before(failing_model, funded_org_a):
    key = api_key_create(organization=funded_org_a, limit_micros=1_000_000, limit_reset="daily")[0]
    # Another request in flight holds part of the balance meanwhile.
    reservation_create(api_key=key, amount_micros=12_345, request_id="req_other")
    before_account, before_key = account_state(funded_org_a), key_state(key)

    with pytest.raises(ApiError) as caught:
        ocr_execute(api_key=key, ocr_request=ocr_request(failing_model), request_id="req_boom")

    assert caught.value.status == 502
    assert FailingUpstream.calls >= 1  # the provider was really called, and failed
    assert account_state(funded_org_a) == before_account == (10_000_000, 12_345)
    assert key_state(key) == before_key
    assert Reservation.objects.get(request_id="req_boom").status == "released"
    record = UsageRecord.objects.get(request_id="req_boom")
    assert (record.status, record.total_micros, record.http_status) == ("failed", 0, 502)
    assert record.error_code == caught.value.code
    assert not LedgerEntry.objects.filter(kind="charge").exists()
    assert_ledger_clean()


def test_402_never_calls_the_provider(failing_model, org_a):
    credits_add(organization=org_a, amount_micros=1_000, idempotency_key="tiny")
    key = api_key_create(organization=org_a)[0]
    with pytest.raises(ApiError) as caught:
        ocr_execute(api_key=key, ocr_request=ocr_request(failing_model), request_id="req_poor")
    error = caught.value
    assert (error.status, error.code, error.extra["limit_source"]) == (
        402,
        "insufficient_credits",
        "balance",
    )
    # 2,000 per page + 8,000 × 0.1 + 8,000 × 0.4 token cap = 6,000; + 5.5 % = 6,330.
    assert (error.extra["required_usd"], error.extra["available_usd"]) == ("0.006330", "0.001000")
    assert FailingUpstream.calls == 0
    assert account_state(org_a) == (1_000, 0)
    assert not Reservation.objects.exists()


def test_402_for_the_key_limit_over_http(failing_model, funded_org_a, client_for):
    key, secret = api_key_create(organization=funded_org_a, limit_micros=1_000)
    response = client_for(secret).post(
        "/ocr",
        {"image_base64": base64.b64encode(png()).decode(), "provider": failing_model.provider.slug},
        format="json",
    )
    assert response.status_code == 402, response.content
    error = response.json()["error"]
    assert (error["code"], error["limit_source"], error["available_usd"]) == (
        "insufficient_credits",
        "key_limit",
        "0.001000",
    )
    assert FailingUpstream.calls == 0
    assert response["X-Cost-Usd"] == "0.000000"
    assert "RateLimit" in response


def test_a_success_is_charged_its_price_with_the_headers(funded_org_a, api_key, client_for, corpus):
    image = (corpus / "tesseract" / "phototest.tif").read_bytes()
    response = client_for(api_key[1]).post(
        "/api/v1/ocr/extract", {"image": base64.b64encode(image).decode()}, format="json"
    )
    assert response.status_code == 200, response.content
    # local/rapidocr: $0.001 per page + 5.5 % fee.
    assert response["X-Cost-Usd"] == "0.001055"
    assert response["X-Credits-Remaining-Usd"] == "9.998945"
    assert response["RateLimit-Policy"] == '"rpm";q=600;w=60'
    assert response["RateLimit"].startswith('"rpm";r=599;t=')
    assert response["X-RateLimit-Remaining"] == "599"
    record = UsageRecord.objects.get(request_id=response["X-Request-Id"])
    assert (record.status, record.total_micros, record.pages) == ("succeeded", 1_055, 1)
    assert account_state(funded_org_a) == (10_000_000 - 1_055, 0)
    assert_ledger_clean()
