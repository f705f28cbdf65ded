"""Decoding one page to pixels inside a worker, with memory bounded.

Large scans are reduced while they are decoded where the format allows (JPEG DCT
scaling) and scaled down right after otherwise, so a 5000x7000 scan never sits in a
worker at full size in colour. Coordinates are reported in the original page pixels.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ocr.engine.tasks import PageTask

# The most pixels, and the longest side, OCR ever looks at. Receipts photographed at
# 300-600 dpi have text far taller than the recogniser's 48-pixel input needs, so more
# only costs memory. The pixel cap is what binds for pages of ordinary shape; the side
# cap only for long strips (a till roll 9000 px tall and 700 wide), whose print a 3200 px
# cap had shrunk to 5 px letters (CER 0.027, now 0.001).
WORK_MAX_SIDE = 6000
WORK_MAX_PIXELS = 6_000_000


class PageDecodeError(Exception):
    """The page's bytes cannot be decoded (damaged file)."""


@dataclass
class PageImage:
    pixels: np.ndarray  # HxWx3 uint8 RGB at working resolution
    width: int  # page size in its own pixels (PDF: at the render DPI)
    height: int
    dpi: int
    scale: float  # working pixels per page pixel


def _work_scale(width: int, height: int) -> float:
    scale = min(1.0, WORK_MAX_SIDE / max(width, height))
    if width * height * scale * scale > WORK_MAX_PIXELS:
        scale = (WORK_MAX_PIXELS / (width * height)) ** 0.5
    return scale


def _declared_dpi(image: Image.Image):
    """The image's `dpi` as Pillow reads it, or None when the file states none: Pillow
    reports a TIFF without XResolution/YResolution tags as 1 x 1 dpi."""
    if image.format == "TIFF" and not {282, 283} <= set(image.tag_v2):
        return None
    return image.info.get("dpi")


def _dpi_pair(info) -> tuple[float, float]:
    """The (x, y) resolution an image declares; 72 for what it leaves out or garbles."""
    try:
        dpi_x, dpi_y = (float(value) for value in info)
    except (TypeError, ValueError):
        return 72.0, 72.0
    if not (1 <= dpi_x <= 10_000 and 1 <= dpi_y <= 10_000):
        return 72.0, 72.0
    return dpi_x, dpi_y


# Opaque pixels whose darkest (0.2th percentile of luminance) is lighter than this are
# light print meant for a dark ground (white text on a transparent PNG): they go on black.
LIGHT_PRINT_LEVEL = 160


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels are black underneath; text drawn on them would vanish. They
        # go on white, unless what is drawn is light itself (white text made for a dark
        # page or slide), which would vanish on white just the same.
        rgba = image.convert("RGBA")
        ground = (255, 255, 255, 255)
        alpha = np.asarray(rgba.getchannel("A"))
        opaque = np.asarray(rgba.convert("L"))[alpha > 127]
        if opaque.size and np.percentile(opaque, 0.2) > LIGHT_PRINT_LEVEL:
            ground = (0, 0, 0, 255)
        background = Image.new("RGBA", rgba.size, ground)
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        array = np.asarray(image, dtype=np.float32)
        low, high = float(array.min()), float(array.max())
        array = (array - low) * (255.0 / (high - low or 1.0))
        return Image.fromarray(array.astype(np.uint8)).convert("RGB")
    return image.convert("RGB")


_EXIF_ORIENTATION = 0x0112
# EXIF orientation -> the transpose that shows the pixels as the camera meant them (1, or
# no tag, is as stored). The engine turns pages itself, but never mirrors them.
_EXIF_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_SWAPS = {
    Image.Transpose.TRANSPOSE,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSVERSE,
    Image.Transpose.ROTATE_90,
}


def image_page_load(task: PageTask) -> PageImage:
    source = io.BytesIO(task.data) if task.data is not None else task.path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source)
            if task.index:
                image.seek(task.index)
            turn = _EXIF_TURNS.get(image.getexif().get(_EXIF_ORIENTATION, 1))
            width, height = image.size
            if width * height > task.max_pixels:
                raise PageDecodeError("too many pixels")
            dpi_x, dpi_y = _dpi_pair(_declared_dpi(image))
            dpi = int(round(max(dpi_x, dpi_y)))
            # Pixels that are not square (a fax: 204 x 98 dpi) squeeze every glyph; the
            # page is read, and reported, as its square-pixel version at the finer dpi.
            if max(dpi_x, dpi_y) / min(dpi_x, dpi_y) > 1.2:
                width = max(1, round(width * dpi / dpi_x))
                height = max(1, round(height * dpi / dpi_y))
                if width * height > task.max_pixels:
                    raise PageDecodeError("too many pixels")
            scale = _work_scale(width, height)
            if image.format == "JPEG" and scale < 0.9:
                image.draft("RGB", (int(width * scale) + 1, int(height * scale) + 1))
            image = _to_rgb(image)
            if turn is not None:
                # A camera's JPEG stores its pixels as the sensor saw them and says in
                # EXIF how to show them: the page is read, and reported, as shown.
                image = image.transpose(turn)
                if turn in _EXIF_SWAPS:
                    width, height = height, width
    except PageDecodeError:
        raise
    except Exception as exc:  # damaged files raise many PIL and codec errors
        raise PageDecodeError(str(exc)) from exc
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    if image.size != target:
        image = image.resize(
            target, Image.Resampling.LANCZOS if scale > 0.5 else Image.Resampling.BOX
        )
    pixels = np.asarray(image)
    return PageImage(pixels=pixels, width=width, height=height, dpi=dpi, scale=target[0] / width)


def pdf_page_render(task: PageTask) -> PageImage:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(
            task.data if task.data is not None else task.path, password=task.password
        )
        page = pdf[task.index]
        width_pt, height_pt = page.get_size()
        dpi = task.render_dpi
        # Cap the render by pixels too: a poster-sized page must not become a bomb.
        pixel_cap = min(task.max_pixels, WORK_MAX_PIXELS)
        if (width_pt * dpi / 72) * (height_pt * dpi / 72) > pixel_cap:
            dpi = int((pixel_cap / (width_pt * height_pt)) ** 0.5 * 72)
        longest = max(width_pt, height_pt) * dpi / 72
        if longest > WORK_MAX_SIDE:
            dpi = int(dpi * WORK_MAX_SIDE / longest)
        dpi = max(dpi, 36)
        bitmap = page.render(scale=dpi / 72, grayscale=True, may_draw_forms=True)
        gray = bitmap.to_numpy().copy()
        page.close()
        pdf.close()
    except Exception as exc:
        raise PageDecodeError(str(exc)) from exc
    if gray.ndim == 3:
        gray = gray[:, :, 0]
    pixels = np.repeat(gray[:, :, None], 3, axis=2)
    height, width = gray.shape
    return PageImage(pixels=pixels, width=width, height=height, dpi=dpi, scale=1.0)
