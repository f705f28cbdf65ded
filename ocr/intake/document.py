"""`Document`: the bytes of one client file, its sniffed media type, pages and selection.

`document_open` is the single gate every file passes before a price is reserved or a
provider is called: it sniffs the type, refuses decompression bombs from the header
alone (nothing is decoded before the pixel count is known), counts pages, checks the
page selection and opens password-protected PDFs. Damaged files are refused here with
`invalid_document` wherever a cheap check can tell.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass, field

from django.conf import settings
from PIL import Image

from config.api import ApiError
from ocr.intake.sniff import media_type_describe, media_type_sniff

# The most pages one request may list (the dialects' parsers cap their lists the same).
MAX_PAGES_SELECTED = 1000

# PDFium is not thread-safe; gunicorn threads and the engine's text-layer reader share it.
PDFIUM_LOCK = threading.RLock()


@dataclass
class Document:
    data: bytes = field(repr=False)
    media_type: str
    page_count: int
    pages: list[int]
    filename: str | None = None
    password: str | None = None
    # An image's first frame in pixels, as read when it was checked; None for a PDF.
    image_size: tuple[int, int] | None = None

    @property
    def is_pdf(self) -> bool:
        return self.media_type == "application/pdf"


def document_open(
    *,
    data: bytes,
    filename: str | None = None,
    password: str | None = None,
    pages: list[int] | None = None,
) -> Document:
    if not data:
        raise ApiError(400, "invalid_document", "The document is empty.")
    media_type = media_type_sniff(data)
    if media_type is None:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Unsupported file type: this looks like {media_type_describe(data)}. "
            "Send PNG, JPEG, GIF, WebP, BMP, TIFF or PDF.",
        )
    image_size = None
    if media_type == "application/pdf":
        page_count = _pdf_check(data, password=password, pages=pages)
    else:
        page_count, image_size = _image_check(data, media_type=media_type)
    selected = pages_select(pages=pages, page_count=page_count)
    if len(selected) > settings.OCR_MAX_PAGES:
        raise ApiError(
            413,
            "too_many_pages",
            f"The document has {len(selected)} pages to process; "
            f"the limit is {settings.OCR_MAX_PAGES}. Select fewer pages.",
        )
    return Document(
        data=data,
        media_type=media_type,
        page_count=page_count,
        pages=selected,
        filename=filename,
        password=password,
        image_size=image_size,
    )


def pages_select(*, pages: list[int] | None, page_count: int) -> list[int]:
    """The 0-based pages to process, in the order asked, without duplicates."""
    if not pages:
        return list(range(page_count))
    if len(pages) > MAX_PAGES_SELECTED:
        raise ApiError(413, "too_many_pages", f"At most {MAX_PAGES_SELECTED} pages per request.")
    selected: list[int] = []
    for index in pages:
        if isinstance(index, bool) or not isinstance(index, int):
            raise ApiError(400, "invalid_pages", "Pages must be 0-based integers.")
        if index < 0 or index >= page_count:
            raise ApiError(
                400,
                "invalid_pages",
                f"Page {index} does not exist: the document has {page_count} page"
                f"{'s' if page_count != 1 else ''} (0-based indices 0 to {page_count - 1}).",
            )
        if index not in selected:
            selected.append(index)
    return selected


def _too_many_pixels(width: int, height: int) -> ApiError:
    return ApiError(
        413,
        "image_too_many_pixels",
        f"The image is {width}x{height} pixels ({width * height:,}); the limit is "
        f"{settings.OCR_MAX_IMAGE_PIXELS:,} pixels.",
    )


def image_header_open(data: bytes) -> Image.Image:
    """Open an image reading only its header; PIL's own bomb guard becomes our 413."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            raise ApiError(
                413,
                "image_too_many_pixels",
                f"The image has more pixels than allowed ({settings.OCR_MAX_IMAGE_PIXELS:,}).",
            ) from exc
        except Exception as exc:  # PIL raises many types for damaged headers
            raise ApiError(
                400, "invalid_document", "The image is damaged or truncated and cannot be read."
            ) from exc


def _image_check(data: bytes, *, media_type: str) -> tuple[int, tuple[int, int]]:
    """(frame count, first frame's size in pixels), or 400/413 for a damaged or huge image."""
    image = image_header_open(data)
    max_pixels = settings.OCR_MAX_IMAGE_PIXELS
    frames = 1
    if media_type == "image/tiff":
        # Seeking reads only the frame directory, so every page is size-checked
        # before any is decoded. The loop is capped by the page limit.
        frames = 0
        try:
            while True:
                image.seek(frames)
                width, height = image.size
                if width * height > max_pixels:
                    raise _too_many_pixels(width, height)
                frames += 1
                if frames > settings.OCR_MAX_PAGES:
                    raise ApiError(
                        413,
                        "too_many_pages",
                        f"The TIFF has more than {settings.OCR_MAX_PAGES} pages.",
                    )
        except EOFError:
            pass
        except (OSError, ValueError, SyntaxError) as exc:
            raise ApiError(400, "invalid_document", "The TIFF file is damaged.") from exc
        image.seek(0)
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ApiError(400, "invalid_document", "The image has no pixels.")
    if width * height > max_pixels:
        raise _too_many_pixels(width, height)
    _image_first_frame_verify(image, media_type=media_type, data=data)
    return max(frames, 1), (width, height)


def _image_first_frame_verify(image: Image.Image, *, media_type: str, data: bytes) -> None:
    """Catch truncated and corrupt files cheaply, before any money moves."""
    try:
        if media_type == "image/png":
            image.verify()  # walks every chunk and its CRC without inflating pixels
        elif media_type == "image/jpeg":
            # DCT scaling decodes the whole stream at 1/8 size: truncation shows, memory doesn't.
            image.draft("L", (max(1, image.size[0] // 8), max(1, image.size[1] // 8)))
            image.load()
        else:
            image.load()
    except ApiError:
        raise
    except Exception as exc:
        raise ApiError(
            400, "invalid_document", "The image is damaged or truncated and cannot be read."
        ) from exc
    finally:
        image.close()


def pdf_open(data: bytes, *, password: str | None):
    """Open a PDF with PDFium, mapping its errors to client errors. Call under PDFIUM_LOCK."""
    import pypdfium2 as pdfium

    if password and "\x00" in password:
        # PDFium reads a C string: 'pw\x00junk' would open a PDF whose password is 'pw'.
        raise ApiError(400, "pdf_password_invalid", "The PDF password is not correct.")
    try:
        return pdfium.PdfDocument(data, password=password or None)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == 4:  # FPDF_ERR_PASSWORD
            if password:
                raise ApiError(
                    400, "pdf_password_invalid", "The PDF password is not correct."
                ) from exc
            raise ApiError(
                400,
                "pdf_password_required",
                "The PDF is password-protected; send its password.",
            ) from exc
        raise ApiError(
            400, "invalid_document", "The PDF is damaged or truncated and cannot be read."
        ) from exc


def _pdf_check(data: bytes, *, password: str | None, pages: list[int] | None) -> int:
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        pdf = pdf_open(data, password=password)
        try:
            page_count = len(pdf)
            if page_count <= 0:
                raise ApiError(400, "invalid_document", "The PDF has no pages.")
            # PDFium repairs broken cross-reference tables silently; loading the first
            # page to be processed shows whether anything usable is left.
            first = pages[0] if pages and isinstance(pages[0], int) else 0
            if 0 <= first < page_count:
                try:
                    page = pdf[first]
                    page.close()
                except pdfium.PdfiumError as exc:
                    raise ApiError(
                        400, "invalid_document", "The PDF is damaged and its pages cannot be read."
                    ) from exc
            return page_count
        finally:
            pdf.close()
