"""How an OpenAI-compatible upstream's answers are read and priced, through the API:
answers cut off at the output limit or filtered, reasoning tokens, OpenRouter's BYOK
cost, and reasoning models that refuse `temperature`. The upstream is the fake server
speaking the real protocol (tests/fakes/openai.py).
"""

from __future__ import annotations

import base64
import json
import logging
from decimal import Decimal

import pytest

from billing.models import LedgerEntry, Reservation, UsageRecord
from billing.money import usd_to_micros
from billing.selectors import credits_available_micros
from ocr.providers.health import provider_health_get
from tests.fakes.documents import pdf_bytes, png_bytes
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import Reply
from tests.ocr.conftest import make_pdf

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.usefixtures("fast_retries")

# 1 USD per 1M input tokens, 10 USD per 1M output tokens: 1 and 10 micro-dollars a token.
PRICES = {"input_per_mtok_micros": 1_000_000, "output_per_mtok_micros": 10_000_000}
INVOICE_URL = "/api/ocr-structured-v4"
INVOICE_TEXT = ["ACME GmbH", "Invoice INV-7", "Date 2024-03-01", "Total 23.80 EUR"]
INVOICE_JSON = json.dumps(
    {
        "vendor": {"name": "ACME GmbH", "address": None, "tax_id": None},
        "invoice_number": "INV-7",
        "invoice_date": "2024-03-01",
        "due_date": None,
        "currency": "EUR",
        "subtotal": None,
        "tax": None,
        "total": "23.80",
        "line_items": [],
        "bill_to": None,
    }
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def post_image(client_for, api_key, model: str = "vision"):
    return client_for(api_key[1]).post(
        "/ocr", {"model": model, "image_base64": b64(png_bytes())}, format="json"
    )


def post_invoice(client_for, api_key, model: str):
    return client_for(api_key[1]).post(
        INVOICE_URL, {"pdfBase64": b64(make_pdf([INVOICE_TEXT])), "model": model}, format="json"
    )


def nothing_charged_or_held(organization, before: int) -> None:
    assert credits_available_micros(organization=organization) == before
    assert not LedgerEntry.objects.filter(kind="charge").exists()
    assert not Reservation.objects.filter(status="active").exists()


def charged(organization, before: int) -> int:
    """The one charge's amount, checked against the balance it moved."""
    (entry,) = LedgerEntry.objects.filter(kind="charge")
    assert credits_available_micros(organization=organization) == before + entry.amount_micros
    return -entry.amount_micros


def token_cost(prompt: int, output: int) -> int:
    return prompt * 1 + output * 10


# --- 1. answers cut off at the output limit, or filtered -------------------------------


@pytest.mark.parametrize(
    ("cut", "words"),
    [("length", "cut off at its output token limit"), ("content_filter", "content filter")],
)
def test_an_answer_cut_off_or_filtered_is_a_failed_call_that_costs_nothing(
    fake_openai, provider_for, funded_org_a, api_key, client_for, caplog, cut, words
):
    model = provider_for(fake_openai, model="vision", prices={**PRICES, "per_page_micros": 1000})
    if cut == "length":
        fake_openai.output_limit = 4  # a dozen characters of the page
    else:
        fake_openai.content_filter = True
    before = credits_available_micros(organization=funded_org_a)

    with caplog.at_level(logging.WARNING):
        response = post_image(client_for, api_key)

    assert response.status_code == 502, response.content
    error = response.json()["error"]
    assert error["code"] == "ocr_upstream_failed"
    assert words in error["message"] and f"finish_reason: {cut}" in error["message"]
    assert len(fake_openai.requests) == 1  # the same page stops at the same place: no retry
    nothing_charged_or_held(funded_org_a, before)
    usage = UsageRecord.objects.get()
    assert (usage.status, usage.error_code, usage.http_status, usage.total_micros) == (
        "failed",
        "ocr_upstream_failed",
        502,
        0,
    )
    assert any(words in record.getMessage() for record in caplog.records)
    slug = model.provider.slug
    assert provider_health_get(slugs=[slug])[slug] == (False, 0)  # not the provider's fault


def test_truncated_pages_never_put_the_provider_in_cool_down(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="vision", prices=PRICES)
    fake_openai.output_limit = 4

    for _ in range(4):  # more than OCR_PROVIDER_FAILURE_THRESHOLD (3)
        assert post_image(client_for, api_key).status_code == 502
    fake_openai.output_limit = None

    assert post_image(client_for, api_key).status_code == 200  # still served, not skipped


def test_one_truncated_page_fails_the_whole_document(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="vision", prices={**PRICES, "per_page_micros": 1000})
    fake_openai.output_limit = 50  # 200 characters: a dense page does not fit
    fake_openai.replies.extend(["# Page", "x" * 1000, "# Page"])
    before = credits_available_micros(organization=funded_org_a)

    response = client_for(api_key[1]).post(
        "/ocr", {"model": "vision", "document_base64": b64(pdf_bytes(3))}, format="json"
    )

    assert response.status_code == 502, response.content
    assert "finish_reason: length" in response.json()["error"]["message"]
    nothing_charged_or_held(funded_org_a, before)


def test_a_truncated_page_fails_over_to_the_next_provider_of_the_model(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    with FakeOpenAI() as roomy:
        provider_for(fake_openai, model="vision", priority=1, prices=PRICES)
        second = provider_for(roomy, model="vision", priority=2, prices=PRICES)
        fake_openai.output_limit = 4
        before = credits_available_micros(organization=funded_org_a)

        response = post_image(client_for, api_key)

        assert response.status_code == 200, response.content
        (usage,) = roomy.usages
    record = UsageRecord.objects.get()
    assert record.provider == second.provider.slug
    assert record.provider_cost_micros == token_cost(
        usage["prompt_tokens"], usage["completion_tokens"]
    )
    assert charged(funded_org_a, before) == record.total_micros


def test_a_truncated_invoice_extraction_is_a_502_and_nothing_is_charged(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="extractor", prices=PRICES)
    fake_openai.replies.append(INVOICE_JSON)
    fake_openai.output_limit = 20  # the JSON stops half-way
    before = credits_available_micros(organization=funded_org_a)

    response = post_invoice(client_for, api_key, "extractor")

    assert response.status_code == 502, response.content
    assert "finish_reason: length" in response.content.decode()
    assert len(fake_openai.requests) == 1  # not parsed, not asked for again
    nothing_charged_or_held(funded_org_a, before)


# --- 2. reasoning tokens ---------------------------------------------------------------


@pytest.mark.parametrize("in_completion", [True, False], ids=["openai", "gemini"])
def test_reasoning_tokens_are_billed_once_however_the_upstream_counts_them(
    fake_openai, provider_for, funded_org_a, api_key, client_for, in_completion
):
    provider_for(fake_openai, model="vision", prices=PRICES)
    fake_openai.reasoning_tokens = 1500
    fake_openai.reasoning_in_completion = in_completion
    before = credits_available_micros(organization=funded_org_a)

    response = post_image(client_for, api_key)

    assert response.status_code == 200, response.content
    (usage,) = fake_openai.usages
    billed_output = usage["total_tokens"] - usage["prompt_tokens"]  # visible + reasoning
    assert billed_output > 1500
    record = UsageRecord.objects.get()
    assert (record.input_tokens, record.output_tokens) == (usage["prompt_tokens"], billed_output)
    assert record.provider_cost_micros == token_cost(usage["prompt_tokens"], billed_output)
    assert charged(funded_org_a, before) == record.total_micros


def test_reasoning_in_the_extraction_is_billed_too(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="extractor", prices=PRICES)
    fake_openai.replies.append(INVOICE_JSON)
    fake_openai.reasoning_tokens = 700
    fake_openai.reasoning_in_completion = False

    response = post_invoice(client_for, api_key, "extractor")

    assert response.status_code == 200, response.content
    (usage,) = fake_openai.usages
    llm = UsageRecord.objects.get(request_id=f"{response['X-Request-Id']}-llm")
    assert llm.output_tokens == usage["total_tokens"] - usage["prompt_tokens"]
    assert llm.provider_cost_micros == token_cost(usage["prompt_tokens"], llm.output_tokens)


# --- 3. OpenRouter's own cost, with and without the operator's provider key --------------


@pytest.mark.parametrize("byok", [True, False], ids=["byok", "openrouter-credits"])
def test_openrouter_is_charged_at_the_price_list_and_its_whole_cost_compared(
    provider_for, funded_org_a, api_key, client_for, byok, caplog
):
    # Prices far under OpenRouter's: the tenant pays the list, the operator is told.
    cheap = {"input_per_mtok_micros": 1_000, "output_per_mtok_micros": 1_000}
    with FakeOpenAI(report_cost=True, byok=byok) as openrouter:
        provider_for(openrouter, model="vision", prices=cheap)
        before = credits_available_micros(organization=funded_org_a)

        response = post_image(client_for, api_key)

        assert response.status_code == 200, response.content
        (usage,) = openrouter.usages
    inference = Decimal(str(usage["cost_details"]["upstream_inference_cost"]))
    cost = Decimal(str(usage["cost"]))
    # BYOK: `cost` is OpenRouter's 5 % fee and the key's owner pays the inference apart.
    # Otherwise the inference is inside `cost`, which upstream_inference_cost repeats.
    whole = usd_to_micros(cost + inference) if byok else usd_to_micros(cost)
    assert (cost < inference) is byok
    record = UsageRecord.objects.get()
    listed = -(-usage["prompt_tokens"] * 1_000 // 1_000_000) - (
        -record.output_tokens * 1_000 // 1_000_000
    )
    assert record.provider_cost_micros == listed
    assert charged(funded_org_a, before) == record.total_micros
    assert f"reported a cost of {whole} micro-USD, the price list {listed}" in caplog.text


# --- 4. reasoning models that take only their default temperature -------------------------


def test_a_reasoning_model_is_asked_again_without_temperature_and_charged_once(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="thinker", upstream_model="o4-mini", prices=PRICES)
    before = credits_available_micros(organization=funded_org_a)

    response = post_image(client_for, api_key, "thinker")

    assert response.status_code == 200, response.content
    refused, served = (request.json() for request in fake_openai.requests)
    assert refused["temperature"] == 0 and "temperature" not in served
    assert "max_tokens" not in served  # never sent: a reasoning model would refuse it
    (usage,) = fake_openai.usages
    record = UsageRecord.objects.get()
    assert record.provider_cost_micros == token_cost(
        usage["prompt_tokens"], usage["completion_tokens"]
    )
    assert charged(funded_org_a, before) == record.total_micros

    # The worker remembers: the next request goes without temperature at once.
    assert post_image(client_for, api_key, "thinker").status_code == 200
    assert len(fake_openai.requests) == 3
    assert "temperature" not in fake_openai.requests[2].json()


def test_a_reasoning_model_extracts_an_invoice(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="thinker", upstream_model="gpt-5-mini", prices=PRICES)
    fake_openai.replies.append(INVOICE_JSON)

    response = post_invoice(client_for, api_key, "thinker")

    assert response.status_code == 200, response.content
    assert response.json()["data"]["total"] == "23.80"
    assert [("temperature" in r.json()) for r in fake_openai.requests] == [True, False]


@pytest.mark.parametrize(
    "error",
    [
        # Another parameter refused, or temperature refused in words we do not know.
        {"param": "response_format", "code": "unsupported_value", "message": "Unsupported"},
        {"param": "temperature", "code": "invalid_value", "message": "temperature too low"},
    ],
)
def test_other_400s_are_not_retried_and_cost_nothing(
    fake_openai, provider_for, funded_org_a, api_key, client_for, error
):
    provider_for(fake_openai, model="vision", prices=PRICES)
    fake_openai.answer(Reply(400, {"error": {**error, "type": "invalid_request_error"}}))
    before = credits_available_micros(organization=funded_org_a)

    response = post_image(client_for, api_key)

    assert response.status_code == 502, response.content
    assert response.json()["error"]["code"] == "ocr_upstream_failed"
    assert len(fake_openai.requests) == 1
    nothing_charged_or_held(funded_org_a, before)


# --- 5. an answer with no token counts ------------------------------------------------------


@pytest.mark.parametrize(
    "usage",
    [
        None,
        {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        {"prompt_tokens": -5, "completion_tokens": -5},
    ],
    ids=["none", "zeros", "negative"],
)
def test_an_answer_without_usage_is_charged_for_estimated_tokens_not_free(
    fake_openai, provider_for, funded_org_a, api_key, client_for, caplog, usage
):
    from ocr.providers.openai_compatible import OCR_INSTRUCTION

    provider_for(fake_openai, model="vision", prices=PRICES)
    content = "# Scanned page\n\nINVOICE 42"
    answer = {
        "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]
    }
    if usage is not None:
        answer["usage"] = usage
    fake_openai.answer(Reply(200, answer))
    before = credits_available_micros(organization=funded_org_a)

    with caplog.at_level(logging.WARNING):
        response = post_image(client_for, api_key)

    assert response.status_code == 200, response.content
    record = UsageRecord.objects.get()
    # The 400 x 120 page is one 512-px tile (85 + 170), the instruction a token a 4 chars.
    assert record.input_tokens == 255 + -(-len(OCR_INSTRUCTION) // 4)
    assert record.output_tokens == -(-len(content) // 4)
    assert record.provider_cost_micros == token_cost(record.input_tokens, record.output_tokens)
    assert charged(funded_org_a, before) == record.total_micros > 0
    assert "reported no or zero token counts" in caplog.text


def test_error_false_in_a_successful_answer_is_no_error(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="vision", prices=PRICES)
    choice = {
        "message": {"role": "assistant", "content": "INVOICE 42"},
        "finish_reason": "stop",
        "error": None,
    }
    usage = {"prompt_tokens": 300, "completion_tokens": 4}
    fake_openai.answer(Reply(200, {"choices": [choice], "usage": usage, "error": False}))

    response = post_image(client_for, api_key)

    assert response.status_code == 200, response.content
    assert UsageRecord.objects.get().provider_cost_micros == token_cost(300, 4)
