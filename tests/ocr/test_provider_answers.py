"""Upstream answers that are broken in ways a retry or a status cannot tell: NaN in the
JSON, negative token counts, objects of the wrong shape, pages never sent, bodies cut
short, bad gzip, redirects, headers that trickle in. Each costs the tenant nothing (or
is charged as what it really was), leaves no hold behind, and never answers 500.
"""

from __future__ import annotations

import json
import logging
import time

import pytest

from billing.models import Reservation, UsageRecord
from billing.selectors import credits_available_micros
from ocr.intake.document import document_open
from ocr.providers import client_for as provider_client
from ocr.providers.base import ProviderError
from ocr.types import DocumentSource, OcrRequest
from tests.fakes.documents import png_bytes
from tests.fakes.server import Reply
from tests.ocr.dialect_support import b64, nothing_charged_or_held

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.usefixtures("fast_retries")

FAKES = ["fake_mistral", "fake_openai", "fake_cloudflare"]


@pytest.fixture(params=FAKES)
def fake(request):
    return request.getfixturevalue(request.param)


def call(model):
    document = document_open(data=png_bytes())
    request = OcrRequest(dialect="test", source=DocumentSource(data=b"x"), max_bytes=1 << 20)
    return provider_client(model.provider).ocr(document, model=model, request=request)


@pytest.mark.parametrize("fault", ["bad_gzip", "short_body"])
def test_an_undecodable_or_cut_body_is_retried(fake, provider_for, fault):
    model = provider_for(fake)
    fake.fail(fault, fault)

    result = call(model)

    assert len(fake.requests) == 3  # two broken answers, then a good one
    assert result.pages[0].markdown


WRONG_SHAPES = {
    "fake_mistral": {"pages": "none", "model": "m", "usage_info": {}},
    "fake_openai": {"choices": "none"},
    "fake_cloudflare": {"result": "none", "success": True, "errors": [], "messages": []},
}


@pytest.mark.parametrize("name", FAKES)
def test_an_answer_of_the_wrong_shape_is_retried_like_any_broken_answer(
    request, provider_for, name
):
    fake = request.getfixturevalue(name)
    model = provider_for(fake)
    fake.answer(Reply(200, WRONG_SHAPES[name]))

    result = call(model)

    assert len(fake.requests) == 2  # the broken answer, then a good one
    assert result.pages[0].markdown


def test_an_error_reported_inside_a_200_is_retried(fake_openai, provider_for):
    model = provider_for(fake_openai)
    fake_openai.answer(Reply(200, {"error": {"code": 502, "message": "Provider returned error"}}))

    result = call(model)

    assert len(fake_openai.requests) == 2
    assert result.pages[0].markdown


def test_a_redirect_is_a_failure_not_an_answer(fake, provider_for):
    model = provider_for(fake)
    fake.fail_always("redirect")

    with pytest.raises(ProviderError) as caught:
        call(model)

    assert caught.value.status == 302
    assert len(fake.requests) == 1  # not followed, not retried


def test_headers_that_trickle_in_hit_the_deadline(fake, provider_for):
    # Each header byte comes well within the read timeout: only the deadline stops it.
    model = provider_for(fake, timeout_s=0.3)
    fake.fail_always("slow_headers")

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        call(model)

    assert "timed out" in caught.value.message
    # The headers alone take 25 s a try; 3 tries of at most 0.6 s, slack for a busy host.
    assert time.monotonic() - started < 6.0


def test_nan_in_a_mistral_answer_is_not_json_and_costs_nothing(
    fake_mistral, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_mistral, model="mistral-ocr-latest", prices={"per_page_micros": 2000})
    page = (
        b'{"pages": [{"index": 0, "markdown": "hi", "images": [], "dimensions": '
        b'{"dpi": 72, "height": 10, "width": 10}, "confidence_scores": '
        b'{"average_page_confidence_score": NaN}}], "model": "m", "usage_info": {}}'
    )
    fake_mistral.answer(*[Reply(200, page)] * 3)
    before = credits_available_micros(organization=funded_org_a)

    response = client_for(api_key[1]).post(
        "/v1/ocr",
        {
            "model": "mistral-ocr-latest",
            "document": {
                "type": "image_url",
                "image_url": f"data:image/png;base64,{b64(png_bytes())}",
            },
        },
        format="json",
    )

    assert response.status_code == 502, response.content
    assert response.json()["error"]["code"] == "ocr_upstream_failed"
    nothing_charged_or_held(funded_org_a, before)


def test_negative_token_counts_are_not_a_credit_nor_a_crash(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(
        fake_openai,
        model="vision",
        prices={"per_page_micros": 1000, "input_per_mtok_micros": 1_000_000},
    )
    answer = {
        "choices": [{"message": {"role": "assistant", "content": "hello"}}],
        "usage": {"prompt_tokens": -1_000_000, "completion_tokens": -5},
    }
    fake_openai.answer(Reply(200, answer))

    response = client_for(api_key[1]).post(
        "/ocr", {"model": "vision", "image_base64": b64(png_bytes())}, format="json"
    )

    assert response.status_code == 200, response.content
    usage = UsageRecord.objects.get(request_id=response["X-Request-Id"])
    # Not a refund, and not free either: counts below one are estimated (chat_usage.py).
    assert usage.input_tokens > 255 and usage.output_tokens == 2  # "hello": 5 chars
    assert usage.provider_cost_micros == 1000 + usage.input_tokens
    assert not Reservation.objects.filter(status="active").exists()


@pytest.mark.parametrize(
    "answer",
    [
        {"choices": [{"message": "hello"}]},
        {"choices": [{"message": {"content": "hi"}}], "usage": [1]},
        {"choices": "none"},
    ],
)
def test_an_answer_of_the_wrong_shape_is_a_clean_502(
    fake_openai, provider_for, funded_org_a, api_key, client_for, answer, caplog
):
    provider_for(fake_openai, model="vision")
    fake_openai.answer(*[Reply(200, answer)] * 3)
    before = credits_available_micros(organization=funded_org_a)

    with caplog.at_level(logging.ERROR):
        response = client_for(api_key[1]).post(
            "/ocr", {"model": "vision", "image_base64": b64(png_bytes())}, format="json"
        )

    assert response.status_code == 502, response.content
    assert "unexpected shape" in response.json()["error"]["message"]
    assert not [r for r in caplog.records if r.exc_info]  # no traceback logged
    nothing_charged_or_held(funded_org_a, before)


@pytest.mark.parametrize(
    "answer",
    [
        # OpenRouter: the provider failed after generation started; HTTP status 200.
        {"error": {"code": 502, "message": "Provider returned error", "metadata": {}}},
        {
            "choices": [
                {
                    "message": {"role": "assistant", "content": "# Half a pa"},
                    "finish_reason": "error",
                    "error": {"code": 502, "message": "upstream connection reset"},
                }
            ],
            "usage": {"prompt_tokens": 900, "completion_tokens": 5, "cost": 0.0002},
        },
    ],
)
def test_an_error_reported_inside_a_200_is_a_failed_call_not_a_page(
    fake_openai, provider_for, funded_org_a, api_key, client_for, answer
):
    provider_for(fake_openai, model="vision", prices={"per_page_micros": 1000})
    fake_openai.answer(*[Reply(200, answer)] * 3)
    before = credits_available_micros(organization=funded_org_a)

    response = client_for(api_key[1]).post(
        "/ocr", {"model": "vision", "image_base64": b64(png_bytes())}, format="json"
    )

    assert response.status_code == 502, response.content
    assert "reported an error" in response.json()["error"]["message"]
    nothing_charged_or_held(funded_org_a, before)


def test_a_page_that_was_never_sent_is_a_broken_answer(
    fake_mistral, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_mistral, model="mistral-ocr-latest")
    page = {"index": 99, "markdown": "hi", "images": [], "dimensions": None}
    fake_mistral.answer(*[Reply(200, {"pages": [page], "model": "m", "usage_info": {}})] * 3)
    before = credits_available_micros(organization=funded_org_a)

    response = client_for(api_key[1]).post(
        "/ocr", {"model": "mistral-ocr-latest", "image_base64": b64(png_bytes())}, format="json"
    )

    assert response.status_code == 502, response.content
    nothing_charged_or_held(funded_org_a, before)


def test_an_invoice_whose_extraction_fails_costs_nothing_at_all(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    """The parse succeeded and the extraction failed: the client gets a 502 and pays for
    neither (the parse used to be charged)."""
    provider_for(fake_openai, model="vision", prices={"per_page_micros": 1000})
    fake_openai.replies.append("ACME GmbH\n\nInvoice INV-7\n\nTotal 23.80 EUR")
    fake_openai.fail(None, "500", "500", "500")  # the parse passes, the extraction fails
    before = credits_available_micros(organization=funded_org_a)

    response = client_for(api_key[1]).post(
        "/api/ocr-structured-v4",
        {"imageBase64": b64(png_bytes()), "mimeType": "image/png", "model": "vision"},
        format="json",
    )

    assert response.status_code == 502, response.content
    assert response["X-Cost-Usd"] == "0.000000"
    nothing_charged_or_held(funded_org_a, before)
    statuses = set(UsageRecord.objects.values_list("status", flat=True))
    assert statuses == {"failed"}


def test_an_invoice_extraction_of_the_wrong_shape_is_a_502(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="vision")
    before = credits_available_micros(organization=funded_org_a)
    # The parse answers normally, then every extraction answer nests too deeply.
    deep = "[" * 100_000 + "]" * 100_000
    fake_openai.replies.extend(["ACME GmbH\n\nInvoice INV-7", deep, deep])

    response = client_for(api_key[1]).post(
        "/api/ocr-structured-v4",
        {"imageBase64": b64(png_bytes()), "mimeType": "image/png", "model": "vision"},
        format="json",
    )

    assert response.status_code == 502, response.content
    nothing_charged_or_held(funded_org_a, before)
    assert json.loads(response.content)["error"]["code"] in (
        "ocr_extraction_error",
        "ocr_upstream_failed",
    )
