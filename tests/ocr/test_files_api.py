"""Mistral's files API: upload once, then OCR by `{type: "file", file_id}` or signed URL."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from billing.models import UsageRecord
from ocr.models import OcrFile
from tests.ocr.dialect_support import (
    assert_not_charged,
    assert_phototest_text,
    client_with,
    error_code,
    phototest_png,
)
from tests.ocr.documents import make_pdf

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(client, data=None, name="scan.png", **fields):
    file = SimpleUploadedFile(name, phototest_png() if data is None else data)
    return client.post("/v1/files", {"file": file, **fields}, format="multipart")


def signed_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_an_upload_answers_mistrals_file_object(client, funded):
    response = upload(client, purpose="ocr")

    assert response.status_code == 200, response.content
    body = response.json()
    assert uuid.UUID(body["id"])
    assert body["object"] == "file"
    assert body["bytes"] == len(phototest_png())
    assert body["filename"] == "scan.png"
    assert body["purpose"] == "ocr" and body["source"] == "upload"
    assert body["mimetype"] == "image/png"
    assert abs(body["created_at"] - time.time()) < 60
    assert body["expires_at"] is None
    stored = OcrFile.objects.get(id=body["id"])
    assert stored.organization == funded
    # Storing a file is free.
    assert not UsageRecord.objects.filter(organization=funded).exists()


def test_ocr_by_file_id_reads_the_stored_file_and_charges_once(client, funded, local_provider):
    file_id = upload(client).json()["id"]

    response = client.post(
        "/v1/ocr",
        {"model": "local/rapidocr", "document": {"type": "file", "file_id": file_id}},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert_phototest_text(response.json()["pages"][0]["markdown"])
    assert float(response["X-Cost-Usd"]) > 0
    assert (
        UsageRecord.objects.filter(organization=funded, status=UsageRecord.Status.SUCCEEDED).count()
        == 1
    )


def test_ocr_by_signed_url_reads_storage_without_a_fetch(client, funded, local_provider):
    pdf = make_pdf([["Invoice 1042 total 120.00"]])
    file_id = upload(client, pdf, name="invoice.pdf").json()["id"]
    url = client.get(f"/v1/files/{file_id}/url", {"expiry": 1}).json()["url"]
    assert url.startswith("http://testserver/files/signed/")

    response = client.post(
        "/v1/ocr",
        {"model": "local/rapidocr", "document": {"type": "document_url", "document_url": url}},
        format="json",
    )

    # testserver does not resolve: the file came from storage, not over the network.
    assert response.status_code == 200, response.content
    assert "Invoice 1042 total 120.00" in response.json()["pages"][0]["markdown"]


def test_a_signed_url_downloads_without_a_key_until_it_is_altered_or_expires(client, funded):
    data = phototest_png()
    file_id = upload(client, data).json()["id"]
    url = client.get(f"/v1/files/{file_id}/url").json()["url"]
    anonymous = client_with(None)

    response = anonymous.get(signed_path(url))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data

    tampered = url.replace("expires=", "expires=9")
    assert anonymous.get(signed_path(tampered)).status_code == 404
    other = url.replace(file_id, str(uuid.uuid4()))
    assert anonymous.get(signed_path(other)).status_code == 404
    expires = int(time.time()) - 10
    from ocr.files import _signature

    stale = f"/files/signed/{file_id}?expires={expires}&signature={_signature(file_id, expires)}"
    assert anonymous.get(stale).status_code == 404


def test_a_deleted_files_signed_url_stops_working(client, funded, local_provider):
    file_id = upload(client).json()["id"]
    url = client.get(f"/v1/files/{file_id}/url").json()["url"]

    deleted = client.delete(f"/v1/files/{file_id}")

    assert deleted.status_code == 200
    assert deleted.json() == {"id": file_id, "object": "file", "deleted": True}
    assert client_with(None).get(signed_path(url)).status_code == 404
    assert client.get(f"/v1/files/{file_id}").status_code == 404
    response = client.post(
        "/v1/ocr",
        {"model": "local/rapidocr", "document": {"type": "document_url", "document_url": url}},
        format="json",
    )
    assert response.status_code == 404 and error_code(response) == "file_not_found"
    assert_not_charged(funded)


def test_retrieve_list_download(client, funded):
    first = upload(client, name="a.png").json()
    second = upload(client, make_pdf([["x"]]), name="b.pdf").json()

    retrieved = client.get(f"/v1/files/{first['id']}").json()
    assert retrieved == {**first, "deleted": False}
    listed = client.get("/v1/files").json()
    assert listed["object"] == "list" and listed["total"] == 2
    assert [f["id"] for f in listed["data"]] == [second["id"], first["id"]]
    page = client.get("/v1/files", {"page": 1, "page_size": 1}).json()
    assert [f["id"] for f in page["data"]] == [first["id"]] and page["total"] == 2
    assert [f["id"] for f in client.get("/v1/files", {"search": "b.p"}).json()["data"]] == [
        second["id"]
    ]
    for query, count in (
        ({"sample_type": "pretrain"}, 0),
        ({"sample_type": ["pretrain", "ocr_input"]}, 2),
        ({"source": "repository"}, 0),
        ({"source": "upload"}, 2),
    ):
        assert client.get("/v1/files", query).json()["total"] == count, query
    content = client.get(f"/v1/files/{first['id']}/content")
    assert content.status_code == 200
    assert b"".join(content.streaming_content) == phototest_png()


def test_another_tenants_file_is_not_found_everywhere(client, funded, api_key_b, local_provider):
    file_id = upload(client).json()["id"]
    other = client_with(api_key_b[1])

    for path in (
        f"/v1/files/{file_id}",
        f"/v1/files/{file_id}/content",
        f"/v1/files/{file_id}/url",
    ):
        response = other.get(path)
        assert response.status_code == 404 and error_code(response) == "file_not_found", path
    assert other.delete(f"/v1/files/{file_id}").status_code == 404
    assert other.get("/v1/files").json()["data"] == []
    response = other.post(
        "/v1/ocr",
        {"model": "local/rapidocr", "document": {"type": "file", "file_id": file_id}},
        format="json",
    )
    assert response.status_code == 404 and error_code(response) == "file_not_found"
    assert OcrFile.objects.filter(id=file_id).exists()


def test_an_expired_file_is_gone(client, funded, media):
    body = upload(client, expiry=1).json()
    assert body["expires_at"] == pytest.approx(time.time() + 3600, abs=60)
    OcrFile.objects.filter(id=body["id"]).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    assert client.get(f"/v1/files/{body['id']}").status_code == 404
    assert not OcrFile.objects.filter(id=body["id"]).exists()
    assert not list((media / "files").rglob("*-*"))


@pytest.mark.parametrize(
    ("fields", "data", "status", "code"),
    [
        ({"purpose": "fine-tune"}, None, 400, "invalid_request"),
        ({"expiry": "0"}, None, 400, "invalid_request"),
        ({"expiry": "soon"}, None, 400, "invalid_request"),
        ({}, b"just some text", 415, "unsupported_media_type"),
        ({}, b"", 400, "missing_file"),
    ],
)
def test_bad_uploads(client, funded, fields, data, status, code):
    response = upload(client, data, **fields)

    assert response.status_code == status, response.content
    assert error_code(response) == code
    assert not OcrFile.objects.exists()


def test_upload_without_a_file_and_bad_ids(client, funded, local_provider):
    assert error_code(client.post("/v1/files", {"purpose": "ocr"}, format="multipart")) == (
        "missing_file"
    )
    assert error_code(client.post("/v1/files", {"file": "x"}, format="json")) == "invalid_request"
    for bad in ("not-a-uuid", "%00", str(uuid.uuid4())):
        assert client.get(f"/v1/files/{bad}").status_code == 404
    assert client.get(f"/v1/files/{uuid.uuid4()}/url", {"expiry": 500}).status_code == 404
    file_id = upload(client).json()["id"]
    assert error_code(client.get(f"/v1/files/{file_id}/url", {"expiry": 500})) == (
        "invalid_request"
    )
    assert client.get("/v1/files", {"page_size": 0}).status_code == 400
    for name in ("search", "purpose", "mimetypes"):  # NUL reached PostgreSQL: a 500
        assert client.get("/v1/files", {name: "a\x00b"}).status_code == 400, name
    for document in ({"type": "file"}, {"type": "file", "file_id": 7}):
        response = client.post("/v1/ocr", {"document": document}, format="json")
        assert response.status_code == 422, document  # Mistral's validation status


def test_the_quota_refuses_an_upload_past_it(client, funded, settings):
    settings.OCR_FILES_QUOTA_BYTES = len(phototest_png()) * 2 - 1
    assert upload(client).status_code == 200

    response = upload(client)

    assert response.status_code == 413 and error_code(response) == "storage_quota_exceeded"


def test_files_need_an_ocr_key(management_key, funded):
    assert client_with(None).get("/v1/files").status_code == 401
    assert client_with(management_key[1]).get("/v1/files").status_code == 401


def test_purge_files_deletes_expired_files_of_every_tenant(client, funded, media):
    from io import StringIO

    from django.core.management import call_command

    kept = upload(client).json()["id"]
    gone = upload(client, expiry=1).json()["id"]
    OcrFile.objects.filter(id=gone).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    out = StringIO()

    call_command("purge_files", stdout=out)

    assert "Deleted 1 expired file(s)." in out.getvalue()
    assert list(OcrFile.objects.values_list("id", flat=True)) == [uuid.UUID(kept)]
    assert [p.name for p in (media / "files").rglob("*-*")] == [kept]


def test_a_revoked_key_reaches_no_file_route(funded, media):
    from keys.services import api_key_create, api_key_revoke

    key, secret = api_key_create(organization=funded, name="soon revoked")
    client = client_with(secret)
    file_id = upload(client).json()["id"]
    api_key_revoke(key=key)

    for method, path in (
        ("get", "/v1/files"),
        ("get", f"/v1/files/{file_id}"),
        ("get", f"/v1/files/{file_id}/content"),
        ("get", f"/v1/files/{file_id}/url"),
        ("delete", f"/v1/files/{file_id}"),
    ):
        response = getattr(client, method)(path)
        assert response.status_code == 401, path
        assert error_code(response) == "invalid_api_key", path
    assert upload(client).status_code == 401
    assert OcrFile.objects.filter(id=file_id).exists()
