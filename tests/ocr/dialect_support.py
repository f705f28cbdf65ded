"""Helpers of the dialect tests: corpus documents, encodings, clients and assertions.

The fixtures are in `dialect_fixtures.py` (offered to tests/ocr by its conftest.py).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image
from rest_framework.test import APIClient

from billing.models import LedgerEntry, Reservation, UsageRecord
from billing.selectors import credits_available_micros
from tests.ocr.documents import cer

CORPUS = Path(__file__).resolve().parent.parent.parent.parent / "shared" / "corpus"
PHOTOTEST_TXT = CORPUS / "tesseract" / "phototest.txt"


def corpus_path(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus file not found: {path}")
    return path


def phototest_png() -> bytes:
    """The phototest page (640x480) as PNG: small, and accuracy is measurable."""
    image = Image.open(corpus_path("tesseract", "phototest.tif"))
    buffer = io.BytesIO()
    image.convert("L").save(buffer, format="PNG")
    return buffer.getvalue()


def phototest_reference() -> str:
    return corpus_path("tesseract", "phototest.txt").read_text()


def assert_phototest_text(text: str) -> None:
    """The returned text is the ground truth: CER ≤ 1% (Markdown marks removed)."""
    from ocr.dialects.common import strip_markdown

    assert cer(strip_markdown(text), phototest_reference()) <= 0.01, text


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{b64(data)}"


def client_with(secret: str | None, *, header: str = "bearer") -> APIClient:
    client = APIClient()
    if secret and header == "bearer":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    elif secret:
        client.credentials(HTTP_X_API_KEY=secret)
    return client


def assert_cost_headers(response) -> None:
    assert response["X-Request-Id"].startswith("req_")
    assert float(response["X-Cost-Usd"]) > 0
    assert "X-Credits-Remaining-Usd" in response
    assert "RateLimit-Policy" in response and "RateLimit" in response
    assert "X-RateLimit-Limit" in response


def assert_not_charged(organization) -> None:
    """402 means the provider never ran: no successful usage, no charge."""
    assert not UsageRecord.objects.filter(
        organization=organization, status=UsageRecord.Status.SUCCEEDED
    ).exists()


def error_code(response) -> str:
    return response.json()["error"]["code"]


def alias_model(name: str, *, slug: str = "aliases", upstream: str = "local/rapidocr"):
    """A model name a seed uses (e.g. 'alpha-digit-max'), served by the local engine."""
    from ocr.models import Provider, ProviderModel

    provider, _ = Provider.objects.get_or_create(
        slug=slug, defaults={"kind": "local", "priority": 500, "timeout_s": 120}
    )
    return ProviderModel.objects.get_or_create(
        provider=provider, name=name, defaults={"upstream_model": upstream, "per_page_micros": 1000}
    )[0]


def nothing_charged_or_held(organization, before: int) -> None:
    """A failed call: the tenant's available credit as `before`, no charge, no hold left."""
    assert credits_available_micros(organization=organization) == before
    assert not LedgerEntry.objects.filter(kind="charge").exists()
    assert not Reservation.objects.filter(status="active").exists()
