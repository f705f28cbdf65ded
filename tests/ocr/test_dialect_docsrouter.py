"""Seed 001 (DocsRouter) `POST /v1/ocr` with `url` or `base64`, through the real engine."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from billing.models import UsageRecord
from tests.ocr.dialect_support import (
    assert_cost_headers,
    assert_not_charged,
    assert_phototest_text,
    b64,
    client_with,
    data_url,
    error_code,
    phototest_png,
    phototest_reference,
)

pytestmark = pytest.mark.django_db

URL = "/v1/ocr"


def test_it_returns_the_full_ocr_result(client):
    response = client.post(
        URL,
        {"base64": b64(phototest_png()), "model": "local/rapidocr", "options": {"language": "en"}},
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"].startswith("req_") and body["id"] == response["X-Request-Id"]
    assert body["object"] == "ocr.result"
    assert isinstance(body["created"], int)
    assert body["model"] == "local/rapidocr"
    result = body["result"]
    # Default output_format is text: no Markdown marks.
    assert_phototest_text(result["text"])
    assert "#" not in result["text"]
    assert 90 <= result["confidence"] <= 100
    assert result["language"] == "en"
    assert "tables" not in result
    block = result["blocks"][0]
    assert set(block) == {"type", "content", "page", "bbox", "confidence"}
    assert block["page"] == 1 and len(block["bbox"]) == 4
    assert 0 <= block["confidence"] <= 100
    assert "quick brown dog" in " ".join(b["content"] for b in result["blocks"])
    assert_cost_headers(response)


def test_cents_are_exact_and_match_the_charge(client):
    response = client.post(URL, {"base64": b64(phototest_png())}, format="json")

    usage = response.json()["usage"]
    record = UsageRecord.objects.get(request_id=response["X-Request-Id"])
    assert usage["pages_processed"] == 1
    assert usage["tokens_used"] > 0
    assert usage["processing_time_ms"] >= 0
    # 1 cent = 10,000 micro-dollars; fractions of a cent are kept, not rounded away.
    assert (
        Decimal(str(usage["provider_cost_cents"])) == Decimal(record.provider_cost_micros) / 10_000
    )
    assert Decimal(str(usage["platform_fee_cents"])) == Decimal(record.fee_micros) / 10_000
    assert Decimal(str(usage["total_cost_cents"])) == Decimal(record.total_micros) / 10_000
    assert Decimal(response["X-Cost-Usd"]) * 100 == Decimal(str(usage["total_cost_cents"]))


def test_output_format_markdown_and_json(client):
    markdown = client.post(
        URL,
        {"base64": b64(phototest_png()), "options": {"output_format": "markdown"}},
        format="json",
    ).json()["result"]
    as_json = client.post(
        URL,
        {"url": data_url(phototest_png()), "options": {"output_format": "json"}},
        format="json",
    ).json()["result"]

    assert_phototest_text(markdown["text"])
    blocks = json.loads(as_json["text"])
    assert blocks == as_json["blocks"]


def test_extract_tables_returns_headers_and_rows(client):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (900, 360), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    rows = [("Item", "Price"), ("Widget", "10.00"), ("Gadget", "25.50"), ("Cable", "7.25")]
    for number, (item, price) in enumerate(rows):
        draw.text((60, 30 + number * 80), item, fill=0, font=font)
        draw.text((600, 30 + number * 80), price, fill=0, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")

    response = client.post(
        URL,
        {"base64": b64(buffer.getvalue()), "options": {"extract_tables": True}},
        format="json",
    )

    assert response.status_code == 200, response.content
    result = response.json()["result"]
    assert isinstance(result["tables"], list)
    for table in result["tables"]:
        assert set(table) == {"headers", "rows"}
    text = result["text"]
    for item, price in rows:
        assert item in text and price in text


def test_a_url_is_fetched(client, file_server):
    file_server.files["/scan.png"] = ("image/png", phototest_png())

    response = client.post(URL, {"url": file_server.url + "/scan.png"}, format="json")

    assert response.status_code == 200, response.content
    assert_phototest_text(response.json()["result"]["text"])


def test_a_private_url_is_refused(client):
    response = client.post(URL, {"url": "http://127.0.0.1:9/x.png"}, format="json")

    assert response.status_code == 400
    assert error_code(response) == "url_not_allowed"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "missing_image"),
        ({"model": "local/rapidocr"}, 400, "missing_image"),
        ({"url": "https://example.com/a.png", "base64": "AAAA"}, 400, "invalid_request"),
        ({"base64": "%%%not base64"}, 400, "invalid_base64"),
        ({"base64": 42}, 400, "invalid_base64"),
        ({"url": "ftp://example.com/a.png"}, 400, "invalid_url"),
        ({"url": ["x"]}, 400, "invalid_url"),
        ({"base64": "AAAA", "options": "x"}, 400, "invalid_request"),
        ({"base64": "AAAA", "options": {"output_format": "pdf"}}, 400, "invalid_request"),
        ({"base64": "AAAA", "options": {"extract_tables": "maybe"}}, 400, "invalid_request"),
        ({"base64": "AAAA", "options": {"language": "not a language"}}, 400, "invalid_request"),
        ({"base64": "AAAA", "model": 5}, 400, "invalid_request"),
    ],
)
def test_bad_requests_are_400(client, body, status, code):
    response = client.post(URL, body, format="json")

    assert response.status_code == status, response.content
    assert error_code(response) == code


def test_an_unknown_model_is_invalid_model(client):
    response = client.post(
        URL,
        {"base64": b64(phototest_png()), "model": "no-such/model-v9"},
        format="json",
    )

    assert response.status_code == 400
    assert error_code(response) == "invalid_model"
    assert "local/rapidocr" in response.json()["error"]["valid_models"]


def test_a_document_over_20_mib_is_413(client):
    response = client.post(URL, {"base64": b64(b"\0" * (20 * 1024 * 1024 + 10))}, format="json")

    assert response.status_code == 413
    assert error_code(response) == "file_too_large"


# The seed's table has no 415: "400 Bad Request - Invalid parameters or missing image".
def test_not_json_is_refused_with_400(client):
    response = client.post(URL, {"base64": "AAAA"}, format="multipart")

    assert response.status_code == 400
    assert error_code(response) == "unsupported_media_type"


def test_a_file_of_no_supported_type_is_400(client):
    response = client.post(URL, {"base64": b64(b"hello, plain text")}, format="json")

    assert response.status_code == 400
    assert error_code(response) == "unsupported_media_type"
    assert response.json()["error"]["message"].startswith("Unsupported file type")


def test_keys_402_and_429(management_client, broke_client, org_b, limited_client):
    body = {"base64": b64(phototest_png())}
    for who in (client_with(None), management_client):
        response = who.post(URL, body, format="json")
        assert response.status_code == 401 and error_code(response) == "invalid_api_key"

    response = broke_client.post(URL, body, format="json")
    assert response.status_code == 402 and error_code(response) == "insufficient_credits"
    assert_not_charged(org_b)

    assert limited_client.post(URL, {}, format="json").status_code == 400
    response = limited_client.post(URL, {}, format="json")
    assert response.status_code == 429 and error_code(response) == "rate_limited"


def test_the_reference_text_is_what_the_engine_read(client):
    text = client.post(
        URL,
        {"base64": b64(phototest_png()), "options": {"output_format": "text"}},
        format="json",
    ).json()["result"]["text"]

    assert text.split() == phototest_reference().split()


def _blank_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (200, 120), 255).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("hint", "language"), [(None, "en"), ("de", "de")])
def test_a_page_with_no_text_has_numbers_and_strings_where_the_seed_says(client, hint, language):
    options = {"language": hint} if hint else {}

    response = client.post(URL, {"base64": b64(_blank_png()), "options": options}, format="json")

    assert response.status_code == 200, response.content
    result = response.json()["result"]
    assert result["text"] == "" and result["blocks"] == []
    assert result["confidence"] == 0
    assert result["language"] == language


@pytest.mark.parametrize(
    ("hint", "language"),
    [
        ("spa", "es"),  # was "sp"
        ("swe", "sv"),  # was "sw", Swahili
        ("por", "pt"),  # was "po"
        ("ger", "de"),  # the bibliographic code
        ("pt-BR", "pt"),
        ("zh_Hant", "zh"),
        ("ES", "es"),
        ("haw", "en"),  # Hawaiian has no two-letter code: no hint
    ],
)
def test_a_language_hint_is_reported_as_its_iso_639_1_code(client, hint, language):
    options = {"language": hint}

    response = client.post(URL, {"base64": b64(_blank_png()), "options": options}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["result"]["language"] == language


@pytest.mark.parametrize("hint", ["zz", "qq-US", "englisch"])
def test_a_language_hint_that_is_no_language_is_refused(client, hint):
    response = client.post(
        URL, {"base64": b64(_blank_png()), "options": {"language": hint}}, format="json"
    )

    assert response.status_code == 400
    assert error_code(response) == "invalid_request"
    assert "ISO 639" in response.json()["error"]["message"]
    assert response["X-Cost-Usd"] == "0.000000"


def test_bad_json_and_an_oversized_body_say_what_this_endpoint_takes(client):
    broken = client.generic("POST", URL, b"{oops", content_type="application/json")
    oversized = client.generic(
        "POST", URL, b"{}", content_type="application/json", CONTENT_LENGTH=str(80 * 1024 * 1024)
    )

    assert broken.status_code == 400
    assert broken.json()["error"]["message"] == "The request body is not valid JSON."
    assert oversized.status_code == 413 and error_code(oversized) == "file_too_large"
    assert "20 MiB with 'url'/'base64'" in oversized.json()["error"]["message"]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"language": 5}, "'options.language' must be a string."),
        ({"output_format": ["text"]}, "'options.output_format' must be a string."),
        ({"extract_tables": "maybe"}, "'options.extract_tables' must be a boolean."),
    ],
)
def test_messages_name_the_option_where_it_sits(client, options, named):
    response = client.post(URL, {"base64": "AAAA", "options": options}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == named
