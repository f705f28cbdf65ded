"""What runs inside an OCR worker process: one page in, one `PageResult` out.

The engines are loaded once per process (the models take ~0.3 s and ~150 MiB) and
onnxruntime's intra-op threads are capped, so N workers use about N x OCR_THREADS cores.
Nothing here imports Django: workers are spawned, not forked, and never configure it.
"""

from __future__ import annotations

import os
import resource

from ocr.engine.images import PageDecodeError, PageImage, image_page_load, pdf_page_render
from ocr.engine.layout import page_layout
from ocr.engine.tasks import Line, PageTask

_STATE: dict = {"threads": 1, "timeout_s": 60.0, "rapidocr": None}


def worker_init(threads: int, timeout_s: float, preload: bool = True) -> None:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["OMP_THREAD_LIMIT"] = "1"
    import cv2

    cv2.setNumThreads(1)
    _STATE["threads"] = threads
    _STATE["timeout_s"] = timeout_s
    if preload:
        _rapidocr()


def _rapidocr():
    if _STATE["rapidocr"] is None:
        from ocr.engine.rapid import RapidRecognizer

        _STATE["rapidocr"] = RapidRecognizer(threads=_STATE["threads"])
    return _STATE["rapidocr"]


def peak_rss_mib(_: object = None) -> float:
    """This worker's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def page_lines(task: PageTask, page: PageImage) -> tuple[list[Line], int]:
    if task.engine == "tesseract":
        from ocr.engine.tesseract import tesseract_read

        lines = tesseract_read(page.pixels, language=task.language, timeout_s=_STATE["timeout_s"])
        return lines, 0
    return _rapidocr().read(page.pixels)


def _malloc_trim() -> None:
    """Hand freed heap back to the OS between pages, so peaks do not pile up (glibc)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def page_confidence(lines: list[Line]) -> float:
    """The lines' confidences weighted by their letters; an unread line (no text) weighs
    the letters its box would hold (about two a line height), at confidence 0."""
    weights = [
        len(line.text)
        or max(1.0, 2 * (line.box[2] - line.box[0]) / max(1.0, line.box[3] - line.box[1]))
        for line in lines
    ]
    total = sum(weights)
    return round(
        sum(line.confidence * w for line, w in zip(lines, weights, strict=True)) / total, 4
    )


def page_run(task: PageTask):
    """OCR one page. Raises PageDecodeError for damaged input, anything else is a failure."""
    try:
        return _page_run(task)
    finally:
        _malloc_trim()


def _page_run(task: PageTask):
    from ocr.types import PageResult

    page = pdf_page_render(task) if task.kind == "pdf" else image_page_load(task)
    lines, turn = page_lines(task, page)
    width, height = page.width, page.height
    if turn in (90, 270):
        width, height = height, width
    if page.scale != 1.0:
        factor = 1.0 / page.scale
        lines = [
            Line(
                line.text,
                tuple(value * factor for value in line.box),
                line.confidence,
                frame=tuple(value * factor for value in line.frame) if line.frame else None,
            )
            for line in lines
        ]
    read = [line for line in lines if line.text]
    markdown, blocks, tables = page_layout(read)
    confidence = page_confidence(lines) if read else None
    return PageResult(
        index=task.index,
        markdown=markdown,
        width=width,
        height=height,
        dpi=page.dpi,
        blocks=blocks,
        tables=tables,
        confidence=confidence,
    )


__all__ = ["PageDecodeError", "page_run", "peak_rss_mib", "worker_init"]
