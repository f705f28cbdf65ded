"""Each upstream kind against its fake on 127.0.0.1: request shapes, mapping, cost."""

from __future__ import annotations

import base64

import pytest

from billing.pricing import provider_cost_micros
from ocr.intake.document import document_open
from ocr.models import Provider
from ocr.providers import client_for
from ocr.providers.base import ProviderError
from ocr.routing import route_candidates
from ocr.types import DocumentSource, OcrRequest
from tests.fakes.documents import (
    data_url_decode,
    encrypted_pdf_bytes,
    image_size,
    pdf_bytes,
    pdf_page_count,
    png_bytes,
    tiff_bytes,
)

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.usefixtures("fast_retries")


def ocr_request(**kwargs) -> OcrRequest:
    return OcrRequest(dialect="test", source=DocumentSource(data=b"x"), max_bytes=1 << 20, **kwargs)


def run(model, data: bytes, *, pages=None, password=None, **request_kwargs):
    document = document_open(data=data, pages=pages, password=password, filename="scan.pdf")
    client = client_for(model.provider)
    return client.ocr(document, model=model, request=ocr_request(**request_kwargs))


def test_mistral_sends_a_pdf_as_a_data_url_with_the_page_selection(fake_mistral, provider_for):
    model = provider_for(fake_mistral, model="mistral-ocr")
    data = pdf_bytes(3)

    result = run(model, data, pages=[0, 2])

    (sent,) = fake_mistral.requests
    assert sent.headers["authorization"] == f"Bearer {fake_mistral.api_key}"
    body = sent.json()
    assert body["model"] == "mistral-ocr-latest"
    assert body["document"]["type"] == "document_url"
    assert data_url_decode(body["document"]["document_url"]) == ("application/pdf", data)
    assert body["pages"] == [0, 2]
    assert result.model == "mistral-ocr"
    assert result.provider == model.provider.slug
    assert [p.index for p in result.pages] == [0, 2]
    assert result.pages[1].markdown.startswith("# Page 3\n")
    assert (result.pages[0].width, result.pages[0].height, result.pages[0].dpi) == (1700, 2200, 200)
    assert result.raw["pages"][1]["markdown"] == result.pages[1].markdown
    assert result.raw["usage_info"]["pages_processed"] == 2


def test_mistral_sends_all_pages_without_a_pages_field(fake_mistral, provider_for):
    model = provider_for(fake_mistral)

    result = run(model, pdf_bytes(2))

    assert "pages" not in fake_mistral.requests[0].json()
    assert [p.index for p in result.pages] == [0, 1]


def test_mistral_sends_an_image_as_image_url(fake_mistral, provider_for):
    model = provider_for(fake_mistral)
    data = png_bytes(size=(321, 123))

    result = run(model, data, include_image_base64=True, options={"table_format": "html"})

    body = fake_mistral.requests[0].json()
    assert body["document"]["type"] == "image_url"
    assert data_url_decode(body["document"]["image_url"]) == ("image/png", data)
    assert body["include_image_base64"] is True
    assert body["table_format"] == "html"
    assert (result.pages[0].width, result.pages[0].height) == (321, 123)
    assert result.pages[0].images[0]["image_base64"].startswith("data:image/jpeg;base64,")


def test_mistral_maps_frames_of_a_multi_frame_tiff_back(fake_mistral, provider_for):
    model = provider_for(fake_mistral)

    result = run(model, tiff_bytes(3), pages=[2])

    body = fake_mistral.requests[0].json()
    assert body["document"]["type"] == "document_url"  # frames travel as a PDF
    assert [p.index for p in result.pages] == [2]
    assert result.raw["pages"][0]["index"] == 2


def test_openai_compatible_renders_pdf_pages_to_png_one_request_per_page(fake_openai, provider_for):
    model = provider_for(fake_openai, model="vision", prices={"input_per_mtok_micros": 150_000})

    result = run(model, pdf_bytes(2), language="de")

    assert len(fake_openai.requests) == 2
    for sent in fake_openai.requests:
        assert sent.path == "/v1/chat/completions"
        assert sent.headers["authorization"] == f"Bearer {fake_openai.api_key}"
        body = sent.json()
        assert body["model"] == "gpt-4o-mini"
        assert "usage" not in body  # only OpenRouter takes usage.include
        text, image = body["messages"][0]["content"]
        assert text["type"] == "text" and "Markdown" in text["text"] and "'de'" in text["text"]
        media_type, png = data_url_decode(image["image_url"]["url"])
        assert media_type == "image/png" and png.startswith(b"\x89PNG")
    assert [p.index for p in result.pages] == [0, 1]
    width, height = result.pages[0].width, result.pages[0].height
    assert result.pages[0].markdown == (
        f"# Scanned page\n\nFake transcription of a {width}x{height} image."
    )
    assert result.input_tokens > 0 and result.output_tokens > 0
    assert result.provider_cost_micros is None


def test_openai_compatible_unwraps_code_fences_and_prices_tokens(fake_openai, provider_for):
    prices = {"input_per_mtok_micros": 2_500_000, "output_per_mtok_micros": 10_000_000}
    model = provider_for(fake_openai, prices=prices)
    fake_openai.replies.append("```markdown\n# Total\n\n42.00 EUR\n```")

    result = run(model, png_bytes())

    assert result.pages[0].markdown == "# Total\n\n42.00 EUR"
    (usage,) = fake_openai.usages
    assert (result.input_tokens, result.output_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    cost = provider_cost_micros(
        model=model, pages=1, input_tokens=result.input_tokens, output_tokens=result.output_tokens
    )
    # 2.50 USD per 1M prompt tokens, 10 USD per 1M completion tokens, in micro-dollars.
    prompt_micros = -(-usage["prompt_tokens"] * 2_500_000 // 1_000_000)  # a started micro counts
    assert cost == prompt_micros + usage["completion_tokens"] * 10


def test_openai_compatible_takes_the_upstream_cost_when_reported(fake_openrouter, provider_for):
    model = provider_for(fake_openrouter)

    result = run(model, pdf_bytes(3))

    per_page = [fake_openrouter.cost_micros(usage) for usage in fake_openrouter.usages]
    assert len(per_page) == 3
    assert result.provider_cost_micros == sum(per_page)
    assert result.provider_cost_micros > 0


def test_openai_compatible_asks_openrouter_for_its_cost():
    openrouter = Provider(
        slug="or", kind="openai_compatible", base_url="https://openrouter.ai/api/v1"
    )
    openai = Provider(slug="oa", kind="openai_compatible", base_url="https://api.openai.com/v1")

    assert client_for(openrouter)._reports_cost_on_request() is True
    assert client_for(openai)._reports_cost_on_request() is False


def test_cloudflare_sends_one_multipart_file_per_pdf_page(fake_cloudflare, provider_for):
    model = provider_for(fake_cloudflare, model="cf-markdown")

    result = run(model, pdf_bytes(3), pages=[1, 2])

    (sent,) = fake_cloudflare.requests
    assert sent.path == f"/client/v4/accounts/{fake_cloudflare.account_id}/ai/tomarkdown"
    assert sent.headers["authorization"] == f"Bearer {fake_cloudflare.api_key}"
    parts = fake_cloudflare.parts(sent)
    assert [(name, filename, ctype) for name, filename, ctype, _ in parts] == [
        ("files", "scan-p2.pdf", "application/pdf"),
        ("files", "scan-p3.pdf", "application/pdf"),
    ]
    assert [p.index for p in result.pages] == [1, 2]
    assert "1-page PDF" in result.pages[0].markdown
    assert result.output_tokens == sum(item["tokens"] for item in result.raw["result"])


def test_cloudflare_results_map_to_their_pages_by_name(fake_cloudflare, provider_for):
    model = provider_for(fake_cloudflare)
    fake_cloudflare.reverse = True

    result = run(model, pdf_bytes(3))

    assert [(p.index, p.markdown.split("\n")[0]) for p in result.pages] == [
        (0, "# scan-p1.pdf"),
        (1, "# scan-p2.pdf"),
        (2, "# scan-p3.pdf"),
    ]


def test_cloudflare_sends_an_image_as_it_is(fake_cloudflare, provider_for):
    model = provider_for(fake_cloudflare)
    data = png_bytes(size=(200, 100))

    result = run(model, data)

    ((_, filename, ctype, sent),) = fake_cloudflare.parts(fake_cloudflare.requests[0])
    assert (filename, ctype, sent) == ("scan-p1.png", "image/png", data)
    assert "(200x100)" in result.pages[0].markdown


def test_cloudflare_error_format_is_the_documents_fault(fake_cloudflare, provider_for):
    model = provider_for(fake_cloudflare)
    fake_cloudflare.unreadable = {"scan-p2.pdf"}

    with pytest.raises(ProviderError) as caught:
        run(model, pdf_bytes(2))

    assert caught.value.code == "ocr_extraction_error"
    assert caught.value.permanent is True
    assert len(fake_cloudflare.requests) == 1  # not retried


def test_a_provider_whose_secret_is_unset_is_unavailable(fake_mistral, provider_for):
    model = provider_for(fake_mistral, model="secretless", with_secret=False)

    assert client_for(model.provider).available(model=model) is False
    with pytest.raises(Exception) as caught:
        route_candidates(model="secretless", provider_id=None)
    assert caught.value.code == "invalid_model"
    assert fake_mistral.requests == []


def test_the_page_images_are_real_pngs_of_the_pages(fake_openai, provider_for):
    model = provider_for(fake_openai)

    run(model, pdf_bytes(1))

    url = fake_openai.requests[0].json()["messages"][0]["content"][1]["image_url"]["url"]
    png = base64.b64decode(url.split(",", 1)[1])
    width, height = image_size(png)
    assert max(width, height) <= 2048 and min(width, height) > 100


def test_a_password_protected_pdf_reaches_each_upstream_decrypted(
    fake_mistral, fake_openai, fake_cloudflare, provider_for
):
    data = encrypted_pdf_bytes("s3cret", pages=3)

    mistral = run(provider_for(fake_mistral), data, pages=[1], password="s3cret")
    cloudflare = run(provider_for(fake_cloudflare), data, pages=[2], password="s3cret")
    openai = run(provider_for(fake_openai), data, pages=[0], password="s3cret")

    # The fakes open what they get without a password (they answer 422 otherwise).
    sent = fake_mistral.requests[0].json()
    assert "pages" not in sent  # a new PDF of the selected page only
    assert pdf_page_count(data_url_decode(sent["document"]["document_url"])[1]) == 1
    assert [p.index for p in mistral.pages] == [1]
    assert mistral.raw["pages"][0]["index"] == 1
    assert [p.index for p in cloudflare.pages] == [2]
    assert "1-page PDF" in cloudflare.pages[0].markdown
    assert [p.index for p in openai.pages] == [0]
    assert "Fake transcription" in openai.pages[0].markdown
