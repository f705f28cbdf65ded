"""A failing multi-page call stops spending, and a request's upstream time is bounded.

The upstreams are the fakes (real HTTP servers on 127.0.0.1); the requests go through
the docsrouter dialect, so what the tenant pays is checked too.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from PIL import Image

from billing.models import LedgerEntry, UsageRecord
from billing.selectors import credits_available_micros
from ocr.intake.document import document_open
from ocr.providers import health
from ocr.providers.pages import page_images
from tests.fakes.documents import image_size, pdf_bytes
from tests.ocr.documents import make_pdf

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.usefixtures("fast_retries")

SROIE = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "sroie"
PRICES = {"per_page_micros": 2000}


@pytest.fixture(scope="module")
def receipts_pdf() -> bytes:
    """A 10-page scan: the corpus's ten receipts, one a page."""
    scans = sorted(SROIE.glob("*.jpg"))
    if len(scans) < 10:
        pytest.skip(f"corpus receipts not found in {SROIE}")
    pages = []
    for path in scans[:10]:
        image = Image.open(path).convert("L")
        image.thumbnail((800, 800))
        pages.append(image)
    return make_pdf(pages)


def sent_sizes(pdf: bytes) -> list[tuple[int, int]]:
    """The size of each page image the OpenAI-compatible provider sends."""
    images = page_images(document_open(data=pdf))
    return [image_size(data) for _, data, _ in images]


@pytest.fixture
def docsrouter(funded_org_a, api_key, client_for):
    def post(data: bytes, model: str):
        _, secret = api_key
        body = {"base64": base64.b64encode(data).decode(), "model": model}
        return client_for(secret).post("/v1/ocr", body, format="json")

    return post


def assert_charged_nothing(organization, before: int) -> None:
    assert credits_available_micros(organization=organization) == before  # hold released
    assert not LedgerEntry.objects.filter(organization=organization, kind="charge").exists()
    usage = UsageRecord.objects.get(organization=organization)
    assert (usage.status, usage.error_code, usage.total_micros) == (
        "failed",
        "ocr_upstream_failed",
        0,
    )


# --- a page that fails for good stops the others ------------------------------------


def test_a_page_cut_off_stops_the_pages_not_yet_sent(
    fake_openai, provider_for, receipts_pdf, docsrouter, funded_org_a, settings
):
    settings.OCR_PROVIDER_PAGE_CONCURRENCY = 4
    provider_for(fake_openai, model="vision", prices=PRICES)
    sizes = sent_sizes(receipts_pdf)
    assert len(set(sizes)) == 10
    fake_openai.dense_sizes = {sizes[1]}  # page 2: cut off at the output limit, every time
    # The other pages take a while, so page 2's answer is in before any of them.
    fake_openai.latency_for = lambda request: (
        0 if fake_openai.image_sizes(request)[0] == sizes[1] else 0.3
    )
    before = credits_available_micros(organization=funded_org_a)

    response = docsrouter(receipts_pdf, "vision")

    assert response.status_code == 502, response.content
    assert "finish_reason: length" in response.content.decode()
    # Pages 1-4 went out together; pages 5-10 were never sent (before: all 10).
    sent = [fake_openai.image_sizes(request)[0] for request in fake_openai.requests]
    assert len(sent) <= settings.OCR_PROVIDER_PAGE_CONCURRENCY + 1
    assert sizes[1] in sent
    assert not set(sent) & set(sizes[6:])
    assert_charged_nothing(funded_org_a, before)


def test_pages_in_flight_are_not_tried_again_once_a_page_failed(
    fake_openai, provider_for, receipts_pdf, docsrouter, funded_org_a, settings
):
    provider_for(fake_openai, model="vision", prices=PRICES)
    sizes = sent_sizes(receipts_pdf)
    fake_openai.dense_sizes = {sizes[1]}
    # The other pages fail transiently after a while: each would be tried three times.
    fake_openai.latency_for = lambda request: (
        0 if fake_openai.image_sizes(request)[0] == sizes[1] else 0.3
    )
    fake_openai.fault_for = lambda request: (
        None if fake_openai.image_sizes(request)[0] == sizes[1] else "503"
    )

    response = docsrouter(receipts_pdf, "vision")

    assert response.status_code == 502, response.content
    assert len(fake_openai.requests) <= 5  # before: 28 (9 pages x 3 tries, and page 2)


def test_another_provider_still_reads_every_page_after_one_was_cut_off(
    fake_openai, provider_for, receipts_pdf, docsrouter, funded_org_a
):
    with type(fake_openai)() as roomier:  # a provider of the same model that allows more
        first = provider_for(fake_openai, model="vision", priority=1, prices=PRICES)
        second = provider_for(roomier, model="vision", priority=2, prices=PRICES)
        cut = sent_sizes(receipts_pdf)[1]
        fake_openai.dense_sizes = {cut}
        # The other pages take a while, so the cut page's answer is in before any of them
        # (with every page instant, all ten could be sent before the stop: a flaky test).
        fake_openai.latency_for = lambda request: (
            0 if fake_openai.image_sizes(request)[0] == cut else 0.3
        )

        response = docsrouter(receipts_pdf, "vision")

        assert response.status_code == 200, response.content
        assert len(roomier.requests) == 10
        assert len(fake_openai.requests) < 10
        usage = UsageRecord.objects.get(organization=funded_org_a)
        assert (usage.provider, usage.pages) == (second.provider.slug, 10)
        assert first.provider.slug != usage.provider


# --- the request's upstream budget ------------------------------------------------------


def hung(fake):
    fake.fault_delay_s = 30  # far longer than the test; stop() ends the wait
    fake.fail_always("timeout")
    return fake


def test_a_hung_upstream_holds_the_client_no_longer_than_the_budget(
    fake_openai, fake_mistral, provider_for, docsrouter, funded_org_a, settings
):
    settings.OCR_UPSTREAM_BUDGET_S = 1.5
    # Alone, each provider would take 3 tries x 1 s, plus the backoff.
    provider_for(hung(fake_openai), model="vision", priority=1, timeout_s=1, prices=PRICES)
    provider_for(hung(fake_mistral), model="vision", priority=2, timeout_s=1, prices=PRICES)
    before = credits_available_micros(organization=funded_org_a)

    started = time.monotonic()
    response = docsrouter(pdf_bytes(3), "vision")
    elapsed = time.monotonic() - started

    assert response.status_code == 502, response.content
    assert "ocr_upstream_failed" in response.content.decode()
    assert "upstream time budget (1.5 s) ran out" in response.content.decode()
    assert 1.4 <= elapsed < 1.5 + 1.0  # before: 6.1 s
    # Each page: one whole try, then a retry cut to the 0.5 s left.
    assert len(fake_openai.requests) == 3 * 2
    assert fake_mistral.requests == []  # no failover once the budget is spent
    assert_charged_nothing(funded_org_a, before)


def test_the_budget_cuts_a_try_and_stops_the_retries(
    fake_mistral, provider_for, docsrouter, funded_org_a, settings
):
    settings.OCR_UPSTREAM_BUDGET_S = 0.8
    provider_for(hung(fake_mistral), model="scan", timeout_s=0.5, prices=PRICES)
    before = credits_available_micros(organization=funded_org_a)

    started = time.monotonic()
    response = docsrouter(pdf_bytes(1), "scan")
    elapsed = time.monotonic() - started

    assert response.status_code == 502, response.content
    # One whole try of 0.5 s, a retry cut to the 0.3 s left, no third try.
    assert len(fake_mistral.requests) == 2
    assert 0.75 <= elapsed < 0.8 + 0.5  # before: 1.5 s
    assert_charged_nothing(funded_org_a, before)


def test_failover_still_happens_within_the_budget(
    fake_openai, fake_mistral, provider_for, docsrouter, funded_org_a, settings
):
    settings.OCR_UPSTREAM_BUDGET_S = 10
    provider_for(hung(fake_openai), model="vision", priority=1, timeout_s=0.3)
    backup = provider_for(fake_mistral, model="vision", priority=2, prices=PRICES)

    response = docsrouter(pdf_bytes(1), "vision")

    assert response.status_code == 200, response.content
    assert len(fake_openai.requests) == 3  # tried three times, then failed over
    assert UsageRecord.objects.get(organization=funded_org_a).provider == backup.provider.slug


def test_a_try_cut_short_by_the_budget_does_not_count_towards_the_cool_down(
    fake_openai, fake_mistral, provider_for, docsrouter, funded_org_a, settings
):
    settings.OCR_PROVIDER_RETRIES = 0
    settings.OCR_PROVIDER_FAILURE_THRESHOLD = 1
    settings.OCR_UPSTREAM_BUDGET_S = 0.9
    # The first provider has its whole 0.5 s and fails; the second gets 0.4 s of its 1 s.
    slow = provider_for(hung(fake_openai), model="vision", priority=1, timeout_s=0.5)
    cut = provider_for(hung(fake_mistral), model="vision", priority=2, timeout_s=1)

    response = docsrouter(pdf_bytes(1), "vision")

    assert response.status_code == 502, response.content
    assert len(fake_mistral.requests) == 1
    cooling = health.provider_health_get(slugs=[slow.provider.slug, cut.provider.slug])
    assert cooling[slow.provider.slug][0] is True
    assert cooling[cut.provider.slug] == (False, 0)
