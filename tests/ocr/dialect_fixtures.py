"""Fixtures of the dialect tests, made available to tests/ocr by its conftest.py.

A funded tenant with an API key; an empty tenant for 402; a key with a one-per-minute
limit for 429; a management key; a local file server for URL sources; the seeded local
provider for live-server tests (a transactional flush empties it).
"""

from __future__ import annotations

import pytest

from billing.services import credits_add
from keys.services import api_key_create
from tests.ocr.dialect_support import client_with


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
