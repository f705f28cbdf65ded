"""`engine_run`: a `Document` through the local engine to an `OcrResult`.

Text-layer PDF pages are read here directly; every other page becomes a `PageTask`
for the worker pool. Files above a few MiB reach the workers through a temporary
file instead of being pickled once per page.
"""

from __future__ import annotations

import os
import tempfile
import time

from django.conf import settings

from config.api import ApiError
from ocr.engine.language import language_detect
from ocr.engine.layout import markdown_plain
from ocr.engine.pool import EXTRACTION_ERROR, pool_map
from ocr.engine.tasks import PageTask
from ocr.intake.document import Document
from ocr.types import OcrResult, PageResult

ENGINES = ("rapidocr", "tesseract")
_INLINE_MAX_BYTES = 4 * 1024 * 1024


def engine_normalize(engine: str) -> str:
    name = (engine or "rapidocr").strip().lower().rsplit("/", 1)[-1]
    if name not in ENGINES:
        raise ApiError(400, "invalid_model", f"There is no local engine called {engine!r}.")
    return name


def engine_available(engine: str) -> bool:
    try:
        name = engine_normalize(engine)
    except ApiError:
        return False
    if name == "tesseract":
        from ocr.engine.tesseract import tesseract_binary

        return tesseract_binary() is not None
    import importlib.util
    from pathlib import Path

    from ocr.engine.rapid import MODEL_FILES

    spec = importlib.util.find_spec("rapidocr")
    if spec is None or spec.origin is None:
        return False
    models = Path(spec.origin).parent / "models"
    return all((models / name).exists() for name in MODEL_FILES.values())


def engine_run(
    document: Document, *, engine: str = "rapidocr", language: str | None = None
) -> OcrResult:
    name = engine_normalize(engine)
    if not engine_available(name):
        raise ApiError(502, EXTRACTION_ERROR, f"The local engine {name} is not installed here.")
    started = time.monotonic()
    pages: dict[int, PageResult] = {}
    to_ocr = list(document.pages)
    if document.is_pdf:
        from ocr.engine.textlayer import pdf_text_layer_read

        for index, result in pdf_text_layer_read(document).items():
            if result is not None:
                pages[index] = result
        to_ocr = [index for index in document.pages if index not in pages]
    if to_ocr:
        temp_path = None
        inline = len(document.data) <= _INLINE_MAX_BYTES
        try:
            if not inline:
                handle, temp_path = tempfile.mkstemp(prefix="ocr-doc-")
                with os.fdopen(handle, "wb") as file:
                    file.write(document.data)
            tasks = [
                PageTask(
                    engine=name,
                    kind="pdf" if document.is_pdf else "image",
                    index=index,
                    data=document.data if inline else None,
                    path=temp_path,
                    password=document.password,
                    render_dpi=settings.OCR_RENDER_DPI,
                    max_pixels=settings.OCR_MAX_IMAGE_PIXELS,
                    language=language,
                )
                for index in to_ocr
            ]
            from ocr.engine.worker import page_run

            for result in pool_map(page_run, tasks):
                pages[result.index] = result
        finally:
            if temp_path:
                os.unlink(temp_path)
    ordered = [pages[index] for index in document.pages]
    text = "\n\n".join(markdown_plain(page.markdown) for page in ordered)
    return OcrResult(
        model=f"local/{name}",
        pages=ordered,
        language=language_detect(text) or (language or None),
        provider="local",
        upstream_latency_ms=int((time.monotonic() - started) * 1000),
    )
