"""A burst beyond what the local engine can start in time: 503 engine_busy, no charge."""

from __future__ import annotations

import threading
import time

import pytest

from ocr.engine.pool import pool_get, pool_map
from ocr.providers.health import provider_health_get
from tests.ocr.dialect_support import assert_not_charged, data_url, error_code, phototest_png

pytestmark = pytest.mark.django_db


def test_a_request_queued_past_the_limit_is_503_with_retry_after_and_costs_nothing(
    client, funded, settings
):
    if pool_get().ocr_workers != 1:
        pytest.skip("needs a one-worker pool")
    settings.OCR_QUEUE_TIMEOUT_S = 0.5
    health_before = provider_health_get(slugs=["local"])["local"]
    # One page running for 2 s and two more in the worker's call queue: ours waits.
    busy = [
        threading.Thread(target=pool_map, args=(time.sleep, [2.0])),
        threading.Thread(target=pool_map, args=(abs, [-1, -2])),
    ]
    for thread in busy:
        thread.start()
        time.sleep(0.1)

    response = client.post("/v1/ocr", {"base64": data_url(phototest_png())}, format="json")

    for thread in busy:
        thread.join()
    assert response.status_code == 503, response.content
    assert error_code(response) == "engine_busy"
    assert int(response["Retry-After"]) > 0
    assert_not_charged(funded)
    # Busy is not broken: the local provider is not put in a cool-down.
    assert provider_health_get(slugs=["local"])["local"] == health_before
    assert health_before[0] is False
    settings.OCR_QUEUE_TIMEOUT_S = 120
    assert (
        client.post("/v1/ocr", {"base64": data_url(phototest_png())}, format="json").status_code
        == 200
    )
