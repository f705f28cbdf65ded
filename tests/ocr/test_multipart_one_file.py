"""Two files in one multipart field are refused, not half read.

Found by hand against a live server: a form keeps every part of a name and the dialects
took the last, so `-F image=@a.png -F image=@b.pdf` OCRed and charged the PDF's pages and
dropped the PNG without a word (seed 000's own server, a Worker's `formData.get`, would
have read the first). 003's upload and the files API stored the last one.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.models import LedgerEntry, UsageRecord
from ocr.models import OcrFile, StoredUpload
from tests.ocr.dialect_support import phototest_png

pytestmark = pytest.mark.django_db


def _code(response) -> str:
    body = response.json()
    return body["code"] if isinstance(body["error"], str) else body["error"]["code"]  # 003


def _png(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, phototest_png(), content_type="image/png")


@pytest.mark.parametrize(
    ("path", "field", "code"),
    [
        ("/api/v1/ocr/extract", "image", "invalid_image_field"),
        ("/ocr", "image", "invalid_request"),
        ("/ocr", "file", "invalid_request"),
        ("/ocr", "document", "invalid_request"),
        ("/api/upload", "file", "invalid_file"),
        ("/v1/files", "file", "invalid_request"),
    ],
)
def test_two_files_in_one_field_are_a_400_and_cost_nothing(client, funded, path, field, code):
    charges_before = LedgerEntry.objects.filter(organization=funded).count()

    response = client.post(path, {field: [_png("a.png"), _png("b.png")]}, format="multipart")

    assert response.status_code == 400
    assert _code(response) == code
    assert f"'{field}'" in response.content.decode()
    assert not UsageRecord.objects.filter(organization=funded).exists()
    assert LedgerEntry.objects.filter(organization=funded).count() == charges_before
    assert not StoredUpload.objects.exists() and not OcrFile.objects.exists()


def test_one_file_a_field_still_works(client):
    response = client.post("/api/v1/ocr/extract", {"image": _png("a.png")}, format="multipart")

    assert response.status_code == 200
