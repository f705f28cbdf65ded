"""Pytest fixtures for the upstream fakes. A test module loads them with

    pytest_plugins = ["tests.fakes.fixtures"]

`provider_for(fake, ...)` configures a `Provider` (with a unique slug, so cool-down
state in a shared cache never leaks between tests) and one model pointing at the fake,
and sets the secret variable to the fake's key.
"""

from __future__ import annotations

import uuid

import pytest

from ocr.models import Provider, ProviderModel
from ocr.providers.health import provider_health_reset
from tests.fakes.cloudflare import FakeCloudflare
from tests.fakes.mistral import FakeMistral
from tests.fakes.openai import FakeOpenAI

KINDS = {FakeMistral: "mistral", FakeOpenAI: "openai_compatible", FakeCloudflare: "cloudflare"}


@pytest.fixture
def fake_mistral():
    with FakeMistral() as fake:
        yield fake


@pytest.fixture
def fake_openai():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_openrouter():
    with FakeOpenAI(report_cost=True) as fake:
        yield fake


@pytest.fixture
def fake_cloudflare():
    with FakeCloudflare() as fake:
        yield fake


@pytest.fixture
def fast_retries(settings):
    settings.OCR_PROVIDER_RETRIES = 2
    settings.OCR_PROVIDER_BACKOFF_S = 0.01
    settings.OCR_PROVIDER_FAILURE_THRESHOLD = 3
    settings.OCR_PROVIDER_FAILURE_WINDOW_S = 60
    settings.OCR_PROVIDER_COOLDOWN_S = 30
    return settings


@pytest.fixture
def provider_for(db, monkeypatch):
    created: list[str] = []

    def make(
        fake,
        *,
        model: str = "fake-model",
        upstream_model: str | None = None,
        priority: int = 10,
        timeout_s: float = 5.0,
        prices: dict[str, int] | None = None,
        with_secret: bool = True,
    ) -> ProviderModel:
        kind = KINDS[type(fake)]
        slug = f"{kind.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
        secret_env = f"FAKE_{slug.replace('-', '_').upper()}_KEY"
        if with_secret:
            monkeypatch.setenv(secret_env, fake.api_key)
        provider = Provider.objects.create(
            slug=slug,
            kind=kind,
            name=f"fake {kind}",
            base_url=fake.base_url,
            account_id=getattr(fake, "account_id", ""),
            secret_env=secret_env,
            timeout_s=timeout_s,
            priority=priority,
        )
        created.append(slug)
        default_upstream = {
            "mistral": "mistral-ocr-latest",
            "openai_compatible": "gpt-4o-mini",
            "cloudflare": "",
        }[kind]
        return ProviderModel.objects.create(
            provider=provider,
            name=model,
            upstream_model=default_upstream if upstream_model is None else upstream_model,
            **(prices or {}),
        )

    yield make
    for slug in created:
        provider_health_reset(slug=slug)
