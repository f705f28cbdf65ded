"""Upstream answers whose JSON parses and whose top-level shape is right, but whose
content is not an answer: pages left out, a negative page index, `images` that are no
list, Cloudflare's `data: null`, token counts no answer can reach. Each is a broken
answer (retried, then 502 `ocr_upstream_failed`, nothing charged, no hold left), never
a 200 with empty or made-up text, nor one charged the whole reservation.

Found by driving a live gunicorn against fake upstreams answering these shapes.
"""

from __future__ import annotations

import pytest

from billing.models import UsageRecord
from billing.selectors import credits_available_micros
from tests.fakes.documents import pdf_bytes, png_bytes
from tests.fakes.server import Reply
from tests.ocr.dialect_support import b64, nothing_charged_or_held

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
def broken_answer(funded_org_a, api_key, client_for):
    """broken_answer(fake, answer, model): `answer` for every try of `POST /ocr` with
    `model`; asserts a 502 that costs nothing and returns it."""

    def post(fake, answer: dict, model: str):
        fake.answer(*[Reply(200, answer)] * 3)
        before = credits_available_micros(organization=funded_org_a)
        response = client_for(api_key[1]).post(
            "/ocr", {"model": model, "image_base64": b64(png_bytes())}, format="json"
        )
        assert response.status_code == 502, response.content
        nothing_charged_or_held(funded_org_a, before)
        return response

    return post


def mistral_page(index: int, **fields) -> dict:
    page = {
        "index": index,
        "markdown": f"page {index}",
        "images": [],
        "dimensions": {"dpi": 200, "height": 2200, "width": 1700},
    }
    return {**page, **fields}


def mistral_answer(*pages: dict, **fields) -> dict:
    return {"pages": list(pages), "model": "mistral-ocr-2512", "usage_info": {}, **fields}


@pytest.mark.parametrize(
    ("document", "answer"),
    [
        # Not one page of the image sent.
        (png_bytes(), mistral_answer()),
        # Pages 0 and 1 of a three-page PDF: page 2 left out.
        (pdf_bytes(pages=3), mistral_answer(mistral_page(0), mistral_page(1))),
        # Page -1 of an image: index_map[-1] used to read it as the image's page 0.
        (png_bytes(), mistral_answer(mistral_page(-1))),
        # `images` that are no list of image objects (Mistral's SDK refuses them).
        (png_bytes(), mistral_answer(mistral_page(0, images="abc"))),
        (png_bytes(), mistral_answer(mistral_page(0, images=[1, 2]))),
    ],
    ids=["no-pages", "a-page-left-out", "negative-index", "images-string", "images-ints"],
)
@pytest.mark.parametrize("dialect", ["mistral", "004"])
def test_a_mistral_answer_that_does_not_answer_every_page_sent_is_a_502(
    fake_mistral, provider_for, funded_org_a, api_key, client_for, document, answer, dialect
):
    provider_for(fake_mistral, model="mistral-ocr-latest", prices={"per_page_micros": 2000})
    fake_mistral.answer(*[Reply(200, answer)] * 3)
    before = credits_available_micros(organization=funded_org_a)
    kind = "document_url" if document.startswith(b"%PDF") else "image_url"
    media_type = "application/pdf" if kind == "document_url" else "image/png"
    source = {"type": kind, kind: f"data:{media_type};base64,{b64(document)}"}
    path, body = ("/v1/ocr", {"document": source}) if dialect == "mistral" else ("/ocr", source)

    response = client_for(api_key[1]).post(
        path, {"model": "mistral-ocr-latest", **body}, format="json"
    )

    assert response.status_code == 502, response.content
    assert len(fake_mistral.requests) == 3  # a broken answer: retried like any other
    assert "unexpected shape" in response.content.decode()
    nothing_charged_or_held(funded_org_a, before)


def test_mistral_usage_info_says_what_was_charged_not_what_the_upstream_wrote(
    fake_mistral, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_mistral, model="mistral-ocr-latest", prices={"per_page_micros": 2000})
    usage = {"pages_processed": -5, "doc_size_bytes": "NaN"}
    fake_mistral.answer(Reply(200, mistral_answer(mistral_page(0), usage_info=usage)))
    document = {"type": "image_url", "image_url": f"data:image/png;base64,{b64(png_bytes())}"}

    response = client_for(api_key[1]).post(
        "/v1/ocr", {"model": "mistral-ocr-latest", "document": document}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["usage_info"] == {
        "pages_processed": 1,
        "doc_size_bytes": len(png_bytes()),
    }
    assert UsageRecord.objects.get(request_id=response["X-Request-Id"]).pages == 1


@pytest.mark.parametrize("data", [None, 5, {"text": "hi"}], ids=["null", "number", "object"])
def test_a_cloudflare_result_without_text_is_a_502_not_the_text_none(
    broken_answer, fake_cloudflare, provider_for, data
):
    provider_for(fake_cloudflare, model="cf-tomarkdown", prices={"per_page_micros": 1000})
    result = {"id": "x", "name": "image-p1.png", "format": "markdown", "tokens": 5, "data": data}
    answer = {"result": [result], "success": True, "errors": [], "messages": []}
    response = broken_answer(fake_cloudflare, answer, "cf-tomarkdown")
    assert "None" not in response.content.decode()


@pytest.mark.parametrize("success", ["false", 0, None], ids=["string", "zero", "null"])
def test_a_cloudflare_answer_not_saying_success_true_is_a_502(
    broken_answer, fake_cloudflare, provider_for, success
):
    provider_for(fake_cloudflare, model="cf-tomarkdown", prices={"per_page_micros": 1000})
    result = {"id": "x", "name": "image-p1.png", "format": "markdown", "tokens": 5, "data": "hi"}
    errors = [{"code": 7003, "message": "quota"}]
    answer = {"result": [result], "success": success, "errors": errors, "messages": []}
    broken_answer(fake_cloudflare, answer, "cf-tomarkdown")


@pytest.mark.parametrize("count", [10**30, 1e300, 10_000_001], ids=["10**30", "1e300", "10M+1"])
def test_a_chat_answer_reporting_an_impossible_token_count_costs_nothing(
    broken_answer, fake_openai, provider_for, count
):
    provider_for(
        fake_openai,
        model="vision",
        prices={"input_per_mtok_micros": 300_000, "output_per_mtok_micros": 2_500_000},
    )
    answer = {
        "choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 900, "completion_tokens": count},
    }
    # Before: 200, charged the whole reservation (8,000 output tokens a page) for "hi".
    broken_answer(fake_openai, answer, "vision")
    assert len(fake_openai.requests) == 3


def test_a_cloudflare_answer_reporting_an_impossible_token_count_costs_nothing(
    broken_answer, fake_cloudflare, provider_for
):
    provider_for(
        fake_cloudflare, model="cf-tomarkdown", prices={"output_per_mtok_micros": 1_000_000}
    )
    result = {"id": "x", "name": "i-p1.png", "format": "markdown", "tokens": 10**30, "data": "hi"}
    answer = {"result": [result], "success": True, "errors": [], "messages": []}
    broken_answer(fake_cloudflare, answer, "cf-tomarkdown")


def test_a_token_count_within_reach_is_still_charged(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="vision", prices={"output_per_mtok_micros": 1_000_000})
    answer = {
        "choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 9_000},
    }
    fake_openai.answer(Reply(200, answer))

    response = client_for(api_key[1]).post(
        "/ocr", {"model": "vision", "image_base64": b64(png_bytes())}, format="json"
    )

    assert response.status_code == 200, response.content
    usage = UsageRecord.objects.get(request_id=response["X-Request-Id"])
    assert usage.output_tokens == 9_000


def test_mistral_numbers_as_strings_reach_the_client_as_numbers(
    fake_mistral, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_mistral, model="mistral-ocr-latest", prices={"per_page_micros": 2000})
    dimensions = {"dpi": "200", "height": "2200", "width": "1700"}
    page = {**mistral_page(0, dimensions=dimensions, hyperlinks=["https://x.test"]), "index": "0"}
    fake_mistral.answer(Reply(200, mistral_answer(page)))
    document = {"type": "image_url", "image_url": f"data:image/png;base64,{b64(png_bytes())}"}

    response = client_for(api_key[1]).post(
        "/v1/ocr", {"model": "mistral-ocr-latest", "document": document}, format="json"
    )

    assert response.status_code == 200, response.content
    (page,) = response.json()["pages"]
    # Read as numbers for every other dialect, passed on here as strings before.
    assert page["index"] == 0
    assert page["dimensions"] == {"dpi": 200, "height": 2200, "width": 1700}
    assert page["hyperlinks"] == ["https://x.test"]  # the rest as the upstream wrote it


def test_a_chat_content_part_whose_text_is_no_string_is_a_502(
    broken_answer, fake_openai, provider_for
):
    provider_for(fake_openai, model="vision", prices={"per_page_micros": 1000})
    parts = [{"type": "text", "text": {"value": "hi"}}, {"type": "text", "text": "there"}]
    message = {"role": "assistant", "content": parts}
    answer = {"choices": [{"message": message, "finish_reason": "stop"}]}
    # Before: 200 with the text "{'value': 'hi'}there", charged.
    broken_answer(fake_openai, answer, "vision")


def test_chat_content_parts_of_text_are_joined(
    fake_openai, provider_for, funded_org_a, api_key, client_for
):
    provider_for(fake_openai, model="vision", prices={"per_page_micros": 1000})
    parts = [
        {"type": "text", "text": "# Title"},
        {"type": "refusal"},
        {"type": "text", "text": "!"},
    ]
    message = {"role": "assistant", "content": parts}
    fake_openai.answer(Reply(200, {"choices": [{"message": message, "finish_reason": "stop"}]}))

    response = client_for(api_key[1]).post(
        "/ocr", {"model": "vision", "image_base64": b64(png_bytes())}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["text"] == "# Title!"


NOT_FINITE = {
    "page-confidence": {"confidence_scores": {"average_page_confidence_score": "NaN"}},
    "block-box": {"blocks": [{"type": "text", "content": "x", "top_left_x": "Infinity"}]},
    "block-confidence": {
        "blocks": [
            {
                "type": "text",
                "content": "x",
                "confidence_scores": {"average_content_confidence_score": "-inf"},
            }
        ]
    },
}


@pytest.mark.parametrize("fields", NOT_FINITE.values(), ids=NOT_FINITE.keys())
def test_a_mistral_number_that_is_not_finite_is_a_502_not_a_500_after_the_charge(
    fake_mistral, provider_for, funded_org_a, api_key, client_for, fields
):
    provider_for(fake_mistral, model="mistral-ocr-latest", prices={"per_page_micros": 2000})
    fake_mistral.answer(*[Reply(200, mistral_answer(mistral_page(0, **fields)))] * 3)
    before = credits_available_micros(organization=funded_org_a)
    client = client_for(api_key[1])
    client.raise_request_exception = False

    # Seed 001 renders the confidence and the boxes: NaN broke its JSON, after settling.
    response = client.post(
        "/v1/ocr", {"model": "mistral-ocr-latest", "base64": b64(png_bytes())}, format="json"
    )

    assert response.status_code == 502, response.content
    nothing_charged_or_held(funded_org_a, before)
