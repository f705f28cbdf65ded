"""The files quota under real concurrency: uploads of one tenant at the same instant,
each thread on its own PostgreSQL connection, never store more than the quota."""

from __future__ import annotations

import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections

from accounts.services import tenant_create
from config.api import ApiError
from keys.services import api_key_create
from ocr.files import file_create
from ocr.models import OcrFile
from tests.billing.helpers import SEEDED_TRANSACTIONS
from tests.ocr.dialect_support import phototest_png

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): concurrent connections are the point of it",
)

THREADS = 8


@SEEDED_TRANSACTIONS
def test_uploads_at_the_same_instant_stay_inside_the_quota(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    data = phototest_png()
    settings.OCR_FILES_QUOTA_BYTES = len(data) * 3  # room for exactly three
    organization = tenant_create(slug="quota-race", owner_email="q@race.test", password=None)
    key, _ = api_key_create(organization=organization, name="uploads")
    barrier = threading.Barrier(THREADS)
    results: list = []

    def one(n: int) -> None:
        try:
            barrier.wait()
            upload = SimpleUploadedFile(f"scan-{n}.png", data, content_type="image/png")
            results.append(file_create(api_key=key, upload=upload))
        except ApiError as error:
            results.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    stored = [r for r in results if isinstance(r, OcrFile)]
    refused = [r for r in results if isinstance(r, ApiError)]
    assert len(stored) == 3 and len(refused) == THREADS - 3, results
    assert {error.code for error in refused} == {"storage_quota_exceeded"}
    assert OcrFile.objects.filter(organization=organization).count() == 3
    on_disk = [p for p in (tmp_path / "media" / "files").rglob("*") if p.is_file()]
    assert len(on_disk) == 3
