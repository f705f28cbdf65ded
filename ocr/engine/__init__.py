"""The local OCR engines (`local/rapidocr`, `local/tesseract`) and their worker pool.

The public functions import their implementation lazily: worker processes import
`ocr.engine.*` modules without Django being configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ocr.intake.document import Document
    from ocr.types import OcrResult


def engine_run(
    document: Document, *, engine: str = "rapidocr", language: str | None = None
) -> OcrResult:
    from ocr.engine.runner import engine_run as run

    return run(document, engine=engine, language=language)


def engine_available(engine: str) -> bool:
    from ocr.engine.runner import engine_available as available

    return available(engine)


__all__ = ["engine_available", "engine_run"]
