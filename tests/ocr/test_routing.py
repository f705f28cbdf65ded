"""Routing: which providers serve a model, failover between them, and the cool-down."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.cache import cache

from config.api import ApiError
from ocr import routing
from ocr.intake.document import document_open
from ocr.models import Provider
from ocr.providers import health
from ocr.routing import route_call, route_candidates
from ocr.types import DocumentSource, OcrRequest
from tests.fakes.documents import pdf_bytes, png_bytes

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.usefixtures("fast_retries")


def ocr_request() -> OcrRequest:
    return OcrRequest(dialect="test", source=DocumentSource(data=b"x"), max_bytes=1 << 20)


def ocr(candidates, data: bytes | None = None):
    document = document_open(data=data or png_bytes())
    return route_call(candidates=candidates, document=document, request=ocr_request())


def test_candidates_come_in_priority_order(fake_mistral, fake_openai, provider_for):
    second = provider_for(fake_openai, model="shared", priority=20)
    first = provider_for(fake_mistral, model="shared", priority=10)

    assert route_candidates(model="shared", provider_id=None) == [first, second]


def test_no_model_means_the_default_model(fake_openai, provider_for, settings):
    served = provider_for(fake_openai, model="house-default")
    settings.OCR_DEFAULT_MODEL = "house-default"

    assert route_candidates(model=None, provider_id=None) == [served]


def test_an_unknown_model_is_400_with_the_valid_ones(fake_openai, provider_for):
    provider_for(fake_openai, model="known-model")

    with pytest.raises(ApiError) as caught:
        route_candidates(model="gpt-17", provider_id=None)

    error = caught.value
    assert (error.status, error.code) == (400, "invalid_model")
    assert "known-model" in error.extra["valid_models"]
    assert "gpt-17" in error.message


def test_disabled_providers_and_models_are_not_served(fake_mistral, fake_openai, provider_for):
    on = provider_for(fake_openai, model="m")
    off = provider_for(fake_mistral, model="m", priority=1)
    Provider.objects.filter(pk=off.provider.pk).update(enabled=False)
    assert route_candidates(model="m", provider_id=None) == [on]

    on.enabled = False
    on.save()
    with pytest.raises(ApiError):
        route_candidates(model="m", provider_id=None)


def test_a_change_is_seen_by_the_next_request(fake_openai, provider_for):
    # Read each request: no per-process copy to go stale, on any worker.
    served = provider_for(fake_openai, model="m")
    assert route_candidates(model="m", provider_id=None) == [served]

    Provider.objects.filter(pk=served.provider.pk).update(priority=99, enabled=False)

    with pytest.raises(ApiError):
        route_candidates(model="m", provider_id=None)


def test_a_worker_sees_a_change_once_its_snapshot_is_2_seconds_old(
    fake_openai, provider_for, settings, monkeypatch
):
    settings.OCR_PROVIDER_CACHE_S = 2
    now = [1000.0]
    monkeypatch.setattr(routing, "clock", lambda: now[0])
    monkeypatch.setattr(routing, "_snapshot", None)
    served = provider_for(fake_openai, model="m")
    assert route_candidates(model="m", provider_id=None) == [served]

    Provider.objects.filter(pk=served.provider.pk).update(enabled=False)
    now[0] += 1.9
    assert route_candidates(model="m", provider_id=None) == [served]  # this worker's snapshot
    now[0] += 0.2
    with pytest.raises(ApiError):
        route_candidates(model="m", provider_id=None)


def test_provider_id_picks_one_provider(fake_mistral, fake_openai, provider_for):
    provider_for(fake_mistral, model="m", priority=1)
    chosen = provider_for(fake_openai, model="m", priority=2)

    assert route_candidates(model="m", provider_id=chosen.provider.slug) == [chosen]


def test_provider_id_alone_uses_that_providers_first_model(fake_cloudflare, provider_for):
    chosen = provider_for(fake_cloudflare, model="cf-markdown")

    assert route_candidates(model=None, provider_id=chosen.provider.slug) == [chosen]


def test_an_unknown_provider_id_is_400_invalid_model(fake_openai, provider_for):
    provider_for(fake_openai, model="m")

    with pytest.raises(ApiError) as caught:
        route_candidates(model="m", provider_id="nope")

    assert (caught.value.status, caught.value.code) == (400, "invalid_model")


def test_it_fails_over_to_the_next_provider(fake_mistral, fake_openai, provider_for):
    first = provider_for(fake_mistral, model="m", priority=1)
    second = provider_for(fake_openai, model="m", priority=2)
    fake_mistral.fail_always("500")

    result = ocr([first, second])

    assert result.provider == second.provider.slug
    assert result.model == "m"
    assert len(fake_mistral.requests) == 3  # retried before failing over
    assert len(fake_openai.requests) == 1


def test_a_4xx_fails_over_at_once(fake_mistral, fake_openai, provider_for):
    first = provider_for(fake_mistral, model="m", priority=1)
    second = provider_for(fake_openai, model="m", priority=2)
    fake_mistral.fail("401")

    assert ocr([first, second]).provider == second.provider.slug
    assert len(fake_mistral.requests) == 1


def test_all_failed_is_502_ocr_upstream_failed(fake_mistral, fake_openai, provider_for):
    first = provider_for(fake_mistral, model="m", priority=1)
    second = provider_for(fake_openai, model="m", priority=2)
    fake_mistral.fail_always("503")
    fake_openai.fail_always("timeout")
    second.provider.timeout_s = 0.2
    second.provider.save()

    with pytest.raises(ApiError) as caught:
        ocr([first, second])

    error = caught.value
    assert (error.status, error.code) == (502, "ocr_upstream_failed")
    assert first.provider.slug in error.message and "HTTP 503" in error.message
    assert "timed out" in error.message


def test_a_provider_failing_repeatedly_cools_down(
    fake_mistral, fake_openai, provider_for, settings, monkeypatch
):
    settings.OCR_PROVIDER_FAILURE_THRESHOLD = 2
    settings.OCR_PROVIDER_COOLDOWN_S = 30
    flaky = provider_for(fake_mistral, model="m", priority=1)
    backup = provider_for(fake_openai, model="m", priority=2)
    fake_mistral.fail_always("500")

    ocr([flaky, backup])
    ocr([flaky, backup])  # second failure: the cool-down starts
    assert len(fake_mistral.requests) == 6
    assert health.provider_cooling_down(slug=flaky.provider.slug)

    fake_mistral.fail_always(None)
    result = ocr([flaky, backup])

    assert result.provider == backup.provider.slug
    assert len(fake_mistral.requests) == 6  # skipped, not called

    # Once the cool-down is over the provider is tried again (and healthy).
    now = health.clock()
    monkeypatch.setattr(health, "clock", lambda: now + 31)
    assert ocr([flaky, backup]).provider == flaky.provider.slug
    assert len(fake_mistral.requests) == 7


def test_the_cool_down_lives_in_the_shared_cache(fake_mistral, provider_for, settings):
    settings.OCR_PROVIDER_FAILURE_THRESHOLD = 1
    flaky = provider_for(fake_mistral, model="m")
    fake_mistral.fail_always("500")

    with pytest.raises(ApiError):
        ocr([flaky])

    # What another worker would read: the cache, not this process's memory.
    assert cache.get(f"provider:cooldown:{flaky.provider.slug}") > health.clock()
    with pytest.raises(ApiError) as caught:
        ocr([flaky])
    assert "cooling down" in caught.value.message
    assert len(fake_mistral.requests) == 3


def test_a_success_resets_the_failure_streak(fake_mistral, provider_for, settings):
    settings.OCR_PROVIDER_FAILURE_THRESHOLD = 2
    model = provider_for(fake_mistral, model="m")

    fake_mistral.fail("500", "500", "500")
    with pytest.raises(ApiError):
        ocr([model])
    ocr([model])  # healthy again
    fake_mistral.fail("500", "500", "500")
    with pytest.raises(ApiError):
        ocr([model])

    assert not health.provider_cooling_down(slug=model.provider.slug)


def test_an_unreachable_shared_cache_leaves_providers_usable(fake_openai, provider_for, settings):
    """Redis down: the rate limit falls back to the database, and the providers' health,
    which is only advice, must not turn every OCR request into a 500 either."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    model = provider_for(fake_openai, model="m")
    fake_openai.fail("500")  # a failure to record, then a success

    result = ocr([model])

    assert result.provider == model.provider.slug
    assert not health.provider_cooling_down(slug=model.provider.slug)


def test_a_document_no_provider_can_read_is_502_extraction_error(
    fake_cloudflare, provider_for, settings
):
    settings.OCR_PROVIDER_FAILURE_THRESHOLD = 1
    model = provider_for(fake_cloudflare, model="m")
    fake_cloudflare.unreadable = {"document-p1.pdf"}

    with pytest.raises(ApiError) as caught:
        ocr([model], pdf_bytes(1))

    assert (caught.value.status, caught.value.code) == (502, "ocr_extraction_error")
    # The document's fault says nothing about the provider's health.
    assert not health.provider_cooling_down(slug=model.provider.slug)


def test_a_document_error_still_fails_over(fake_cloudflare, fake_mistral, provider_for):
    first = provider_for(fake_cloudflare, model="m", priority=1)
    second = provider_for(fake_mistral, model="m", priority=2)
    fake_cloudflare.unreadable = {"document-p1.pdf"}

    assert ocr([first, second], pdf_bytes(1)).provider == second.provider.slug


def test_the_local_engine_is_a_provider_too(db, corpus):
    (candidate,) = route_candidates(model="local/rapidocr", provider_id=None)
    document = document_open(data=(corpus / "tesseract" / "phototest.tif").read_bytes())

    result = route_call(candidates=[candidate], document=document, request=ocr_request())

    assert (result.provider, result.model) == ("local", "local/rapidocr")
    assert "quick brown dog" in result.text.lower()
    assert result.upstream_latency_ms > 0


def test_a_cool_down_started_by_another_worker_is_seen_here():
    # Another process, as another gunicorn worker would be, with the same cache settings.
    slug = f"other-worker-{uuid.uuid4().hex[:8]}"
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "settings.OCR_PROVIDER_FAILURE_THRESHOLD = 1\n"
        "from ocr.providers.health import provider_failure_record\n"
        f"assert provider_failure_record(slug={slug!r})\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    root = Path(__file__).resolve().parents[2]
    try:
        subprocess.run([sys.executable, "-c", code], env=env, cwd=root, check=True, timeout=60)

        assert health.provider_cooling_down(slug=slug)
    finally:
        health.provider_health_reset(slug=slug)


def test_a_well_known_client_model_name_is_answered_by_its_alias(db, settings):
    settings.OCR_MODEL_ALIASES = {"mistral-ocr-latest": "local/rapidocr"}
    candidates = route_candidates(model="mistral-ocr-latest", provider_id=None)
    assert [c.name for c in candidates] == ["local/rapidocr"]


def test_aliases_can_be_turned_off(db, settings):
    settings.OCR_MODEL_ALIASES = {}
    with pytest.raises(ApiError) as caught:
        route_candidates(model="mistral-ocr-latest", provider_id=None)
    assert caught.value.code == "invalid_model"


def test_each_worker_reads_provider_health_at_most_once_a_second(
    fake_mistral, provider_for, settings, monkeypatch
):
    settings.OCR_PROVIDER_HEALTH_CACHE_S = 1
    settings.OCR_PROVIDER_FAILURE_THRESHOLD = 1
    model = provider_for(fake_mistral, model="m")
    slug = model.provider.slug
    now = [1000.0]
    monkeypatch.setattr(health, "snapshot_clock", lambda: now[0])
    assert health.provider_health_get(slugs=[slug]) == {slug: (False, 0)}

    # Another worker starts a cool-down: this one sees it once its copy is a second old.
    cache.set(f"provider:cooldown:{slug}", health.clock() + 30, timeout=31)
    now[0] += 0.5
    assert health.provider_health_get(slugs=[slug]) == {slug: (False, 0)}
    now[0] += 0.6
    assert health.provider_health_get(slugs=[slug]) == {slug: (True, 0)}

    # What this worker records itself it sees at once.
    health.provider_health_reset(slug=slug)
    assert health.provider_health_get(slugs=[slug]) == {slug: (False, 0)}
    fake_mistral.fail_always("500")
    with pytest.raises(ApiError):
        ocr([model])
    assert health.provider_health_get(slugs=[slug]) == {slug: (True, 0)}
    health.provider_health_reset(slug=slug)


def test_reading_health_while_other_threads_record_never_fails(settings, monkeypatch):
    import threading

    settings.OCR_PROVIDER_HEALTH_CACHE_S = 1
    # Switch threads as often as the interpreter can, so a window between two reads of
    # the shared copy is hit if there is one.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    monkeypatch.setattr(health, "snapshot_clock", lambda: 5.0)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(2000):
                assert set(health.provider_health_get(slugs=["p1", "p2"])) == {"p1", "p2"}
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    def forgetter() -> None:
        for _ in range(4000):
            health._forget("p1")
            health._forget("p2")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    threads.append(threading.Thread(target=forgetter))
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert errors == []


def test_an_alias_answers_within_the_provider_asked_for(db, settings):
    settings.OCR_MODEL_ALIASES = {"alpha-digit-max": "local/rapidocr"}
    candidates = route_candidates(model="alpha-digit-max", provider_id="local")
    assert [(c.provider.slug, c.name) for c in candidates] == [("local", "local/rapidocr")]
