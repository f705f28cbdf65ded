"""Upstream faults: retries with backoff, timeouts, slow bodies, bad JSON, secrets kept."""

from __future__ import annotations

import base64
import logging
import socket
import time

import pytest

from config.api import ApiError
from ocr.intake.document import document_open
from ocr.providers import client_for
from ocr.providers.base import ProviderError
from ocr.routing import route_call
from ocr.types import DocumentSource, OcrRequest
from tests.fakes.documents import png_bytes
from tests.fakes.server import Reply

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.usefixtures("fast_retries")

FAKES = ["fake_mistral", "fake_openai", "fake_cloudflare"]


def ocr_request() -> OcrRequest:
    return OcrRequest(dialect="test", source=DocumentSource(data=b"x"), max_bytes=1 << 20)


def call(model):
    document = document_open(data=png_bytes())
    return client_for(model.provider).ocr(document, model=model, request=ocr_request())


@pytest.fixture(params=FAKES)
def fake(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("fault", ["500", "503", "429", "408", "malformed", "reset"])
def test_it_retries_transient_faults_then_succeeds(fake, provider_for, fault):
    model = provider_for(fake)
    fake.fail(fault, fault)

    result = call(model)

    assert len(fake.requests) == 3
    assert result.pages[0].markdown


def test_it_gives_up_after_its_retries(fake, provider_for):
    model = provider_for(fake)
    fake.fail_always("502")

    with pytest.raises(ProviderError) as caught:
        call(model)

    assert len(fake.requests) == 3  # one try and two retries
    assert caught.value.permanent is False
    assert caught.value.status == 502
    assert caught.value.code == "ocr_upstream_failed"


@pytest.mark.parametrize("status", ["400", "401", "404", "422"])
def test_it_never_retries_a_4xx(fake, provider_for, status):
    model = provider_for(fake)
    fake.fail(status)

    with pytest.raises(ProviderError) as caught:
        call(model)

    assert len(fake.requests) == 1
    assert caught.value.permanent is True
    assert caught.value.status == int(status)


def test_a_wrong_key_is_a_permanent_401(fake, provider_for, monkeypatch):
    model = provider_for(fake)
    monkeypatch.setenv(model.provider.secret_env, "sk-wrong")

    with pytest.raises(ProviderError) as caught:
        call(model)

    assert caught.value.status == 401
    assert len(fake.requests) == 1


def test_a_backoff_waits_between_tries(fake_openai, provider_for, settings):
    settings.OCR_PROVIDER_BACKOFF_S = 0.2
    model = provider_for(fake_openai)
    fake_openai.fail("500")

    started = time.monotonic()
    call(model)

    # Exponential backoff with jitter: the first retry waits 0.1-0.2 s.
    assert time.monotonic() - started >= 0.1


def test_a_slow_upstream_times_out_after_the_providers_timeout(fake, provider_for):
    model = provider_for(fake, timeout_s=0.3)
    fake.fail_always("timeout")

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        call(model)

    assert "timed out" in caught.value.message
    assert len(fake.requests) == 3
    # Waiting for the fake would take 3 x 5 s; slack for a loaded machine.
    assert time.monotonic() - started < 5.0


def test_a_body_that_trickles_in_hits_the_deadline(fake, provider_for):
    # Every read succeeds within the read timeout; only the overall deadline stops it.
    model = provider_for(fake, timeout_s=0.3)
    fake.fail_always("slow_body")

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        call(model)

    assert "timed out" in caught.value.message
    # The trickle would take over 10 s per try; slack for a loaded machine.
    assert time.monotonic() - started < 6.0


def test_an_unreachable_upstream_is_a_connection_failure(fake_mistral, provider_for):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = provider_for(fake_mistral)
    model.provider.base_url = f"http://127.0.0.1:{port}"
    model.provider.save()

    with pytest.raises(ProviderError) as caught:
        call(model)

    assert "could not reach" in caught.value.message
    assert caught.value.permanent is False


def test_upstream_errors_never_leak_the_secret(fake, provider_for, caplog):
    model = provider_for(fake)
    fake.fail_always("echo_auth")  # a 500 whose body repeats our Authorization header
    document = document_open(data=png_bytes())

    with caplog.at_level(logging.DEBUG), pytest.raises(ApiError) as caught:
        route_call(candidates=[model], document=document, request=ocr_request())

    assert fake.api_key in fake.requests[0].headers["authorization"]
    error = caught.value
    assert error.status == 502 and error.code == "ocr_upstream_failed"
    assert fake.api_key not in str(error.body())
    assert fake.api_key not in caplog.text
    assert "[redacted]" in caplog.text  # the body was logged, scrubbed


@pytest.mark.parametrize("dialect", ["mistral", "004", "000"])
def test_a_200_that_echoes_the_secret_never_hands_it_to_the_tenant(
    fake_mistral, provider_for, funded_org_a, api_key, client_for, settings, dialect
):
    # A debugging proxy in front of the upstream that repeats the request's headers in
    # an extra field: the Mistral dialect passes the answer on as written.
    provider_for(fake_mistral, model="mistral-ocr-latest")
    settings.OCR_DEFAULT_MODEL = "mistral-ocr-latest"
    page = {"index": 0, "markdown": f"key {fake_mistral.api_key}", "images": []}
    echo = {"request": {"headers": {"authorization": f"Bearer {fake_mistral.api_key}"}}}
    fake_mistral.answer(Reply(200, {"pages": [page], "model": "m", "usage_info": {}, **echo}))
    image = f"data:image/png;base64,{base64.b64encode(png_bytes()).decode()}"
    path, body = {
        "mistral": ("/v1/ocr", {"document": {"type": "image_url", "image_url": image}}),
        "004": ("/ocr", {"image_url": image}),
        "000": ("/api/v1/ocr/extract", {"image": image}),
    }[dialect]

    response = client_for(api_key[1]).post(
        path, {"model": "mistral-ocr-latest", **body}, format="json"
    )

    assert response.status_code == 200, response.content
    assert fake_mistral.api_key not in response.content.decode()
    assert "[redacted]" in response.content.decode()


def test_a_model_that_repeats_the_secret_never_hands_it_to_the_tenant(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="vision")
    fake_openai.replies.append(f"The request was signed with {fake_openai.api_key}.")
    image = base64.b64encode(png_bytes()).decode()

    response = client_for(api_key[1]).post(
        "/ocr", {"model": "vision", "image_base64": image}, format="json"
    )

    assert response.status_code == 200, response.content
    assert fake_openai.api_key not in response.content.decode()
