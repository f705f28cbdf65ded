"""The built-in engines (`local/rapidocr`, `local/tesseract`) behind the provider interface.

No HTTP and no secret: the engine runs in this host's worker pool. An engine failure on a
page is the document's problem (`ocr_extraction_error`), reported as a permanent error so
the router fails over without counting it against the provider's health.
"""

from __future__ import annotations

import logging
import time

from config.api import ApiError
from ocr.models import ProviderModel
from ocr.providers.base import EXTRACTION_ERROR, ProviderClient, ProviderError
from ocr.providers.budget import UpstreamBudget
from ocr.types import OcrRequest, OcrResult

logger = logging.getLogger(__name__)


def engine_name(model: ProviderModel) -> str:
    """`local/rapidocr` -> `rapidocr`; the upstream name may be given bare too."""
    return model.upstream_name.rsplit("/", 1)[-1]


class LocalClient(ProviderClient):
    kind = "local"

    def available(self, *, model: ProviderModel | None = None) -> bool:
        try:
            from ocr.engine import engine_available
        except ImportError:  # an install without the engine's dependencies
            logger.exception("the local OCR engine cannot be imported")
            return False

        if model is None:
            return engine_available("rapidocr") or engine_available("tesseract")
        return engine_available(engine_name(model))

    def ocr(
        self,
        document,
        *,
        model: ProviderModel,
        request: OcrRequest,
        budget: UpstreamBudget | None = None,
    ) -> OcrResult:
        # No upstream here: the engine keeps its own limits (OCR_PAGE_TIMEOUT_S, and
        # OCR_QUEUE_TIMEOUT_S for a busy pool), not the upstream budget.
        from ocr.engine import engine_run
        from ocr.engine.pool import BUSY_ERROR

        started = time.monotonic()
        try:
            result = engine_run(document, engine=engine_name(model), language=request.language)
        except ApiError as error:
            if error.status < 500:
                raise  # the client's document (e.g. a damaged page): no failover helps
            if error.code == BUSY_ERROR:
                raise  # 503 with Retry-After: the engine is healthy, only booked up
            raise ProviderError(
                f"{self.slug}: {error.message}",
                permanent=True,
                code=error.code if error.code == EXTRACTION_ERROR else "ocr_upstream_failed",
            ) from error
        result.model = model.name
        result.provider = self.slug
        if not result.upstream_latency_ms:
            result.upstream_latency_ms = int((time.monotonic() - started) * 1000)
        return result
