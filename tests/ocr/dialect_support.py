"""Shared fixtures and helpers of the dialect tests (imported by name into each module).

Real corpus documents through the real engine; a funded tenant with an API key; an
empty tenant for 402; a key with a tiny rate limit for 429.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image
from rest_framework.test import APIClient

from billing.models import UsageRecord
from billing.services import credits_add
from keys.services import api_key_create
from tests.ocr.conftest import cer

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


@pytest.fixture
def funded(org_a):
    credits_add(organization=org_a, amount_micros=5_000_000, idempotency_key="dialects-fund-a")
    return org_a


@pytest.fixture
def secret(funded):
    return api_key_create(organization=funded, name="dialects")[1]


@pytest.fixture
def client(secret):
    return client_with(secret)


@pytest.fixture
def broke_client(org_b):
    """A key of a tenant with no credits at all (402)."""
    return client_with(api_key_create(organization=org_b, name="broke")[1])


@pytest.fixture
def limited_client(funded):
    """A key allowed one request per minute (the second is 429)."""
    return client_with(api_key_create(organization=funded, name="slow", rate_limit_rpm=1)[1])


@pytest.fixture
def management_client(org_a):
    return client_with(api_key_create(organization=org_a, kind="management", name="mgmt")[1])


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


class _Files:
    """Files served over HTTP on 127.0.0.1: `files[path] = (content_type, bytes)`."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        files: dict[str, tuple[str, bytes]] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                found = files.get(self.path)
                if found is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", found[0])
                self.send_header("Content-Length", str(len(found[1])))
                self.end_headers()
                self.wfile.write(found[1])

            def log_message(self, *args) -> None:
                pass

        self.files = files
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def file_server(settings):
    """A local file server; the URL fetcher is allowed to reach 127.0.0.1 for it."""
    settings.FETCH_ALLOW_PRIVATE = True
    server = _Files()
    yield server
    server.close()


@pytest.fixture
def local_provider(db):
    """The seeded local provider and fee policy (a transactional test flushes them)."""
    from billing.models import FeePolicy
    from ocr.models import Provider, ProviderModel

    provider, _ = Provider.objects.get_or_create(
        slug="local", defaults={"kind": "local", "priority": 1000, "timeout_s": 120}
    )
    for name, price in (("local/rapidocr", 1000), ("local/tesseract", 500)):
        ProviderModel.objects.get_or_create(
            provider=provider, name=name, defaults={"per_page_micros": price}
        )
    if not FeePolicy.objects.filter(organization__isnull=True).exists():
        FeePolicy.objects.create(organization=None, percent_bp=550, fixed_micros=0)
    return provider


def alias_model(name: str, *, slug: str = "aliases", upstream: str = "local/rapidocr"):
    """A model name a seed uses (e.g. 'alpha-digit-max'), served by the local engine."""
    from ocr.models import Provider, ProviderModel

    provider, _ = Provider.objects.get_or_create(
        slug=slug, defaults={"kind": "local", "priority": 500, "timeout_s": 120}
    )
    return ProviderModel.objects.get_or_create(
        provider=provider, name=name, defaults={"upstream_model": upstream, "per_page_micros": 1000}
    )[0]
