"""Seed 002 (Invoice OCR structured v4) `POST /api/ocr-structured-v4`.

The rule-based extractor runs on the real engine's text of the SROIE receipts: it must
find the vendor's name, the date and the total on every one of them.
"""

from __future__ import annotations

import difflib
import json
from decimal import Decimal

import pytest

from billing.models import UsageRecord
from tests.ocr.dialect_support import (
    assert_cost_headers,
    assert_not_charged,
    b64,
    client_with,
    corpus_path,
    data_url,
    error_code,
    phototest_png,
)
from tests.ocr.documents import make_pdf

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.django_db

URL = "/api/ocr-structured-v4"
# The SROIE dates as ISO 8601 (their files write them as on the receipt, day first).
SROIE_DATES = {
    "002": "2019-01-12",
    "011": "2017-06-15",
    "019": "2018-03-18",
    "027": "2018-03-14",
    "040": "2018-03-12",
    "051": "2018-03-22",
    "063": "2018-02-26",
    "072": "2018-03-01",
    "084": "2017-10-18",
    "099": "2017-12-04",
}
INVOICE_LINES = [
    "ACME Supplies Ltd",
    "12 High Street, Springfield",
    "VAT No: GB123456789",
    "Invoice No: INV-2024-0042",
    "Invoice Date: 2024-03-05",
    "Due Date: 2024-04-04",
    "Bill To: Jane Doe Consulting",
    "Widget 2 10.00 20.00",
    "Gadget 1 5.50 5.50",
    "Subtotal 25.50",
    "VAT 20% 5.10",
    "Total GBP 30.60",
]


@pytest.mark.parametrize("receipt", sorted(SROIE_DATES))
def test_it_finds_vendor_date_and_total_on_real_receipts(client, receipt):
    truth = json.loads(corpus_path("sroie", f"{receipt}.json").read_text())
    image = corpus_path("sroie", f"{receipt}.jpg").read_bytes()

    response = client.post(
        URL, {"imageBase64": b64(image), "mimeType": "image/jpeg"}, format="json"
    )

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    name = data["vendor"]["name"] or ""
    similarity = difflib.SequenceMatcher(None, name.upper(), truth["company"].upper()).ratio()
    assert similarity >= 0.8, (name, truth["company"])
    assert data["invoice_date"] == SROIE_DATES[receipt]
    assert data["total"] == truth["total"].lstrip("$")


def _drawn_invoice() -> bytes:
    """An invoice whose header sits in two blocks side by side, as many are printed."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    font, bold = ImageFont.load_default(size=20), ImageFont.load_default(size=32)
    image = Image.new("L", (1000, 640), 255)
    draw = ImageDraw.Draw(image)
    draw.text((50, 40), "Northwind Traders LLC", font=bold, fill=0)
    draw.text((700, 40), "INVOICE", font=bold, fill=0)
    left = ["1200 Market Street, Suite 5", "Portland, OR 97201"]
    right = ["Invoice #: INV-20931", "Date: March 15, 2024"]
    for number, (one, two) in enumerate(zip(left, right, strict=True)):
        draw.text((50, 90 + 30 * number), one, font=font, fill=0)
        draw.text((700, 90 + 30 * number), two, font=font, fill=0)
    draw.text((50, 190), "Bill To: Contoso Ltd, 42 Harbor Road, Seattle", font=font, fill=0)
    rows = [("Description", "Qty", "Amount"), ("Consulting hours", "10", "$1,200.00")]
    rows += [("Travel expenses", "1", "$310.50"), ("Total Due", "", "$1,510.50")]
    for number, row in enumerate(rows):
        for x, cell in zip((50, 560, 800), row, strict=True):
            draw.text((x, 270 + 40 * number), cell, font=font, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_drawn_invoice_with_its_header_in_two_blocks(client):
    response = client.post(
        URL, {"imageBase64": b64(_drawn_invoice()), "mimeType": "image/png"}, format="json"
    )

    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["vendor"]["name"] == "Northwind Traders LLC"
    assert data["vendor"]["address"] == "1200 Market Street, Suite 5, Portland, OR 97201"
    assert data["invoice_number"] == "INV-20931"
    assert data["invoice_date"] == "2024-03-15"
    assert data["total"] == "1510.50"
    assert data["currency"] == "USD"


def test_the_response_shape_on_a_pdf_with_a_text_layer(client):
    pdf = make_pdf([INVOICE_LINES])

    response = client.post(URL, {"pdfBase64": b64(pdf)}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"data", "text", "model", "annotations", "usage"}
    assert body["model"] == "local/invoice-rules"
    assert body["data"] == {
        "vendor": {
            "name": "ACME Supplies Ltd",
            "address": "12 High Street, Springfield",
            "tax_id": "GB123456789",
        },
        "invoice_number": "INV-2024-0042",
        "invoice_date": "2024-03-05",
        "due_date": "2024-04-04",
        "currency": "GBP",
        "subtotal": "25.50",
        "tax": "5.10",
        "total": "30.60",
        "line_items": [
            {"description": "Widget", "quantity": "2", "unit_price": "10.00", "amount": "20.00"},
            {"description": "Gadget", "quantity": "1", "unit_price": "5.50", "amount": "5.50"},
        ],
        "bill_to": "Jane Doe Consulting",
    }
    output = body["annotations"]["file-parser"]["output"]
    assert output["text"] == body["text"] and "INV-2024-0042" in output["text"]
    assert output["pages"][0]["index"] == 0
    assert body["usage"]["pages_processed"] == 1
    assert body["usage"]["ocr_model"] == "local/rapidocr"
    assert_cost_headers(response)


def test_pdf_url_and_data_urls(client, file_server):
    pdf = make_pdf([INVOICE_LINES])
    file_server.files["/invoice.pdf"] = ("application/pdf", pdf)

    by_url = client.post(URL, {"pdfUrl": file_server.url + "/invoice.pdf"}, format="json")
    by_data_url = client.post(URL, {"pdfUrl": data_url(pdf, "application/pdf")}, format="json")
    by_b64_data_url = client.post(
        URL, {"pdfBase64": data_url(pdf, "application/pdf")}, format="json"
    )
    image = client.post(URL, {"imageBase64": data_url(phototest_png())}, format="json")

    for response in (by_url, by_data_url, by_b64_data_url):
        assert response.status_code == 200, response.content
        assert response.json()["data"]["total"] == "30.60"
    assert image.status_code == 200
    assert "quick brown dog" in image.json()["text"]


def test_annotations_are_reused_without_parsing_or_charging_again(client, funded):
    pdf = make_pdf([INVOICE_LINES])
    first = client.post(URL, {"pdfBase64": b64(pdf)}, format="json").json()
    records = UsageRecord.objects.filter(organization=funded).count()

    second = client.post(
        URL,
        # The document is not even needed again; a broken one proves it is not parsed.
        {"pdfBase64": "not base64 at all", "annotations": first["annotations"]},
        format="json",
    )

    assert second.status_code == 200, second.content
    assert second.json()["data"] == first["data"]
    assert second.json()["usage"]["file_parser_reused"] is True
    assert second["X-Cost-Usd"] == "0.000000"
    assert UsageRecord.objects.filter(organization=funded).count() == records


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({}, 400, "missing_input", "Missing image or PDF input"),
        ({"mimeType": "image/png"}, 400, "missing_input", "Missing image or PDF input"),
        ({"imageBase64": "***"}, 400, "invalid_base64", "Invalid base64 format"),
        ({"pdfBase64": 12}, 400, "invalid_base64", "Invalid base64 format"),
        (
            {"imageBase64": "AAAA", "model": "no/such-model"},
            400,
            "invalid_model",
            "Invalid model ID",
        ),
        (
            {"imageBase64": b64(b"\0" * (10 * 1024 * 1024 + 1))},
            413,
            "file_too_large",
            "File too large",
        ),
    ],
)
def test_the_seeds_validation_errors(client, body, status, code, message):
    response = client.post(URL, body, format="json")

    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"] == message


def test_a_pdf_url_over_10_mib_is_the_seeds_file_too_large(client, file_server):
    # The body is small; the fetched file is over the limit: the seed's message all the same.
    big = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024)
    file_server.files["/big.pdf"] = ("application/pdf", big)

    response = client.post(URL, {"pdfUrl": file_server.url + "/big.pdf"}, format="json")

    assert response.status_code == 413, response.content
    assert response.json()["error"] == {"code": "file_too_large", "message": "File too large"}


def test_the_request_body_is_capped_at_10_mib_exactly(client):
    def body_of(size: int) -> bytes:
        head, tail = b'{"imageBase64":"', b'"}'
        return head + b"A" * (size - len(head) - len(tail)) + tail

    limit = 10 * 1024 * 1024
    at_limit = client.post(URL, body_of(limit), content_type="application/json")
    over = client.post(URL, body_of(limit + 1), content_type="application/json")

    assert at_limit.status_code != 413, at_limit.content
    assert over.status_code == 413
    assert over.json()["error"] == {"code": "file_too_large", "message": "File too large"}


@pytest.mark.parametrize(
    ("plugins", "code"),
    [
        ([{"id": "file-parser", "config": {"engine": "magic"}}], "invalid_request"),
        ("file-parser", "invalid_request"),
        (["x"], "invalid_request"),
    ],
)
def test_pdf_engines_that_cannot_run_say_so(client, plugins, code):
    response = client.post(
        URL, {"pdfBase64": b64(make_pdf([["x"]])), "plugins": plugins}, format="json"
    )

    assert response.status_code == 400, response.content
    assert error_code(response) == code


def test_mistral_ocr_without_a_mistral_provider_or_alias_is_engine_unavailable(client, settings):
    settings.OCR_MODEL_ALIASES = {}
    plugins = [{"id": "file-parser", "config": {"engine": "mistral-ocr"}}]

    response = client.post(
        URL, {"pdfBase64": b64(make_pdf([["x"]])), "plugins": plugins}, format="json"
    )

    assert response.status_code == 400, response.content
    assert error_code(response) == "engine_unavailable"


def test_the_seeds_complete_example_runs_on_a_default_install(client):
    # The seed's own example: a seed model name and the mistral-ocr engine, neither of
    # which a default install serves by name (both answered through OCR_MODEL_ALIASES).
    for engine in ("mistral-ocr", "native"):
        response = client.post(
            URL,
            {
                "pdfBase64": b64(make_pdf([INVOICE_LINES])),
                "model": "openai/gpt-4o",
                "plugins": [{"id": "file-parser", "config": {"engine": engine}}],
            },
            format="json",
        )

        assert response.status_code == 200, (engine, response.content)
        body = response.json()
        assert body["data"]["invoice_number"] == "INV-2024-0042"
        assert body["usage"]["ocr_model"] == "local/rapidocr"


def test_local_engines_by_plugin(client):
    pdf = make_pdf([INVOICE_LINES])
    for engine in ("pdf-text", "local-ocr", "native"):
        response = client.post(
            URL,
            {
                "pdfBase64": b64(pdf),
                "plugins": [{"id": "file-parser", "config": {"engine": engine}}],
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["data"]["invoice_number"] == "INV-2024-0042"


@pytest.mark.parametrize("model", ["openai/gpt-4o", "google/gemini-2.0-flash"])
def test_the_seeds_model_names_are_answered_by_their_aliases(client, model):
    # The seed's own examples name these; nothing here serves them by that name.
    response = client.post(
        URL,
        {"imageBase64": b64(_drawn_invoice()), "mimeType": "image/png", "model": model},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["data"]["invoice_number"] == "INV-20931"


def test_a_model_that_exists_but_cannot_run_is_an_invalid_model_id(client, monkeypatch):
    from ocr.models import Provider, ProviderModel

    monkeypatch.delenv("OCRGW_TEST_UNSET_SECRET", raising=False)
    provider = Provider.objects.create(
        slug="no-secret",
        kind="openai_compatible",
        base_url="http://127.0.0.1:9/v1",
        secret_env="OCRGW_TEST_UNSET_SECRET",  # unset: listed, never called
    )
    ProviderModel.objects.create(provider=provider, name="acme/vision", upstream_model="v")

    response = client.post(
        URL, {"imageBase64": b64(_drawn_invoice()), "model": "acme/vision"}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"] == {
        "code": "invalid_model",
        "message": "Invalid model ID",
        "model": "acme/vision",
    }


def test_bad_annotations_are_400(client):
    response = client.post(URL, {"annotations": {"file-parser": {"output": {}}}}, format="json")

    assert response.status_code == 400
    assert error_code(response) == "invalid_request"


def test_keys_402_and_429(management_client, broke_client, org_b, limited_client):
    body = {"pdfBase64": b64(make_pdf([INVOICE_LINES]))}
    for who in (client_with(None), management_client):
        response = who.post(URL, body, format="json")
        assert response.status_code == 401 and error_code(response) == "invalid_api_key"

    response = broke_client.post(URL, body, format="json")
    assert response.status_code == 402 and error_code(response) == "insufficient_credits"
    assert_not_charged(org_b)

    assert limited_client.post(URL, {}, format="json").status_code == 400
    response = limited_client.post(URL, body, format="json")
    assert response.status_code == 429 and error_code(response) == "rate_limited"


LLM_ANSWER = {
    "vendor": {"name": "ACME Supplies Ltd", "address": None, "tax_id": "GB123456789"},
    "invoice_number": "INV-2024-0042",
    "invoice_date": "2024-03-05",
    "due_date": "2024-04-04",
    "currency": "GBP",
    "subtotal": "25.50",
    "tax": "5.10",
    "total": "30.60",
    "line_items": [],
    "bill_to": "Jane Doe Consulting",
}
LLM_PRICES = {"input_per_mtok_micros": 1_000_000, "output_per_mtok_micros": 4_000_000}


def test_a_chat_model_extracts_and_both_steps_are_charged(
    client, funded, fake_openai, provider_for
):
    provider_for(fake_openai, model="extractor", prices=LLM_PRICES)
    fake_openai.replies.append(json.dumps(LLM_ANSWER))

    response = client.post(
        URL, {"pdfBase64": b64(make_pdf([INVOICE_LINES])), "model": "extractor"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "extractor"
    assert body["data"]["total"] == "30.60"
    (call,) = fake_openai.requests  # the PDF's text layer was read locally
    assert "INV-2024-0042" in call.json()["messages"][-1]["content"]
    request_id = response["X-Request-Id"]
    ocr = UsageRecord.objects.get(request_id=request_id)
    llm = UsageRecord.objects.get(request_id=f"{request_id}-llm")
    assert ocr.model == "local/rapidocr" and llm.model == "extractor"
    assert llm.input_tokens == body["usage"]["prompt_tokens"] > 0
    assert llm.total_micros > 0
    total = ocr.total_micros + llm.total_micros
    assert Decimal(response["X-Cost-Usd"]) == Decimal(total) / 1_000_000


def test_402_when_the_chat_step_cannot_be_covered_and_nothing_runs(
    client, funded, fake_openai, provider_for
):
    # The worst case of the extraction is far above the tenant's $5.
    provider_for(fake_openai, model="pricey", prices={"input_per_mtok_micros": 10**9})

    response = client.post(
        URL, {"pdfBase64": b64(make_pdf([INVOICE_LINES])), "model": "pricey"}, format="json"
    )

    assert response.status_code == 402
    assert error_code(response) == "insufficient_credits"
    assert fake_openai.requests == []
    assert_not_charged(funded)


def test_a_failing_chat_model_costs_only_the_parse(
    client, funded, fake_openai, provider_for, fast_retries
):
    provider_for(fake_openai, model="extractor", prices=LLM_PRICES)
    fake_openai.replies.extend(["not json", "still not json"])

    response = client.post(
        URL, {"pdfBase64": b64(make_pdf([INVOICE_LINES])), "model": "extractor"}, format="json"
    )

    assert response.status_code == 502
    llm = UsageRecord.objects.get(request_id=f"{response['X-Request-Id']}-llm")
    assert llm.status == "failed" and llm.total_micros == 0


@pytest.mark.parametrize(
    "body",
    [
        {"pdfUrl": "data:application/pdf;base64,xx", "model": "\ud800"},
        {"annotations": {"file-parser": {"output": {"text": "TOTAL \ud800 5.00"}}}},
        {"annotations": {"file-parser": {"output": {"text": "x", "pages": [{"a": "\ud800"}]}}}},
    ],
)
def test_a_lone_surrogate_echoed_back_is_no_crash(client, body):
    # The answer repeats what was sent; UTF-8 cannot encode a lone surrogate (a 500).
    response = client.post(URL, body, format="json")

    assert response.status_code in (200, 400), response.content
    assert response.json()  # valid JSON, the surrogate escaped
