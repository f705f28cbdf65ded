"""002's chat-model extraction against the fake OpenAI-compatible upstream."""

from __future__ import annotations

import json
import time

import pytest

from config.api import ApiError
from ocr.extraction.llm import INVOICE_SCHEMA, invoice_extract_llm

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.usefixtures("fast_retries")

TEXT = "ACME GmbH\nInvoice No: INV-7\nDate: 2024-03-05\nWidget 2 x 10.00 = 20.00\nTotal 23.80 EUR"
ANSWER = {
    "vendor": {"name": "ACME GmbH", "address": None, "tax_id": None},
    "invoice_number": "INV-7",
    "invoice_date": "2024-03-05",
    "due_date": None,
    "currency": "EUR",
    "subtotal": "20.00",
    "tax": "3.80",
    "total": "23.80",
    "line_items": [
        {"description": "Widget", "quantity": "2", "unit_price": "10.00", "amount": "20.00"}
    ],
    "bill_to": None,
}


def test_it_sends_the_text_and_the_schema_and_returns_the_invoice(fake_openrouter, provider_for):
    model = provider_for(fake_openrouter, model="extractor")
    fake_openrouter.replies.append(json.dumps(ANSWER))
    usage: dict = {}

    data = invoice_extract_llm(text=TEXT, model=model, usage=usage)

    assert data == ANSWER
    (sent,) = fake_openrouter.requests
    body = sent.json()
    assert sent.headers["authorization"] == f"Bearer {fake_openrouter.api_key}"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "invoice", "strict": True, "schema": INVOICE_SCHEMA},
    }
    assert TEXT in body["messages"][-1]["content"]
    (reported,) = fake_openrouter.usages
    assert usage["prompt_tokens"] == reported["prompt_tokens"]
    assert usage["completion_tokens"] == reported["completion_tokens"]
    assert usage["cost_micros"] == fake_openrouter.cost_micros(reported)


def test_a_model_name_is_routed_to_its_chat_providers(fake_openai, provider_for):
    provider_for(fake_openai, model="extractor")
    fake_openai.replies.append(json.dumps(ANSWER))

    assert invoice_extract_llm(text=TEXT, model="extractor")["total"] == "23.80"


def test_invalid_json_is_asked_for_once_more(fake_openai, provider_for):
    model = provider_for(fake_openai)
    fake_openai.replies.extend(["Sure! Here is the invoice: {", json.dumps(ANSWER)])

    assert invoice_extract_llm(text=TEXT, model=model) == ANSWER
    assert len(fake_openai.requests) == 2


def test_invalid_json_twice_is_502_extraction_error(fake_openai, provider_for):
    model = provider_for(fake_openai)
    fake_openai.replies.extend(["not json", '["a list", "not an invoice"]'])

    with pytest.raises(ApiError) as caught:
        invoice_extract_llm(text=TEXT, model=model)

    assert (caught.value.status, caught.value.code) == (502, "ocr_extraction_error")
    assert len(fake_openai.requests) == 2


def test_a_fenced_answer_is_accepted_and_values_are_normalised(fake_openai, provider_for):
    model = provider_for(fake_openai)
    loose = {
        "vendor": {"name": " ACME "},
        "invoice_date": "2024-03-05T00:00:00Z",
        "due_date": "next week",
        "currency": "eur",
        "total": "€1,234.50",
        "tax": 19,
        "line_items": [{"description": "Widget", "quantity": 2, "amount": "EUR 20.00"}],
    }
    fake_openai.replies.append("```json\n" + json.dumps(loose) + "\n```")

    data = invoice_extract_llm(text=TEXT, model=model)

    assert data["vendor"] == {"name": "ACME", "address": None, "tax_id": None}
    assert (data["invoice_date"], data["due_date"]) == ("2024-03-05", None)
    assert (data["currency"], data["total"], data["tax"]) == ("EUR", "1234.50", "19")
    assert data["line_items"] == [
        {"description": "Widget", "quantity": "2", "unit_price": None, "amount": "20.00"}
    ]
    assert data["invoice_number"] is None and data["bill_to"] is None


def test_an_upstream_failure_fails_over_then_is_502_upstream_failed(fake_openai, provider_for):
    from tests.fakes.openai import FakeOpenAI

    first = provider_for(fake_openai, model="extractor", priority=1)
    with FakeOpenAI() as other:
        provider_for(other, model="extractor", priority=2)
        fake_openai.fail_always("500")
        other.replies.append(json.dumps(ANSWER))

        assert invoice_extract_llm(text=TEXT, model="extractor") == ANSWER
        assert len(fake_openai.requests) == 3 and len(other.requests) == 1

        other.fail_always("503")
        with pytest.raises(ApiError) as caught:
            invoice_extract_llm(text=TEXT, model="extractor")
    assert (caught.value.status, caught.value.code) == (502, "ocr_upstream_failed")
    assert first.provider.slug in caught.value.message


def test_a_model_that_is_not_a_chat_model_is_refused(fake_mistral, provider_for):
    provider_for(fake_mistral, model="ocr-only")

    with pytest.raises(ApiError) as caught:
        invoice_extract_llm(text=TEXT, model="ocr-only")

    assert (caught.value.status, caught.value.code) == (400, "invalid_model")
    assert fake_mistral.requests == []


def test_a_hung_upstream_is_given_up_when_the_budget_runs_out(fake_openai, provider_for, settings):
    settings.OCR_UPSTREAM_BUDGET_S = 0.8
    first = provider_for(fake_openai, model="extractor", priority=1, timeout_s=0.5)
    provider_for(fake_openai, model="extractor", priority=2, timeout_s=0.5)
    fake_openai.fault_delay_s = 30
    fake_openai.fail_always("timeout")

    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        invoice_extract_llm(text=TEXT, model="extractor")
    elapsed = time.monotonic() - started

    assert (caught.value.status, caught.value.code) == (502, "ocr_upstream_failed")
    assert "upstream time budget (0.8 s) ran out" in caught.value.message
    # A whole try of 0.5 s, a retry cut to 0.3 s, no failover: before, 2 x 3 x 0.5 s.
    assert len(fake_openai.requests) == 2
    assert elapsed < 0.8 + 0.5
    assert first.provider.slug in caught.value.message
