"""Seed 003: `POST /api/upload` then `POST /api/ocr/process` `{key}` with X-API-Key."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from keys.services import api_key_create
from ocr.engine import engine_run
from ocr.intake.document import document_open
from ocr.models import StoredUpload
from tests.ocr.dialect_support import (
    assert_cost_headers,
    assert_not_charged,
    assert_phototest_text,
    client_with,
    phototest_png,
    phototest_reference,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def x_client(secret):
    """The seed's header: X-API-Key."""
    return client_with(secret, header="x-api-key")


def ocr_markdown(data: bytes) -> str:
    return engine_run(document_open(data=data)).text


def upload(client, name="scan.png", data=None):
    file = SimpleUploadedFile(name, phototest_png() if data is None else data)
    return client.post("/api/upload", {"file": file}, format="multipart")


def test_upload_then_process(x_client, funded):
    uploaded = upload(x_client)

    assert uploaded.status_code == 200, uploaded.content
    info = uploaded.json()
    assert info["key"] == f"ocr/{funded.public_id}/scan.png"
    assert info["size"] == len(phototest_png())
    assert info["contentType"] == "image/png"
    assert info["fileUrl"].endswith("/api/files/" + info["key"])

    response = x_client.post("/api/ocr/process", {"key": info["key"]}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "id",
        "text",
        "key",
        "fileUrl",
        "createdAt",
        "wordCount",
        "tokensUsed",
        "language",
    }
    assert body["key"] == info["key"] and body["fileUrl"] == info["fileUrl"]
    assert_phototest_text(body["text"])
    assert body["wordCount"] == len(phototest_reference().split())
    assert body["tokensUsed"] > 0
    assert body["language"] == "en"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["createdAt"])  # the seed's form
    assert dt.datetime.fromisoformat(body["createdAt"].replace("Z", "+00:00")).tzinfo
    assert body["id"] == response["X-Request-Id"]
    assert_cost_headers(response)


def test_the_text_is_plain_and_its_words_are_counted(x_client, funded, corpus):
    # A receipt: the engine's Markdown has a heading and table rows for it.
    receipt = (corpus / "sroie" / "002.jpg").read_bytes()
    key = upload(x_client, name="receipt.jpg", data=receipt).json()["key"]

    body = x_client.post("/api/ocr/process", {"key": key}, format="json").json()

    markdown = ocr_markdown(receipt)
    assert "|" in markdown and "#" in markdown  # what the page reads as
    assert "|" not in body["text"] and not re.search(r"^#", body["text"], re.M)
    assert "---" not in body["text"]
    assert body["wordCount"] == len(body["text"].split()) > 20


def test_the_file_url_needs_a_key_of_the_same_tenant(x_client, api_key_b):
    info = upload(x_client).json()
    path = info["fileUrl"].split("testserver", 1)[1]

    mine = x_client.get(path)
    anonymous = client_with(None).get(path)
    other = client_with(api_key_b[1]).get(path)

    assert mine.status_code == 200
    assert b"".join(mine.streaming_content) == phototest_png()
    assert anonymous.status_code == 401
    assert other.status_code == 404 and other.json() == {
        "error": "File not found",
        "code": "file_not_found",
    }


def test_a_second_upload_with_the_same_name_gets_its_own_key(x_client):
    first = upload(x_client).json()["key"]
    second = upload(x_client).json()["key"]

    assert first != second
    assert StoredUpload.objects.filter(key__in=[first, second]).count() == 2


def test_a_hostile_filename_stays_inside_the_tenant_folder(x_client, funded):
    key = upload(x_client, name="../../etc/pass wd.png").json()["key"]

    assert key.startswith(f"ocr/{funded.public_id}/")
    assert ".." not in key


@pytest.mark.parametrize(
    "name", ["ünïcødé 文件.png", "文件.png", "  ", "%2e%2e%2f.png", ".htaccess", "a\x00b.png"]
)
def test_any_file_name_gives_a_key_that_can_be_fetched(x_client, name):
    """The key is made of what a key may hold, whatever the client named its file."""
    response = upload(x_client, name=name)
    assert response.status_code == 200, response.content
    key = response.json()["key"]

    fetched = x_client.get(f"/api/files/{key}")

    assert fetched.status_code == 200
    assert b"".join(fetched.streaming_content) == phototest_png()


@pytest.mark.parametrize(
    ("name", "ending"),
    [
        ("счёт.png", ("upload", ".png")),
        ("文件.PNG", ("upload", ".PNG")),
        ("reçu 1.png", ("recu_1", ".png")),
    ],
)
def test_a_name_with_no_ascii_stem_keeps_its_extension(x_client, name, ending):
    """The storage may add a suffix to a taken name; the stem and extension stay."""
    stored = upload(x_client, name=name).json()["key"].rsplit("/", 1)[-1]

    assert stored.startswith(ending[0]) and stored.endswith(ending[1])


def test_another_tenants_key_is_file_not_found(x_client, api_key_b):
    key = upload(x_client).json()["key"]

    response = client_with(api_key_b[1], header="x-api-key").post(
        "/api/ocr/process", {"key": key}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["error"] == "File not found"


@pytest.mark.parametrize(
    ("key", "status", "message"),
    [
        ("not-a-key", 400, "Invalid file key format"),
        ("ocr/../../etc/passwd", 400, "Invalid file key format"),
        ("ocr/user/", 400, "Invalid file key format"),
        (["ocr/a/b.png"], 400, "Invalid file key format"),
        (5, 400, "Invalid file key format"),
        ({"key": "ocr/a/b.png"}, 400, "Invalid file key format"),
        ("", 400, "File key is required"),
        (None, 400, "File key is required"),
        ("ocr/org_nothere/missing.png", 404, "File not found"),
    ],
)
def test_bad_keys(x_client, key, status, message):
    response = x_client.post("/api/ocr/process", {"key": key}, format="json")

    assert response.status_code == status
    assert response.json()["error"] == message


def test_errors_use_the_seed_envelope(x_client, management_key):
    not_json = x_client.generic(
        "POST", "/api/ocr/process", b"{oops", content_type="application/json"
    )
    no_key = client_with(None).post("/api/ocr/process", {"key": "ocr/a/b.png"}, format="json")
    management = client_with(management_key[1], header="x-api-key").post(
        "/api/ocr/process", {"key": "ocr/a/b.png"}, format="json"
    )

    assert not_json.status_code == 400 and isinstance(not_json.json()["error"], str)
    for response in (no_key, management):
        assert response.status_code == 401
        assert isinstance(response.json()["error"], str)
        assert response.json()["code"] == "invalid_api_key"


def test_upload_errors(x_client):
    missing = x_client.post("/api/upload", {"other": "x"}, format="multipart")
    as_text = x_client.post("/api/upload", {"file": "text"}, format="multipart")
    as_json = x_client.post("/api/upload", {"file": "x"}, format="json")
    too_big = upload(x_client, data=b"\0" * (20 * 1024 * 1024 + 1))

    assert missing.status_code == 400 and missing.json()["error"] == "No file provided"
    assert as_text.status_code == 400
    assert as_json.status_code == 400
    assert too_big.status_code == 413 and isinstance(too_big.json()["error"], str)


def test_process_402_and_429(x_client, org_b, funded):
    broke_secret = api_key_create(organization=org_b, name="broke")[1]
    broke = client_with(broke_secret, header="x-api-key")
    key = upload(broke).json()["key"]

    response = broke.post("/api/ocr/process", {"key": key}, format="json")

    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_credits"
    assert isinstance(response.json()["error"], str)
    assert_not_charged(org_b)

    slow = client_with(
        api_key_create(organization=funded, name="slow", rate_limit_rpm=1)[1], header="x-api-key"
    )
    slow.post("/api/ocr/process", {"key": "bad"}, format="json")
    limited = slow.post("/api/ocr/process", {"key": "bad"}, format="json")
    assert limited.status_code == 429
    assert limited.json() == {"error": limited.json()["error"], "code": "rate_limited"}
    assert "Retry-After" in limited


def test_a_file_that_is_no_document_is_refused_at_upload(x_client):
    response = upload(x_client, name="notes.txt", data=b"just some notes")

    assert response.status_code == 415
    assert response.json()["error"] == "Unsupported file type"


def test_the_schema_documents_the_upload_refusals(x_client):
    # Schemathesis flagged the 415 above as an undocumented status code.
    schema = x_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    responses = schema["paths"]["/api/upload"]["post"]["responses"]
    assert {"200", "400", "401", "413", "415", "429"} <= set(responses)


def test_on_object_storage_file_urls_are_the_storages_presigned_urls(x_client, settings, media):
    # Any storage whose url() signs links stands in for S3 here: the view must hand out
    # the storage's URL and redirect downloads to it, never stream the file itself.
    settings.AWS_STORAGE_BUCKET_NAME = "uploads"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media), "base_url": "https://s3.test/uploads/"},
        },
    }
    info = upload(x_client).json()

    download = x_client.get(f"/api/files/{info['key']}")

    assert info["fileUrl"] == f"https://s3.test/uploads/{info['key']}"
    assert download.status_code == 302
    assert download["Location"] == info["fileUrl"]


def test_a_blank_page_reports_a_language_and_a_json_body_needs_no_json_header(x_client):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (200, 120), 255).save(buffer, format="PNG")
    key = upload(x_client, name="blank.png", data=buffer.getvalue()).json()["key"]

    # The seed's server reads the body as JSON whatever its Content-Type says.
    response = x_client.generic(
        "POST", "/api/ocr/process", json.dumps({"key": key}).encode(), content_type="text/plain"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["text"] == "" and body["wordCount"] == 0
    assert body["language"] == "en"  # a string, as the seed types it, even with no text


def test_upload_answers_carry_the_ocr_headers(x_client, funded):
    uploaded = upload(x_client)
    refused = x_client.post("/api/upload", {"other": "x"}, format="multipart")
    not_multipart = x_client.post("/api/upload", {"file": "x"}, format="json")

    assert (refused.status_code, not_multipart.status_code) == (400, 400)
    for response in (uploaded, refused, not_multipart):
        assert response["X-Request-Id"]
        assert response["X-Cost-Usd"] == "0.000000"
        assert response["X-Credits-Remaining-Usd"]
        # Refusals too, as every OCR answer (DESIGN §6).
        assert "RateLimit" in response and "RateLimit-Policy" in response
        assert "X-RateLimit-Remaining" in response
    assert uploaded["X-Request-Id"] != refused["X-Request-Id"]
