"""Reading PDF pages that carry a text layer, with PDFium, in the web process.

No OCR and no rendering: a born-digital page's own text is exact and costs about a
millisecond. A page counts as having a text layer when it has real characters, unless
it is a scan with only a few stray characters, or a line or two of stamp, over a
full-page image, or its fonts give no Unicode for its characters (then it is OCRed).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from ocr.engine.layout import rows_build
from ocr.engine.tasks import Line
from ocr.intake.document import PDFIUM_LOCK, Document, pdf_open
from ocr.types import Block, PageResult

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Fewer characters than this over a page-sized image: a scan with a stamp or page number.
_SCAN_TEXT_MAX_CHARS = 40
# Text whose boxes cover less than this share of a page-sized image: a scan carrying a
# fax header, a Bates number or a copier stamp, not the page's text (a scanner's own OCR
# layer covers its lines, far more than this).
_SCAN_TEXT_MAX_AREA = 0.03
# More than this share of a page's characters without a Unicode value (a font without a
# ToUnicode map whose codes are glyph ids: "7KHTXLFN" for "The quick"): the text layer
# is garbage and the page is OCRed.
_UNMAPPED_MAX_SHARE = 0.25
_UNMAPPED_SAMPLE = 400


def text_normalize(text: str) -> str:
    # PDFium marks a hyphen that ends a line, the word going on below, as U+FFFE and
    # leaves out the line break: both go back as printed ("exam-" / "ple").
    text = text.replace("\ufffe", "-\n")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _image_coverage(page, width: float, height: float) -> float:
    import pypdfium2.raw as pdfium_c

    covered = 0.0
    for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        left, bottom, right, top = obj.get_bounds()
        covered = max(covered, max(0.0, right - left) * max(0.0, top - bottom))
    return covered / max(width * height, 1.0)


def _unmapped_share(textpage) -> float:
    """The share of the page's characters (a sample of them) PDFium found no Unicode for."""
    import pypdfium2.raw as pdfium_c

    count = textpage.count_chars()
    checked = unmapped = 0
    for char_index in range(0, count, max(1, count // _UNMAPPED_SAMPLE)):
        if pdfium_c.FPDFText_IsGenerated(textpage.raw, char_index) == 1:
            continue  # a space or line break PDFium inferred from positions
        checked += 1
        unmapped += pdfium_c.FPDFText_HasUnicodeMapError(textpage.raw, char_index) == 1
    return unmapped / max(checked, 1)


def _upright_rotation(textpage) -> int | None:
    """The page rotation (0, 90, 180, 270) under which most of the characters stand
    upright, from a sample of them; None when PDFium gives no angles."""
    import pypdfium2.raw as pdfium_c

    count = textpage.count_chars()
    votes: Counter[int] = Counter()
    for char_index in range(0, count, max(1, count // _UNMAPPED_SAMPLE)):
        angle = pdfium_c.FPDFText_GetCharAngle(textpage.raw, char_index)
        if angle >= 0:  # clockwise on the unrotated page, in radians; -1: none
            votes[round(math.degrees(angle) / 90) % 4] += 1
    if not votes:
        return None
    return (360 - votes.most_common(1)[0][0] * 90) % 360


def _shown_box(page, width: float, height: float):
    """Maps a rectangle in the PDF's own coordinates (origin of the MediaBox, y up, before
    /Rotate) to the page as shown: origin top left, y down, in points, as OCRed pages'
    boxes are. Taken as they were, boxes of a turned page or of a MediaBox not starting
    at 0,0 came out rotated or negative."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    size_x, size_y = max(1, round(width * 10)), max(1, round(height * 10))
    x, y = ctypes.c_int(), ctypes.c_int()

    def shown(page_x: float, page_y: float) -> tuple[float, float]:
        pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, size_x, size_y, 0, page_x, page_y, x, y)
        return x.value / 10, y.value / 10

    def to_page(left: float, bottom: float, right: float, top: float):
        (x0, y0), (x1, y1) = shown(left, bottom), shown(right, top)
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    return to_page


def _page_read(page, index: int) -> PageResult | None:
    textpage = page.get_textpage()
    # PDFium orders lines as they stand on the page shown with its /Rotate: lines that
    # then run downwards come out last line first. Read with the page turned so that
    # its text stands upright (its size and boxes too, as an OCRed page's).
    upright = _upright_rotation(textpage)
    if upright is not None and upright != page.get_rotation():
        textpage.close()
        page.set_rotation(upright)
        textpage = page.get_textpage()
    width, height = page.get_size()
    try:
        text = text_normalize(textpage.get_text_range())
        if not any(ch.isalnum() for ch in text):
            return None
        if _unmapped_share(textpage) > _UNMAPPED_MAX_SHARE:
            return None  # glyph ids, not text: the rendered page reads right
        scanned = _image_coverage(page, width, height) > 0.5
        if len(text) < _SCAN_TEXT_MAX_CHARS and scanned:
            return None
        lines = []
        text_area = 0.0
        to_page = _shown_box(page, width, height)
        for rect_index in range(min(textpage.count_rects(), 5000)):
            left, bottom, right, top = textpage.get_rect(rect_index)
            piece = text_normalize(textpage.get_text_bounded(left, bottom, right, top))
            if piece:
                lines.append(Line(piece, to_page(left, bottom, right, top), 1.0))
                text_area += max(0.0, right - left) * max(0.0, top - bottom)
        if scanned and text_area < _SCAN_TEXT_MAX_AREA * width * height:
            return None  # the scan is the page: OCR it (the stamp is in the render too)
    finally:
        textpage.close()
    blocks = [
        Block(
            "text",
            row.text,
            (
                round(min(line.box[0] for line in row.lines), 1),
                round(row.top, 1),
                round(max(line.box[2] for line in row.lines), 1),
                round(row.bottom, 1),
            ),
            1.0,
        )
        for row in rows_build(lines)
    ]
    return PageResult(
        index=index,
        markdown=text,
        width=round(width),
        height=round(height),
        dpi=72,
        blocks=blocks,
        confidence=1.0,
        from_text_layer=True,
    )


def pdf_text_layer_read(document: Document) -> dict[int, PageResult | None]:
    """Each selected page's text-layer result, or None where the page must be OCRed."""
    results: dict[int, PageResult | None] = {}
    with PDFIUM_LOCK:
        pdf = pdf_open(document.data, password=document.password)
        try:
            for index in document.pages:
                page = pdf[index]
                try:
                    results[index] = _page_read(page, index)
                finally:
                    page.close()
        finally:
            pdf.close()
    return results
