"""Every dialect end to end, routed to the fake upstreams: what the client sees and pays.

The Mistral SDK test runs the real `mistralai` client against a live server; the others
use DRF's test client. Only the upstreams are fakes (real HTTP servers on 127.0.0.1).
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from django.core.wsgi import get_wsgi_application
from django.db import connection
from mistralai.client import Mistral
from mistralai.client.models import OCRPageObject

from billing.models import LedgerEntry, UsageRecord
from billing.money import micros_to_cents
from billing.selectors import credits_available_micros
from tests.fakes.documents import pdf_bytes, png_bytes

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
def mistral_sdk(request, api_key):
    """The real `mistralai` client, pointed at this server with the API key of org_a.

    On PostgreSQL it talks to a live server over a socket. On SQLite's in-memory test
    database a live server's threads cannot share the connection cleanly, so the SDK's
    own `client` seam gets httpx's WSGI transport into the same Django app instead.
    """
    _, secret = api_key
    if connection.vendor == "sqlite":
        transport = httpx.WSGITransport(app=get_wsgi_application())
        client = httpx.Client(transport=transport, base_url="http://testserver")
        return Mistral(api_key=secret, server_url="http://testserver", client=client)
    live_server = request.getfixturevalue("live_server")
    return Mistral(api_key=secret, server_url=live_server.url)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{b64(data)}"


@pytest.mark.django_db(transaction=True)
def test_mistral_sdk_gets_the_upstreams_pages_unchanged(
    mistral_sdk, fake_mistral, provider_for, funded_org_a
):
    model = provider_for(fake_mistral, model="mistral-ocr-latest", prices={"per_page_micros": 2000})
    fake_mistral.latency_s = 0.05
    before = credits_available_micros(organization=funded_org_a)

    response = mistral_sdk.ocr.process(
        model="mistral-ocr-latest",
        document={
            "type": "document_url",
            "document_url": data_url(pdf_bytes(3), "application/pdf"),
        },
        pages=[0, 2],
        extract_header=True,
        extract_footer=True,
    )

    (sent,) = fake_mistral.requests
    assert sent.json()["pages"] == [0, 2]
    assert (sent.json()["extract_header"], sent.json()["extract_footer"]) == (True, True)
    upstream_pages = fake_mistral.replies_sent[0].body["pages"]
    assert response.pages == [OCRPageObject.model_validate(page) for page in upstream_pages]
    # Down to what the engine has no notion of: hyperlinks, header and footer.
    assert response.pages[1].header == "Header of page 2"
    assert response.pages[1].footer == "Page 3"
    assert response.pages[1].hyperlinks == upstream_pages[1]["hyperlinks"] != []
    assert response.usage_info.pages_processed == 2
    usage = UsageRecord.objects.get(organization=funded_org_a)
    assert (usage.provider, usage.model, usage.pages) == (model.provider.slug, model.name, 2)
    assert usage.provider_cost_micros == 2 * 2000
    assert usage.upstream_latency_ms >= 50  # the fake's own delay
    assert usage.total_micros > usage.provider_cost_micros  # plus the platform fee
    assert credits_available_micros(organization=funded_org_a) == before - usage.total_micros


@pytest.mark.django_db(transaction=True)
def test_mistral_sdk_annotation_and_image_options_reach_the_upstream(
    mistral_sdk, fake_mistral, provider_for, funded_org_a
):
    provider_for(fake_mistral, model="mistral-ocr-latest")
    schema = {
        "type": "json_schema",
        "json_schema": {"name": "doc", "schema": {"type": "object"}, "strict": True},
    }

    response = mistral_sdk.ocr.process(
        model="mistral-ocr-latest",
        document={"type": "image_url", "image_url": data_url(png_bytes(), "image/png")},
        image_limit=3,
        image_min_size=50,
        bbox_annotation_format=schema,
        document_annotation_format=schema,
        document_annotation_prompt="The document's title.",
    )

    (sent,) = fake_mistral.requests
    body = sent.json()
    assert (body["image_limit"], body["image_min_size"]) == (3, 50)
    assert body["bbox_annotation_format"] == schema
    assert body["document_annotation_format"] == schema
    assert body["document_annotation_prompt"] == "The document's title."
    assert response.document_annotation == fake_mistral.replies_sent[0].body["document_annotation"]
    assert response.document_annotation is not None


@pytest.mark.django_db(transaction=True)
def test_mistral_sdk_is_not_charged_when_every_upstream_fails(
    mistral_sdk, fake_mistral, provider_for, funded_org_a
):
    served = provider_for(
        fake_mistral, model="mistral-ocr-latest", prices={"per_page_micros": 2000}
    )
    fake_mistral.fail_always("503")
    before = credits_available_micros(organization=funded_org_a)

    with pytest.raises(Exception) as caught:
        mistral_sdk.ocr.process(
            model="mistral-ocr-latest",
            document={"type": "image_url", "image_url": data_url(png_bytes(), "image/png")},
        )

    assert getattr(caught.value, "status_code", None) == 502
    assert "ocr_upstream_failed" in str(getattr(caught.value, "body", ""))
    assert len(fake_mistral.requests) == 3
    assert credits_available_micros(organization=funded_org_a) == before
    assert not LedgerEntry.objects.filter(kind="charge").exists()
    usage = UsageRecord.objects.get(organization=funded_org_a)
    assert (usage.status, usage.error_code, usage.total_micros) == (
        "failed",
        "ocr_upstream_failed",
        0,
    )
    assert usage.provider == served.provider.slug  # the log names who failed


def test_docsrouter_charges_the_price_list_whatever_the_upstream_reports(
    fake_openrouter, provider_for, funded_org_a, api_key, client_for, caplog
):
    prices = {"input_per_mtok_micros": 10_000, "output_per_mtok_micros": 20_000}
    provider_for(fake_openrouter, model="vision", prices=prices)
    _, secret = api_key

    response = client_for(secret).post(
        "/v1/ocr",
        {"base64": b64(png_bytes()), "model": "vision", "options": {"output_format": "markdown"}},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "vision"
    assert body["result"]["text"].startswith("# Scanned page")
    (usage,) = fake_openrouter.usages
    # DESIGN.md §5: the price list applied to the tokens reported, as /api/v1/models
    # publishes it; OpenRouter's `usage.cost` (here above the list) is only logged.
    cost = -(-usage["prompt_tokens"] * 10_000 // 1_000_000) - (
        -usage["completion_tokens"] * 20_000 // 1_000_000
    )
    assert fake_openrouter.cost_micros(usage) > cost
    assert body["usage"]["provider_cost_cents"] == float(micros_to_cents(cost))
    assert UsageRecord.objects.get().provider_cost_micros == cost
    assert "the upstream reported a cost of" in caplog.text


def test_otoroshi_provider_picks_the_cloudflare_upstream(
    fake_cloudflare, fake_mistral, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_mistral, model="shared", priority=1)
    chosen = provider_for(fake_cloudflare, model="shared", priority=2)
    _, secret = api_key

    response = client_for(secret).post(
        "/ocr",
        {"document_base64": b64(pdf_bytes(2)), "provider": chosen.provider.slug, "pages": [1]},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert [page["index"] for page in body["pages"]] == [1]
    assert "Cloudflare fake text of a 1-page PDF" in body["pages"][0]["markdown"]
    assert fake_mistral.requests == []
    assert UsageRecord.objects.get().provider == chosen.provider.slug


def test_anyrouter_default_model_can_be_an_upstream(
    fake_openai, provider_for, funded_org_a, api_key, client_for, settings
):
    provider_for(fake_openai, model="vision")
    settings.OCR_DEFAULT_MODEL = "vision"
    _, secret = api_key

    response = client_for(secret).post(
        "/api/v1/ocr/extract", {"image": b64(png_bytes()), "filename": "a.png"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "vision"
    assert "Fake transcription of a 400x120 image." in body["text"]
    assert body["tokens"] == sum(
        fake_openai.usages[0][k] for k in ("prompt_tokens", "completion_tokens")
    )


def test_upload_and_process_go_to_the_upstream(
    fake_cloudflare, provider_for, funded_org_a, api_key, client_for, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    provider_for(fake_cloudflare, model="cf-markdown")
    settings.OCR_DEFAULT_MODEL = "cf-markdown"
    _, secret = api_key
    client = client_for(None)
    client.credentials(HTTP_X_API_KEY=secret)

    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = client.post(
        "/api/upload", {"file": SimpleUploadedFile("scan.png", png_bytes(), "image/png")}
    )
    assert upload.status_code == 200, upload.content
    response = client.post("/api/ocr/process", {"key": upload.json()["key"]}, format="json")

    assert response.status_code == 200, response.content
    assert "scanned page (400x120)" in response.json()["text"]


def test_invoice_extraction_through_a_chat_model(
    fake_openai, provider_for, funded_org_a, api_key, client_for, settings
):
    provider_for(fake_openai, model="vision")
    settings.OCR_DEFAULT_MODEL = "vision"
    invoice = {
        "vendor": {"name": "ACME GmbH", "address": None, "tax_id": None},
        "invoice_number": "INV-7",
        "invoice_date": "2024-03-05",
        "due_date": None,
        "currency": "EUR",
        "subtotal": None,
        "tax": None,
        "total": "23.80",
        "line_items": [],
        "bill_to": None,
    }
    fake_openai.replies.extend(
        ["ACME GmbH\n\nInvoice INV-7\n\nTotal 23.80 EUR", json.dumps(invoice)]
    )
    _, secret = api_key

    response = client_for(secret).post(
        "/api/ocr-structured-v4",
        {"imageBase64": b64(png_bytes()), "mimeType": "image/png", "model": "vision"},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["data"] == invoice
    assert "INV-7" in body["text"]
    ocr_call, extraction_call = fake_openai.requests
    assert "response_format" not in ocr_call.json()
    assert extraction_call.json()["response_format"]["type"] == "json_schema"
