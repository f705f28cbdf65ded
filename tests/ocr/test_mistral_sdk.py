"""The official `mistralai` SDK, pointed at a live test server, runs OCR here unchanged."""

from __future__ import annotations

import asyncio
import json

import pytest
from mistralai.client import Mistral
from mistralai.client.errors import HTTPValidationError, SDKError
from mistralai.client.models import BaseModelCard, ModelList, OCRResponse

from keys.services import api_key_create
from tests.ocr.dialect_support import assert_phototest_text, b64, data_url, phototest_png
from tests.ocr.documents import make_pdf


@pytest.fixture(autouse=True)
def _providers(local_provider):
    return local_provider


def sdk(live_server, secret: str) -> Mistral:
    return Mistral(api_key=secret, server_url=live_server.url)


def test_the_sdk_reads_an_image_url(live_server, secret):
    with sdk(live_server, secret) as client:
        response = client.ocr.process(
            model="local/rapidocr",
            document={"type": "image_url", "image_url": data_url(phototest_png())},
            include_blocks=True,
            confidence_scores_granularity="page",
        )

    assert isinstance(response, OCRResponse)
    assert response.model == "local/rapidocr"
    page = response.pages[0]
    assert_phototest_text(page.markdown)
    assert page.blocks and page.blocks[0].type == "text"
    assert page.confidence_scores.average_page_confidence_score > 0.9
    assert response.usage_info.pages_processed == 1


def test_the_sdk_reads_a_pdf_document_url_with_pages(live_server, secret):
    pdf = make_pdf([["First page"], ["Invoice 1042 total 120.00"]])

    with sdk(live_server, secret) as client:
        response = client.ocr.process(
            model="local/rapidocr",
            document={
                "type": "document_url",
                "document_url": data_url(pdf, "application/pdf"),
                "document_name": "invoice.pdf",
            },
            pages=[1],
            include_image_base64=True,
            table_format="markdown",
        )

    assert [p.index for p in response.pages] == [1]
    assert "Invoice 1042 total 120.00" in response.pages[0].markdown
    assert response.usage_info.doc_size_bytes == len(pdf)


def test_the_async_client_reads_pages_and_uploaded_files(live_server, secret, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    pdf = make_pdf([["First page"], ["Invoice 1042 total 120.00"]])

    async def run():
        async with sdk(live_server, secret) as client:
            image = client.ocr.process_async(
                model="mistral-ocr-latest",
                document={"type": "image_url", "image_url": data_url(phototest_png())},
                confidence_scores_granularity="word",
            )
            uploaded = await client.files.upload_async(
                file={"file_name": "invoice.pdf", "content": pdf}, purpose="ocr"
            )
            by_id = client.ocr.process_async(
                model="mistral-ocr-latest",
                document={"type": "file", "file_id": uploaded.id},
                pages="1",
            )
            return await asyncio.gather(image, by_id)

    image, by_id = asyncio.run(run())

    page = image.pages[0]
    assert_phototest_text(page.markdown)
    words = page.confidence_scores.word_confidence_scores
    assert words and all(page.markdown[w.start_index :].startswith(w.text) for w in words)
    assert [p.index for p in by_id.pages] == [1]
    assert "Invoice 1042 total 120.00" in by_id.pages[0].markdown
    assert by_id.usage_info.doc_size_bytes == len(pdf)


def test_the_sdk_sees_an_error_for_a_wrong_key(live_server):
    with sdk(live_server, "sk-ar-not-a-real-key") as client:
        with pytest.raises(SDKError) as caught:
            client.ocr.process(
                model="local/rapidocr",
                document={"type": "image_url", "image_url": data_url(phototest_png())},
            )

    assert caught.value.status_code == 401


def test_the_sdk_uploads_a_file_then_reads_it_by_signed_url_and_by_id(
    live_server, secret, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    pdf = make_pdf([["Invoice 1042 total 120.00"]])

    with sdk(live_server, secret) as client:
        uploaded = client.files.upload(
            file={"file_name": "invoice.pdf", "content": pdf}, purpose="ocr"
        )
        signed = client.files.get_signed_url(file_id=uploaded.id, expiry=1)
        by_url = client.ocr.process(
            model="local/rapidocr",
            document={"type": "document_url", "document_url": signed.url},
        )
        by_id = client.ocr.process(
            model="local/rapidocr", document={"type": "file", "file_id": uploaded.id}
        )
        listed = client.files.list()
        retrieved = client.files.retrieve(file_id=uploaded.id)
        deleted = client.files.delete(file_id=uploaded.id)

    assert uploaded.filename == "invoice.pdf" and uploaded.size_bytes == len(pdf)
    assert signed.url.startswith(live_server.url + "/files/signed/")
    for response in (by_url, by_id):
        assert "Invoice 1042 total 120.00" in response.pages[0].markdown
    assert [f.id for f in listed.data] == [uploaded.id] and listed.total == 1
    assert retrieved.id == uploaded.id and retrieved.deleted is False
    assert deleted.deleted is True


def test_the_sdk_gets_its_validation_error_for_a_bad_request(live_server, secret):
    with sdk(live_server, secret) as client:
        with pytest.raises(HTTPValidationError) as caught:
            client.ocr.process(
                model="local/rapidocr",
                document={"type": "image_url", "image_url": data_url(phototest_png())},
                pages="a-b",
            )

    assert caught.value.status_code == 422
    (detail,) = caught.value.data.detail
    assert detail.loc == ["body", "pages"] and detail.type == "invalid_pages"


def test_the_sdk_lists_and_retrieves_models(live_server, secret):
    with sdk(live_server, secret) as client:
        listed = client.models.list()
        card = client.models.retrieve(model_id="local/rapidocr")
        alias = client.models.retrieve(model_id="mistral-ocr-latest")
        with pytest.raises(SDKError) as missing:
            client.models.retrieve(model_id="no-such-model")

    assert isinstance(listed, ModelList)
    ids = {model.id for model in listed.data}
    assert {"local/rapidocr", "mistral-ocr-latest"} <= ids
    assert isinstance(card, BaseModelCard) and card.capabilities.ocr
    assert "mistral-ocr-latest" in card.aliases
    assert alias.aliases == ["local/rapidocr"]
    assert missing.value.status_code == 404


@pytest.mark.parametrize("model", ["mistral-ocr-latest", "mistral-ocr-4-1", "mistral-ocr-2512"])
def test_the_sdk_reads_with_the_model_names_mistrals_docs_give(live_server, secret, model):
    # Mistral's current OCR model is `mistral-ocr-4-1` (GA 2026-08-31, also behind
    # `mistral-ocr-latest`); a client copying its docs was refused with 400 invalid_model.
    with sdk(live_server, secret) as client:
        response = client.ocr.process(
            model=model,
            document={"type": "image_url", "image_url": data_url(phototest_png())},
        )
        card = client.models.retrieve(model_id=model)

    assert_phototest_text(response.pages[0].markdown)
    assert response.usage_info.pages_processed == 1
    assert card.id == model and card.aliases == ["local/rapidocr"]


def test_raw_base64_for_an_image_url_is_told_to_be_a_data_url(live_server, secret):
    # A common slip: the bytes without their `data:` prefix. It was refused as
    # "'document.image_url' is too long.", which pointed away from the cause.
    with sdk(live_server, secret) as client:
        with pytest.raises(HTTPValidationError) as caught:
            client.ocr.process(
                model="mistral-ocr-latest",
                document={"type": "image_url", "image_url": b64(phototest_png())},
            )

    assert caught.value.status_code == 422
    (detail,) = caught.value.data.detail
    assert detail.loc == ["body", "document", "image_url"] and detail.type == "invalid_url"
    assert "data:<type>;base64," in detail.msg and "too long" not in detail.msg


def test_an_unknown_model_names_the_mistral_names_that_work(live_server, secret):
    # `mistral-ocr-4-0` was retired by Mistral on 2026-09-30. The refusal listed only
    # `local/rapidocr`, not the Mistral names answered here (`mistral-ocr-latest`, ...).
    with sdk(live_server, secret) as client:
        with pytest.raises(SDKError) as caught:
            client.ocr.process(
                model="mistral-ocr-4-0",
                document={"type": "image_url", "image_url": data_url(phototest_png())},
            )

    assert caught.value.status_code == 400
    error = json.loads(caught.value.body)["error"]
    assert error["code"] == "invalid_model"
    assert {"local/rapidocr", "mistral-ocr-latest", "mistral-ocr-4-1"} <= set(error["valid_models"])
    assert "mistral-ocr-latest" in error["message"]


def test_the_sdk_sees_402_429_and_a_refused_management_key(live_server, funded, org_b, org_a):
    document = {"type": "image_url", "image_url": data_url(phototest_png())}
    broke = api_key_create(organization=org_b, name="broke")[1]
    slow = api_key_create(organization=funded, name="slow", rate_limit_rpm=1)[1]
    management = api_key_create(organization=org_a, kind="management", name="mgmt")[1]

    def refusal(secret: str) -> SDKError:
        with sdk(live_server, secret) as client:
            with pytest.raises(SDKError) as caught:
                client.ocr.process(model="mistral-ocr-latest", document=document)
        return caught.value

    assert refusal(broke).status_code == 402
    with sdk(live_server, slow) as client:
        client.ocr.process(model="mistral-ocr-latest", document=document)
    limited = refusal(slow)
    # The SDK retries 429 only when a retry config is given, and then sleeps Retry-After.
    assert limited.status_code == 429 and 0 < int(limited.headers["retry-after"]) <= 60
    refused = refusal(management)
    assert refused.status_code == 401
    assert json.loads(refused.body)["error"]["code"] == "invalid_api_key"
