"""Drawing a laid-out document (text runs at positions) as a scan-like image or as a PDF
with a text layer. The layouts come from tests/fakes/invoices.py.

Coordinates are pixels of the image (top-left origin); the PDF maps them to points at
96 dpi, so both renderings of one layout put the same words in the same places.
"""

from __future__ import annotations

import io
import random
import zlib
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FAMILIES = {
    "sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "serif": ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    "mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
    "condensed": ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
}


@dataclass(frozen=True)
class Run:
    """One piece of text: `x` is its left edge, right edge or centre as `anchor` says."""

    x: float
    y: float
    text: str
    size: int = 18
    bold: bool = False
    anchor: str = "l"  # l, r or c


@dataclass(frozen=True)
class Box:
    """A filled shape (a logo's mark, a table's rule): drawn on images only."""

    x0: float
    y0: float
    x1: float
    y1: float
    shape: str = "rect"  # rect or ellipse
    fill: int = 0


@dataclass
class Layout:
    width: int
    height: int
    family: str
    runs: list[Run]
    boxes: list[Box]


def _font(family: str, size: int, bold: bool) -> ImageFont.FreeTypeFont:
    regular, heavy = FAMILIES[family]
    return ImageFont.truetype(f"{FONT_DIR}/{heavy if bold else regular}", size)


def _left(run: Run, width: float) -> float:
    if run.anchor == "r":
        return run.x - width
    if run.anchor == "c":
        return run.x - width / 2
    return run.x


def render_image(layout: Layout, *, rng: random.Random, scan: bool) -> bytes:
    """PNG, or with `scan` a slightly rotated, noisy, blurred JPEG, as phones and
    copiers make them."""
    image = Image.new("L", (layout.width, layout.height), 255)
    draw = ImageDraw.Draw(image)
    for box in layout.boxes:
        shape = draw.ellipse if box.shape == "ellipse" else draw.rectangle
        shape((box.x0, box.y0, box.x1, box.y1), fill=box.fill)
    for run in layout.runs:
        font = _font(layout.family, run.size, run.bold)
        draw.text((_left(run, font.getlength(run.text)), run.y), run.text, font=font, fill=0)
    buffer = io.BytesIO()
    if not scan:
        image.save(buffer, format="PNG", optimize=True)
        return buffer.getvalue()
    paper = rng.randint(225, 245)
    image = image.point(lambda value: min(value, paper))
    image = image.rotate(
        rng.uniform(-1.5, 1.5), resample=Image.BICUBIC, expand=True, fillcolor=paper
    )
    noise = Image.effect_noise(image.size, rng.uniform(8, 18))
    image = Image.blend(image, noise, 0.12).filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.7)))
    image.convert("RGB").save(buffer, format="JPEG", quality=rng.randint(55, 80))
    return buffer.getvalue()


_PDF_FONTS = {False: "Helvetica", True: "Helvetica-Bold"}


def _pdf_string(text: str) -> str:
    escaped = text.encode("cp1252").decode("latin-1")
    return escaped.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def render_pdf(layout: Layout) -> bytes:
    """One page, every run as real text (Helvetica, WinAnsi): an invoice as accounting
    software exports it."""
    scale = 72 / 96
    width, height = layout.width * scale, layout.height * scale
    ops = []
    for run in layout.runs:
        # Helvetica is narrower than DejaVu: its width is estimated, close enough to
        # right-align a column.
        size = run.size * scale
        left = _left(run, len(run.text) * size * 0.52 / scale) * scale
        baseline = height - (run.y + run.size * 0.85) * scale
        font = "/F2" if run.bold else "/F1"
        ops.append(
            f"BT {font} {size:.1f} Tf {left:.2f} {baseline:.2f} Td ({_pdf_string(run.text)}) Tj ET"
        )
    content = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width:.2f} {height:.2f}] "
            f"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents 6 0 R >>"
        ).encode(),
    ]
    for bold in (False, True):
        objects.append(
            f"<< /Type /Font /Subtype /Type1 /BaseFont /{_PDF_FONTS[bold]} "
            f"/Encoding /WinAnsiEncoding >>".encode()
        )
    stream = zlib.compress(content)
    objects.append(
        f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n".encode()
        + stream
        + b"\nendstream"
    )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    out.write(b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets))
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()
