"""Turning a `Document` into what upstreams accept: page images, single-page PDFs.

Upstreams take a narrower set of formats than we accept (no BMP or TIFF for most, no
PDF for chat models), so these helpers convert the selected pages, keeping each page's
original 0-based index next to its bytes.
"""

from __future__ import annotations

import base64
import io

from django.conf import settings
from PIL import Image

from ocr.intake.document import PDFIUM_LOCK, Document, pdf_open

# Formats every image-capable upstream takes as they are.
PASSTHROUGH_IMAGE_TYPES = {"image/png", "image/jpeg", "image/webp"}
# Vision models downscale anyway; a bounded side keeps request bodies reasonable.
MAX_IMAGE_SIDE = 2048


def data_url(data: bytes, media_type: str) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _png(image: Image.Image) -> bytes:
    if image.mode not in ("RGB", "L", "RGBA"):
        image = image.convert("RGB")
    if max(image.size) > MAX_IMAGE_SIDE:
        image = image.copy()
        image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def page_images(document: Document) -> list[tuple[int, bytes, str]]:
    """(original page index, image bytes, media type) for each selected page."""
    if document.is_pdf:
        return _pdf_page_images(document)
    if document.page_count == 1 and document.media_type in PASSTHROUGH_IMAGE_TYPES:
        return [(0, document.data, document.media_type)]
    out = []
    with Image.open(io.BytesIO(document.data)) as image:
        for index in document.pages:
            image.seek(index)
            out.append((index, _png(image), "image/png"))
    return out


def _pdf_page_images(document: Document) -> list[tuple[int, bytes, str]]:
    dpi = int(getattr(settings, "OCR_RENDER_DPI", 200))
    out = []
    with PDFIUM_LOCK:
        pdf = pdf_open(document.data, password=document.password)
        try:
            for index in document.pages:
                page = pdf[index]
                try:
                    width, height = page.get_size()  # points
                    scale = min(dpi / 72, MAX_IMAGE_SIDE / max(width, height, 1))
                    bitmap = page.render(scale=scale)
                    image = bitmap.to_pil()
                finally:
                    page.close()
                out.append((index, _png(image), "image/png"))
        finally:
            pdf.close()
    return out


def pdf_single_pages(document: Document) -> list[tuple[int, bytes]]:
    """(original page index, a one-page PDF) for each selected page, without the password."""
    import pypdfium2 as pdfium

    out = []
    with PDFIUM_LOCK:
        pdf = pdf_open(document.data, password=document.password)
        try:
            for index in document.pages:
                single = pdfium.PdfDocument.new()
                try:
                    single.import_pages(pdf, pages=[index])
                    buffer = io.BytesIO()
                    single.save(buffer)
                finally:
                    single.close()
                out.append((index, buffer.getvalue()))
        finally:
            pdf.close()
    return out


def pdf_selected_pages(document: Document) -> bytes:
    """The selected pages of a PDF, in order, as a new PDF without the password."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        pdf = pdf_open(document.data, password=document.password)
        try:
            selected = pdfium.PdfDocument.new()
            try:
                selected.import_pages(pdf, pages=list(document.pages))
                buffer = io.BytesIO()
                selected.save(buffer)
            finally:
                selected.close()
        finally:
            pdf.close()
    return buffer.getvalue()


def images_as_pdf(document: Document) -> bytes:
    """The selected frames of a multi-frame image (TIFF, GIF) as one PDF, in order."""
    frames = []
    with Image.open(io.BytesIO(document.data)) as image:
        for index in document.pages:
            image.seek(index)
            frames.append(image.convert("RGB"))
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PDF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()
