"""Decoding what clients of the fakes send: data URLs, images, PDFs; and test documents."""

from __future__ import annotations

import base64
import hashlib
import io
import re

from PIL import Image, ImageDraw

_DATA_URL = re.compile(r"^data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>[A-Za-z0-9+/=]+)$")


def data_url_decode(value: str) -> tuple[str, bytes]:
    match = _DATA_URL.match(value)
    if not match:
        raise ValueError("not a base64 data URL")
    return match["type"], base64.b64decode(match["data"], validate=True)


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def pdf_page_count(data: bytes) -> int:
    import pypdfium2 as pdfium

    if not data.startswith(b"%PDF-"):
        raise ValueError("not a PDF")
    pdf = pdfium.PdfDocument(data)
    try:
        return len(pdf)
    finally:
        pdf.close()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:8]


def png_bytes(text: str = "INVOICE 42", size: tuple[int, int] = (400, 120)) -> bytes:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((10, 40), text, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def pdf_bytes(pages: int = 3) -> bytes:
    """A PDF of `pages` image pages (no text layer), page n saying `Page n`."""
    frames = [
        Image.open(io.BytesIO(png_bytes(f"Page {n + 1}"))).convert("RGB") for n in range(pages)
    ]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="PDF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def tiff_bytes(frames: int = 2) -> bytes:
    images = [Image.open(io.BytesIO(png_bytes(f"Frame {n + 1}"))) for n in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="TIFF", save_all=True, append_images=images[1:])
    return buffer.getvalue()
