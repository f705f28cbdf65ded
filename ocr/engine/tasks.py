"""What the web process hands a worker for one page, and what comes back.

Kept free of Django imports: spawned worker processes import this module without
settings being configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PageTask:
    engine: str  # "rapidocr" or "tesseract"
    kind: str  # "image" or "pdf"
    index: int  # 0-based page (or TIFF frame) in the document
    data: bytes | None = field(default=None, repr=False)  # small files travel inline
    path: str | None = None  # large files are shared through a temporary file
    password: str | None = None
    render_dpi: int = 200
    max_pixels: int = 60_000_000
    language: str | None = None


@dataclass
class Line:
    """One recognised text line in page pixels.

    `frame` is the line's box on the page turned straight (a scan's skew undone), when
    the page was skewed: layout orders and groups lines by it, and reports `box`.
    """

    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1
    confidence: float
    frame: tuple[float, float, float, float] | None = None

    @property
    def layout_box(self) -> tuple[float, float, float, float]:
        return self.frame or self.box
