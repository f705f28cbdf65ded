"""Mistral OCR on `POST /v1/ocr` (body with `document`): every response must parse into the
`mistralai` SDK's own `OCRResponse`, with blocks, tables and confidence scores."""

from __future__ import annotations

import io

import pytest
from mistralai.client.models import OCRResponse
from PIL import Image, ImageDraw, ImageFont

from tests.ocr.dialect_support import (
    assert_cost_headers,
    assert_not_charged,
    assert_phototest_text,
    client_with,
    corpus_path,
    data_url,
    error_code,
    phototest_png,
)
from tests.ocr.documents import make_pdf

pytestmark = pytest.mark.django_db

URL = "/v1/ocr"


def ocr(client, **body):
    return client.post(URL, {"model": "local/rapidocr", **body}, format="json")


def test_an_image_url_document_parses_into_the_sdk_response(client):
    response = ocr(client, document={"type": "image_url", "image_url": data_url(phototest_png())})

    assert response.status_code == 200, response.content
    body = response.json()
    parsed = OCRResponse.model_validate(body)
    assert parsed.model == "local/rapidocr"
    assert parsed.usage_info.pages_processed == 1
    assert parsed.usage_info.doc_size_bytes == len(phototest_png())
    page = parsed.pages[0]
    assert page.index == 0
    assert (page.dimensions.width, page.dimensions.height) == (640, 480)
    assert_phototest_text(page.markdown)
    assert_phototest_text(body["text"])
    assert body["document_annotation"] is None
    # include_blocks defaults to true (as in the SDK): typed blocks with boxes.
    assert page.blocks and page.blocks[0].type == "text"
    assert page.blocks[0].bottom_right_x > page.blocks[0].top_left_x
    assert page.confidence_scores is None or "confidence_scores" not in body["pages"][0]
    assert_cost_headers(response)


def test_image_url_as_an_object_and_document_url_with_a_pdf(client):
    pdf = make_pdf([["Invoice 1042", "Total 120.00"], ["Second page text"]])

    as_object = ocr(
        client, document={"type": "image_url", "image_url": {"url": data_url(phototest_png())}}
    )
    as_pdf = ocr(
        client,
        document={
            "type": "document_url",
            "document_url": data_url(pdf, "application/pdf"),
            "document_name": "invoice.pdf",
        },
        pages=[1],
    )

    assert as_object.status_code == 200, as_object.content
    assert as_pdf.status_code == 200, as_pdf.content
    parsed = OCRResponse.model_validate(as_pdf.json())
    assert [p.index for p in parsed.pages] == [1]
    assert "Second page text" in parsed.pages[0].markdown
    assert parsed.usage_info.pages_processed == 1


def test_pages_as_a_range_string(client):
    pdf = make_pdf([["page zero"], ["page one"], ["page two"]])

    response = ocr(
        client,
        document={"type": "document_url", "document_url": data_url(pdf, "application/pdf")},
        pages="0,2-2",
    )

    assert response.status_code == 200, response.content
    pages = OCRResponse.model_validate(response.json()).pages
    assert [p.index for p in pages] == [0, 2]


@pytest.mark.parametrize("granularity", ["page", "block", "word"])
def test_confidence_scores_at_each_granularity(client, granularity):
    response = ocr(
        client,
        document={"type": "image_url", "image_url": data_url(phototest_png())},
        confidence_scores_granularity=granularity,
        include_blocks=True,
    )

    assert response.status_code == 200, response.content
    page = OCRResponse.model_validate(response.json()).pages[0]
    scores = page.confidence_scores
    assert 0.9 <= scores.average_page_confidence_score <= 1
    assert scores.minimum_page_confidence_score <= scores.average_page_confidence_score
    if granularity == "block":
        assert page.blocks[0].confidence_scores.average_content_confidence_score > 0.9
    if granularity == "word":
        words = scores.word_confidence_scores
        assert [w.text for w in words[:3]] == ["This", "is", "a"]
        first = words[5]
        assert page.markdown[first.start_index :].startswith(first.text)


@pytest.mark.parametrize("table_format", [None, "markdown", "html"])
def test_every_word_score_points_at_its_word(client, table_format):
    receipt = corpus_path("sroie", "002.jpg").read_bytes()  # has a table of items
    body = {
        "document": {"type": "image_url", "image_url": data_url(receipt, "image/jpeg")},
        "confidence_scores_granularity": "word",
    }
    if table_format:
        body["table_format"] = table_format

    response = ocr(client, **body)

    assert response.status_code == 200, response.content
    page = OCRResponse.model_validate(response.json()).pages[0]
    words = page.confidence_scores.word_confidence_scores
    assert len(words) > 50
    for word in words:
        assert page.markdown[word.start_index : word.start_index + len(word.text)] == word.text
        assert any(char.isalnum() for char in word.text), word.text  # not `|` or `---`
    if table_format:
        assert page.tables, "the receipt's item table was not found"
        for table in page.tables:
            assert table.word_confidence_scores, table.id
            for word in table.word_confidence_scores:
                end = word.start_index + len(word.text)
                assert table.content[word.start_index : end] == word.text


def test_without_blocks_and_with_image_base64(client):
    response = ocr(
        client,
        document={"type": "image_url", "image_url": data_url(phototest_png())},
        include_blocks=False,
        include_image_base64=True,
        extract_header=True,
        extract_footer=True,
        table_format="html",
        id="client-request-1",
        bbox_annotation_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
    )

    assert response.status_code == 200, response.content
    page = response.json()["pages"][0]
    assert "blocks" not in page
    OCRResponse.model_validate(response.json())


def report_page_png() -> bytes:
    """A letter page at 150 dpi: a running head in the top margin, four paragraphs, and
    the page number in the bottom margin."""
    font, small = ImageFont.load_default(size=28), ImageFont.load_default(size=20)
    page = Image.new("L", (1275, 1650), 255)
    draw = ImageDraw.Draw(page)
    draw.text((100, 40), "ACME CORPORATION Quarterly Report", font=small, fill=0)
    for number in range(12):
        line = "The quick brown dog jumped over the lazy fox."
        draw.text((100, 300 + 40 * number + 40 * (number // 3)), line, font=font, fill=0)
    draw.text((580, 1590), "Page 1 of 3", font=small, fill=0)
    buffer = io.BytesIO()
    page.save(buffer, format="PNG")
    return buffer.getvalue()


def test_extract_header_and_footer_take_the_running_head_and_the_page_number(client):
    document = {"type": "image_url", "image_url": data_url(report_page_png())}

    response = ocr(
        client,
        document=document,
        extract_header=True,
        extract_footer=True,
        confidence_scores_granularity="word",
    )
    kept = OCRResponse.model_validate(ocr(client, document=document).json()).pages[0]

    assert response.status_code == 200, response.content
    page = OCRResponse.model_validate(response.json()).pages[0]
    assert page.header == "ACME CORPORATION Quarterly Report"
    assert page.footer == "Page 1 of 3"
    assert page.markdown.startswith("The quick brown dog")
    assert "ACME" not in page.markdown and "Page 1" not in page.markdown
    assert (page.blocks[0].type, page.blocks[-1].type) == ("header", "footer")
    for word in page.confidence_scores.word_confidence_scores:
        assert page.markdown[word.start_index :].startswith(word.text)
    # Not asked for: both stay in the markdown, as Mistral leaves them.
    assert (kept.header, kept.footer) == (None, None)
    assert "ACME CORPORATION" in kept.markdown and "Page 1 of 3" in kept.markdown


def test_a_title_below_the_top_margin_is_no_header(client):
    response = ocr(
        client,
        document={"type": "image_url", "image_url": data_url(phototest_png())},
        extract_header=True,
        extract_footer=True,
    )

    page = OCRResponse.model_validate(response.json()).pages[0]
    assert (page.header, page.footer) == (None, None)
    assert_phototest_text(page.markdown)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"document": "https://example.com/a.pdf"}, "invalid_request"),
        ({"document": {"type": "document_url"}}, "invalid_request"),
        ({"document": {"type": "file", "file_id": ""}}, "invalid_request"),
        ({"document": {"type": "image_url", "image_url": {"url": 5}}}, "invalid_request"),
        (
            {
                "document": {
                    "type": "document_url",
                    "document_url": "data:application/pdf;base64,%%",
                }
            },
            "invalid_base64",
        ),
        (
            {"document": {"type": "document_url", "document_url": "file:///etc/passwd"}},
            "invalid_url",
        ),
        (
            {
                "document": {"type": "image_url", "image_url": "https://x.test/a.png"},
                "pages": "a-b",
            },
            "invalid_pages",
        ),
        (
            {"document": {"type": "image_url", "image_url": "https://x.test/a.png"}, "pages": [-1]},
            "invalid_pages",
        ),
        (  # a digit to str.isdigit(), not to int(): was a 500
            {
                "document": {"type": "image_url", "image_url": "https://x.test/a.png"},
                "pages": ["²"],
            },
            "invalid_pages",
        ),
        (
            {
                "document": {"type": "image_url", "image_url": "https://x.test/a.png"},
                "table_format": "csv",
            },
            "invalid_request",
        ),
        (
            {
                "document": {"type": "image_url", "image_url": "https://x.test/a.png"},
                "confidence_scores_granularity": "letter",
            },
            "invalid_request",
        ),
        (
            {
                "document": {"type": "image_url", "image_url": "https://x.test/a.png"},
                "include_blocks": "yes please",
            },
            "invalid_request",
        ),
        (
            {
                "document": {"type": "image_url", "image_url": "https://x.test/a.png"},
                "bbox_annotation_format": {"type": "nope"},
            },
            "invalid_request",
        ),
        (
            {
                "document": {"type": "image_url", "image_url": "https://x.test/a.png"},
                "document_annotation_format": {"type": "json_schema"},
            },
            "invalid_request",
        ),
        (
            {
                "document": {"type": "image_url", "image_url": "https://x.test/a.png"},
                "bbox_annotation_format": {"type": "json_schema", "json_schema": {}},
            },
            "invalid_request",
        ),
        (
            {
                "document": {"type": "image_url", "image_url": "https://x.test/a.png"},
                "document_annotation_format": {
                    "type": "json_schema",
                    "json_schema": {"name": 1, "schema": "x"},
                },
            },
            "invalid_request",
        ),
    ],
)
def test_bad_requests_are_422_with_mistrals_validation_detail(client, body, code):
    response = client.post(URL, body, format="json")

    assert response.status_code == 422, response.content
    assert error_code(response) == code
    (detail,) = response.json()["detail"]
    assert detail["loc"][0] == "body" and detail["type"] == code
    assert detail["msg"] == response.json()["error"]["message"]


def test_too_many_pages_is_413(client):
    response = ocr(
        client,
        document={"type": "image_url", "image_url": "https://x.test/a.png"},
        pages="0-999,1000",
    )

    assert response.status_code == 413
    assert error_code(response) == "too_many_pages"


def test_keys_402_and_429(management_client, broke_client, org_b, limited_client):
    body = {"document": {"type": "image_url", "image_url": data_url(phototest_png())}}
    for who in (client_with(None), management_client):
        response = who.post(URL, body, format="json")
        assert response.status_code == 401 and error_code(response) == "invalid_api_key"

    response = broke_client.post(URL, body, format="json")
    assert response.status_code == 402 and error_code(response) == "insufficient_credits"
    assert_not_charged(org_b)

    assert limited_client.post(URL, {"document": 1}, format="json").status_code == 422
    response = limited_client.post(URL, body, format="json")
    assert response.status_code == 429 and error_code(response) == "rate_limited"


def test_an_upstreams_sparse_pages_still_parse_into_the_sdk_response():
    """A Mistral upstream's pages come back as written; what it left out (here `images`
    and `dimensions`, or `images: null`) is filled from our own rendering of the page."""
    from types import SimpleNamespace

    from ocr.dialects import mistral
    from ocr.types import DocumentSource, OcrRequest, OcrResult, PageResult

    pages = [
        PageResult(index=0, markdown="# Invoice", width=800, height=600),
        PageResult(index=2, markdown="Total 9.00", width=800, height=600),
    ]
    raw = {
        "pages": [
            {"index": 0, "markdown": "# Invoice", "hyperlinks": ["https://example.com"]},
            {"index": 2, "markdown": "Total 9.00", "images": None, "footer": "Page 3"},
        ],
        "model": "mistral-ocr-2505",
        "usage_info": {"pages_processed": 2},
    }
    outcome = SimpleNamespace(
        result=OcrResult(
            model="mistral-ocr-latest", pages=pages, raw=raw, raw_format="mistral-ocr"
        ),
        document=SimpleNamespace(data=b"%PDF-1.7 ..."),
    )
    request = OcrRequest(dialect="mistral", source=DocumentSource(data=b""), max_bytes=1)

    body = mistral.render(outcome, request)

    parsed = OCRResponse.model_validate(body)
    assert [p.index for p in parsed.pages] == [0, 2]
    assert parsed.pages[0].hyperlinks == ["https://example.com"]
    assert parsed.pages[1].footer == "Page 3"
    assert parsed.pages[1].images == []
    assert parsed.pages[0].dimensions.width == 800
    assert parsed.model == "mistral-ocr-latest"  # the name the client asked for
    assert parsed.usage_info.doc_size_bytes == len(b"%PDF-1.7 ...")


def test_a_nested_field_is_located_where_it_sits(client):
    document = {"type": "image_url", "image_url": "https://x.test/a.png", "document_name": 5}

    response = client.post(URL, {"document": document}, format="json")

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "document", "document_name"]


def test_a_page_the_document_lacks_is_located_at_pages(client):
    pdf = make_pdf([["page zero"], ["page one"]])
    document = {"type": "document_url", "document_url": data_url(pdf, "application/pdf")}

    response = ocr(client, document=document, pages="1-3")

    assert response.status_code == 422, response.content
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["body", "pages"] and detail["type"] == "invalid_pages"


def test_an_unknown_document_type_names_every_type_there_is(client):
    response = client.post(URL, {"document": {"type": "File", "file_id": "x"}}, format="json")

    assert response.status_code == 422
    message = response.json()["detail"][0]["msg"]
    assert all(kind in message for kind in ("document_url", "image_url", "file_id"))


def test_a_null_document_leaves_the_request_to_the_docsrouter_dialect(client):
    response = client.post(URL, {"document": None, "base64": "%%%"}, format="json")

    assert response.status_code == 400  # DocsRouter's own error, not Mistral's 422
    assert error_code(response) == "invalid_base64"
