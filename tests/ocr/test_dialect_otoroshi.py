"""Seed 004 (Otoroshi) `POST /ocr`: every JSON form of the seed and multipart uploads."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.ocr.dialect_support import (
    alias_model,
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

pytestmark = pytest.mark.django_db

URL = "/ocr"


def assert_otoroshi_page(response, *, model="local/rapidocr"):
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"model", "text", "pages", "usage_info"}
    assert body["model"] == model
    assert body["pages"][0] == {"index": 0, "markdown": body["pages"][0]["markdown"]}
    assert body["usage_info"] == {"pages_processed": len(body["pages"])}
    assert_phototest_text(body["text"])
    return body


@pytest.mark.parametrize(
    "form",
    [
        lambda png: {"document": {"type": "document_url", "document_url": data_url(png)}},
        lambda png: {"document": {"type": "image_url", "image_url": {"url": data_url(png)}}},
        lambda png: {"document_url": data_url(png)},
        lambda png: {"image_url": data_url(png)},
        lambda png: {"image_base64": b64(png)},
        lambda png: {"document_base64": b64(png), "content_type": "image/png"},
    ],
    ids=[
        "document_url",
        "image_url_object",
        "flat_document_url",
        "flat_image_url",
        "image_base64",
        "document_base64",
    ],
)
def test_every_json_form_of_the_seed(client, form):
    response = client.post(URL, form(phototest_png()), format="json")

    assert_otoroshi_page(response)
    assert_cost_headers(response)


def test_a_remote_url(client, file_server):
    file_server.files["/scan.png"] = ("image/png", phototest_png())

    response = client.post(
        URL,
        {"document": {"type": "document_url", "document_url": file_server.url + "/scan.png"}},
        format="json",
    )

    assert_otoroshi_page(response)


@pytest.mark.parametrize("field", ["image", "file", "document"])
def test_multipart_in_each_field(client, field):
    upload = SimpleUploadedFile("scan.png", phototest_png(), content_type="image/png")

    response = client.post(URL, {field: upload, "model": "local/rapidocr"}, format="multipart")

    assert_otoroshi_page(response)


def test_multipart_extra_fields_pages_password_and_provider(client):
    pdf = make_pdf([["zero"], ["The secret page"], ["two"]], password="s3cret")
    upload = SimpleUploadedFile("scan.pdf", pdf, content_type="application/pdf")

    response = client.post(
        URL,
        {"file": upload, "pdf_password": "s3cret", "pages": "1", "provider": "local"},
        format="multipart",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert [p["index"] for p in body["pages"]] == [1]
    assert "The secret page" in body["text"]


def test_json_pages_and_a_wrong_password(client):
    pdf = make_pdf([["zero"], ["one"]], password="right")
    document = {"document_base64": b64(pdf), "pages": [0]}

    wrong = client.post(URL, {**document, "pdf_password": "wrong"}, format="json")
    missing = client.post(URL, document, format="json")
    right = client.post(URL, {**document, "pdf_password": "right"}, format="json")

    assert wrong.status_code == 400 and error_code(wrong) == "pdf_password_invalid"
    assert missing.status_code == 400 and error_code(missing) == "pdf_password_required"
    assert right.status_code == 200 and [p["index"] for p in right.json()["pages"]] == [0]


def test_the_seed_model_name_served_by_an_alias(client):
    alias_model("alpha-digit-max")

    response = client.post(
        URL, {"model": "alpha-digit-max", "image_base64": b64(phototest_png())}, format="json"
    )

    assert_otoroshi_page(response, model="alpha-digit-max")


def test_an_unknown_provider_is_invalid_model(client):
    response = client.post(
        URL, {"provider": "nope", "image_base64": b64(phototest_png())}, format="json"
    )

    assert response.status_code == 400
    assert error_code(response) == "invalid_model"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "missing_document"),
        ({"model": "local/rapidocr"}, "missing_document"),
        ({"image_base64": "!!!"}, "invalid_base64"),
        ({"image_base64": 7}, "invalid_base64"),
        ({"document_url": 7}, "invalid_request"),
        ({"image_url": "gopher://x"}, "invalid_url"),
        ({"document": []}, "invalid_request"),
        ({"image_base64": "AAAA", "pages": "x"}, "invalid_pages"),
        ({"image_base64": "AAAA", "pdf_password": 5}, "invalid_request"),
    ],
)
def test_bad_json_is_400(client, body, code):
    response = client.post(URL, body, format="json")

    assert response.status_code == 400, response.content
    assert error_code(response) == code


def test_multipart_without_a_file(client):
    response = client.post(URL, {"image": "text, not a file"}, format="multipart")
    empty = client.post(URL, {"model": "local/rapidocr"}, format="multipart")

    assert response.status_code == 400 and error_code(response) == "invalid_request"
    assert empty.status_code == 400 and error_code(empty) == "missing_document"


def test_the_limit_is_configurable(client, settings):
    settings.OCR_004_MAX_BYTES = 2_000

    by_length = client.post(URL, {"image_base64": b64(b"\0" * 10_000)}, format="json")
    decoded = client.post(URL, {"image_base64": b64(phototest_png())}, format="json")
    upload = client.post(
        URL, {"file": SimpleUploadedFile("a.png", phototest_png())}, format="multipart"
    )

    for response in (decoded, upload):
        assert response.status_code == 413, response.content
        assert error_code(response) == "file_too_large"
    assert by_length.status_code == 413


def test_keys_402_and_429(management_client, broke_client, org_b, limited_client):
    body = {"image_base64": b64(phototest_png())}
    for who in (client_with(None), management_client):
        response = who.post(URL, body, format="json")
        assert response.status_code == 401 and error_code(response) == "invalid_api_key"

    response = broke_client.post(URL, body, format="json")
    assert response.status_code == 402 and error_code(response) == "insufficient_credits"
    assert_not_charged(org_b)

    assert limited_client.post(URL, {}, format="json").status_code == 400
    response = limited_client.post(URL, body, format="json")
    assert response.status_code == 429 and error_code(response) == "rate_limited"
