"""Seed 000 (AnyRouter) `POST /api/v1/ocr/extract` through the real engine."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import UsageRecord
from tests.fakes.documents import encrypted_pdf_bytes
from tests.ocr.dialect_support import (
    assert_cost_headers,
    assert_not_charged,
    assert_phototest_text,
    b64,
    client_with,
    data_url,
    error_code,
    phototest_png,
)
from tests.ocr.documents import make_pdf

pytest_plugins = ["tests.fakes.fixtures"]

URL = "/api/v1/ocr/extract"
pytestmark = pytest.mark.django_db(transaction=False)


def test_it_extracts_markdown_from_a_json_data_url(client, funded):
    response = client.post(
        URL, {"image": data_url(phototest_png()), "filename": "receipt.png"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"text", "format", "model", "tokens"}
    assert body["format"] == "markdown"
    assert body["model"] == "local/rapidocr"
    assert_phototest_text(body["text"])
    assert body["tokens"] == -(-len(body["text"]) // 4)
    assert_cost_headers(response)
    usage = UsageRecord.objects.get(request_id=response["X-Request-Id"])
    assert usage.dialect == "anyrouter" and usage.status == "succeeded"
    assert usage.total_micros > 0


def test_it_accepts_raw_base64_without_a_filename(client):
    response = client.post(URL, {"image": b64(phototest_png())}, format="json")

    assert response.status_code == 200, response.content
    assert_phototest_text(response.json()["text"])


def test_it_accepts_a_multipart_upload(client):
    upload = SimpleUploadedFile("receipt.png", phototest_png(), content_type="image/png")

    response = client.post(URL, {"image": upload}, format="multipart")

    assert response.status_code == 200, response.content
    assert_phototest_text(response.json()["text"])
    assert_cost_headers(response)


@pytest.mark.parametrize(
    "body",
    [{}, {"image": ""}, {"image": None}, {"filename": "x.png"}],
)
def test_a_missing_image_is_missing_required_fields(client, body):
    response = client.post(URL, body, format="json")

    assert response.status_code == 400
    assert error_code(response) == "missing_required_fields"


def test_a_multipart_without_image_is_missing_required_fields(client):
    response = client.post(URL, {"other": "x"}, format="multipart")

    assert response.status_code == 400
    assert error_code(response) == "missing_required_fields"


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"image"', b"null"])
def test_a_body_that_is_not_a_json_object_is_invalid_request_body(client, body):
    response = client.generic("POST", URL, body, content_type="application/json")

    assert response.status_code == 400
    assert error_code(response) == "invalid_request_body"


def test_broken_multipart_is_invalid_request_body(client):
    response = client.generic("POST", URL, b"--x\r\nnot a part", content_type="multipart/form-data")

    assert response.status_code == 400
    assert error_code(response) == "invalid_request_body"


@pytest.mark.parametrize(
    "image", ["not base64 at all!!", "data:image/png;base64,@@@", 12345, ["a"], "data:nocomma"]
)
def test_bad_base64_is_invalid_image_encoding(client, image):
    response = client.post(URL, {"image": image}, format="json")

    assert response.status_code == 400
    assert error_code(response) == "invalid_image_encoding"


def test_a_multipart_string_is_invalid_image_field(client):
    response = client.post(URL, {"image": "just text"}, format="multipart")

    assert response.status_code == 400
    assert error_code(response) == "invalid_image_field"


def test_an_image_over_5_mib_decoded_is_image_too_large(client):
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024)

    response = client.post(URL, {"image": b64(big)}, format="json")

    assert response.status_code == 413
    assert error_code(response) == "image_too_large"


def test_a_multipart_image_over_5_mib_is_image_too_large(client):
    big = SimpleUploadedFile("big.png", b"\0" * (5 * 1024 * 1024 + 1))

    response = client.post(URL, {"image": big}, format="multipart")

    assert response.status_code == 413
    assert error_code(response) == "image_too_large"


def test_an_oversized_content_length_is_refused_before_reading(client):
    response = client.generic(
        "POST",
        URL,
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )

    assert response.status_code == 413
    assert error_code(response) == "image_too_large"


# The seed's table names one code for "unsupported format or corrupt data":
# ocr_extraction_error. It keeps the 4xx of the check that refused the file before any
# provider was called, so clients that retry on 5xx do not resend it.


def test_a_corrupt_image_is_the_seeds_extraction_error_with_a_4xx(client, funded):
    # A PNG signature and nothing else: not an image the engine can read.
    response = client.post(URL, {"image": b64(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)}, format="json")

    assert response.status_code == 400
    assert error_code(response) == "ocr_extraction_error"
    assert "damaged" in response.json()["error"]["message"]
    assert_not_charged(funded)


def test_a_text_file_is_the_seeds_extraction_error_with_415(client, funded):
    response = client.post(URL, {"image": b64(b"hello, plain text")}, format="json")

    assert response.status_code == 415
    assert error_code(response) == "ocr_extraction_error"
    assert response.json()["error"]["message"].startswith("Unsupported file type")
    assert_not_charged(funded)


def test_a_password_protected_pdf_is_the_seeds_extraction_error(client, funded):
    response = client.post(URL, {"image": b64(encrypted_pdf_bytes("s3cret"))}, format="json")

    assert response.status_code == 400
    assert error_code(response) == "ocr_extraction_error"
    assert "password" in response.json()["error"]["message"]
    assert_not_charged(funded)


def test_no_key_and_a_management_key_are_invalid_api_key(management_client):
    for who in (client_with(None), client_with("sk-ar-wrong"), management_client):
        response = who.post(URL, {"image": b64(phototest_png())}, format="json")

        assert response.status_code == 401
        assert error_code(response) == "invalid_api_key"


def test_zero_balance_is_402_and_the_engine_never_runs(broke_client, org_b):
    response = broke_client.post(URL, {"image": b64(phototest_png())}, format="json")

    assert response.status_code == 402
    body = response.json()["error"]
    assert body["code"] == "insufficient_credits"
    assert body["limit_source"] == "balance"
    assert_not_charged(org_b)


def test_the_second_request_in_a_minute_is_429(limited_client):
    first = limited_client.post(URL, {}, format="json")
    second = limited_client.post(URL, {}, format="json")

    assert first.status_code == 400
    assert second.status_code == 429
    assert error_code(second) == "rate_limited"
    assert int(second["Retry-After"]) >= 1


@pytest.fixture
def cloudflare_default(fake_cloudflare, provider_for, settings, fast_retries):
    """The seed's own upstream (Workers AI toMarkdown, faked on 127.0.0.1) as the default."""
    provider_for(
        fake_cloudflare, model="cloudflare/ai-to-markdown", prices={"per_page_micros": 100}
    )
    settings.OCR_DEFAULT_MODEL = "cloudflare/ai-to-markdown"
    return fake_cloudflare


def test_through_the_seeds_upstream_model_and_tokens_are_the_providers(client, cloudflare_default):
    upload = SimpleUploadedFile("receipt.png", phototest_png(), content_type="image/png")

    response = client.post(URL, {"image": upload}, format="multipart")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "cloudflare/ai-to-markdown"
    assert "scanned page (640x480)" in body["text"]
    sent = cloudflare_default.requests[0]
    assert sent.headers["authorization"] == f"Bearer {cloudflare_default.api_key}"
    assert body["tokens"] == len(body["text"]) // 4  # the upstream's own count


def test_an_upstream_that_keeps_failing_is_ocr_upstream_failed(client, funded, cloudflare_default):
    cloudflare_default.fail_always("500")

    response = client.post(URL, {"image": b64(phototest_png())}, format="json")

    assert response.status_code == 502
    assert error_code(response) == "ocr_upstream_failed"
    assert_not_charged(funded)
    assert response["X-Cost-Usd"] == "0.000000"


def test_a_file_the_upstream_cannot_read_is_ocr_extraction_error(
    client, funded, cloudflare_default
):
    cloudflare_default.unreadable.add("receipt-p1.png")  # the provider sends page files

    response = client.post(
        URL, {"image": b64(phototest_png()), "filename": "receipt.png"}, format="json"
    )

    assert response.status_code == 502
    assert error_code(response) == "ocr_extraction_error"
    assert_not_charged(funded)


@pytest.mark.parametrize("fmt", ["JPEG", "GIF", "WEBP", "BMP", "TIFF", "PDF"])
def test_every_format_of_the_seed(client, fmt):
    from PIL import Image

    from tests.ocr.dialect_support import corpus_path

    image = Image.open(corpus_path("tesseract", "phototest.tif")).convert("L")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)

    response = client.post(URL, {"image": b64(buffer.getvalue())}, format="json")

    assert response.status_code == 200, response.content
    assert_phototest_text(response.json()["text"])


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_json_body_is_read_whatever_its_content_type(client, content_type):
    # `curl -d '{...}'` without the JSON header sends a form content type; the seed's
    # server reads any body that is not multipart as JSON.
    body = json.dumps({"image": b64(phototest_png())}).encode()

    response = client.generic("POST", URL, body, content_type=content_type)

    assert response.status_code == 200, response.content
    assert_phototest_text(response.json()["text"])


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_an_empty_body_is_invalid_request_body(client, content_type):
    response = client.generic("POST", URL, b"", content_type=content_type)

    assert response.status_code == 400
    assert error_code(response) == "invalid_request_body"


def test_a_form_body_that_is_not_json_is_invalid_request_body(client):
    response = client.generic(
        "POST", URL, b"image=abc&filename=x.png", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    assert error_code(response) == "invalid_request_body"


def test_garbage_with_a_multipart_boundary_is_invalid_request_body(client):
    response = client.generic(
        "POST", URL, b"garbage, no parts at all", content_type="multipart/form-data; boundary=zz"
    )

    assert response.status_code == 400
    assert error_code(response) == "invalid_request_body"


def test_an_image_with_too_many_pixels_is_image_too_large(client, funded, settings):
    from PIL import Image

    settings.OCR_MAX_IMAGE_PIXELS = 100_000
    buffer = io.BytesIO()
    Image.new("1", (1000, 1000), 1).save(buffer, format="PNG")  # 1 Mpx in a few KB

    response = client.post(URL, {"image": b64(buffer.getvalue())}, format="json")

    assert response.status_code == 413
    assert error_code(response) == "image_too_large"
    assert "pixels" in response.json()["error"]["message"]
    assert_not_charged(funded)


def test_a_pdf_over_the_page_limit_is_image_too_large(client, funded, settings):
    # The seed's one 413 is image_too_large, whatever limit the file is over.
    settings.OCR_MAX_PAGES = 1

    response = client.post(URL, {"image": b64(make_pdf([["one"], ["two"]]))}, format="json")

    assert response.status_code == 413
    assert error_code(response) == "image_too_large"
    assert "pages" in response.json()["error"]["message"]
    assert_not_charged(funded)
