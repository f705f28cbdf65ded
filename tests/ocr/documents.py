"""Corpus scoring helpers and small documents made on the spot, free of Django (the
benchmarks import them too).

PDFs are written by hand (a few objects and an xref table) so the tests control
exactly what is in them: a text layer, an image-only scan, or RC4 encryption.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zlib
from collections import Counter

from PIL import Image

# -- scoring -----------------------------------------------------------------------


def word_f1(hypothesis: str, reference: str) -> float:
    """Order-insensitive word F1 (upper-cased multisets of whitespace tokens)."""
    hyp = Counter(hypothesis.upper().split())
    ref = Counter(reference.upper().split())
    tp = sum((hyp & ref).values())
    if not tp:
        return 0.0
    precision = tp / sum(hyp.values())
    recall = tp / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def cer(hypothesis: str, reference: str) -> float:
    """Character error rate after collapsing whitespace: edit distance / reference length."""
    hyp = " ".join(hypothesis.split())
    ref = " ".join(reference.split())
    previous = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        current = [i]
        for j, hc in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (rc != hc)))
        previous = current
    return previous[-1] / max(len(ref), 1)


def sroie_reference(csv_text: str) -> str:
    """The TEXT column of a SROIE csv (split on the first eight commas only)."""
    lines = []
    for row in csv_text.splitlines():
        parts = row.split(",", 8)
        if len(parts) == 9:
            lines.append(parts[8])
    return "\n".join(lines)


# -- hand-made PDFs ----------------------------------------------------------------

_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list, *, password: str | None = None) -> bytes:
    """A PDF whose pages are either a list of text lines or a PIL image (a scan).

    A page may also be `(image, lines, size_pt)`: a scan with text drawn over it from
    the top, in Helvetica of `size_pt` (a fax header or copier stamp), or with
    `size_pt` negative, invisible text of that size (a scanner's own OCR layer).

    With `password`, the file is encrypted (standard handler, RC4 40-bit, revision 2)
    with that user password.
    """
    objects: list[bytes | None] = [None, None]  # 1: catalog, 2: pages
    page_ids = []
    font_id = None
    for page in pages:
        overlay: list[str] = []
        overlay_size = 0.0
        if isinstance(page, tuple):
            page, overlay, overlay_size = page
        if isinstance(page, Image.Image):
            gray = page.convert("L")
            width_pt, height_pt = gray.width * 72 / 200, gray.height * 72 / 200
            image_stream = zlib.compress(gray.tobytes())
            objects.append(
                (
                    f"<< /Type /XObject /Subtype /Image /Width {gray.width} /Height {gray.height}"
                    f" /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode"
                    f" /Length {{length}} >>"
                ).encode()
                + b"\nstream\n"
                + image_stream
            )
            image_id = len(objects)
            content = f"q {width_pt:.2f} 0 0 {height_pt:.2f} 0 0 cm /Im1 Do Q".encode()
            resources = f"<< /XObject << /Im1 {image_id} 0 R >> >>"
            if overlay:
                if font_id is None:
                    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
                    font_id = len(objects)
                size = abs(overlay_size)
                mode = 3 if overlay_size < 0 else 0  # 3: invisible, as OCR layers are
                ops = [f"BT {mode} Tr /F1 {size:.1f} Tf 10 {height_pt - size * 1.5:.2f} Td"]
                ops.append(f"{size * 1.25:.1f} TL")
                ops += [f"({_pdf_escape(line)}) Tj T*" for line in overlay]
                content += ("\n" + "\n".join(ops) + "\nET").encode("latin-1")
                resources = (
                    f"<< /XObject << /Im1 {image_id} 0 R >> /Font << /F1 {font_id} 0 R >> >>"
                )
        else:
            if font_id is None:
                objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
                font_id = len(objects)
            width_pt, height_pt = 612, 792
            ops = ["BT /F1 12 Tf 72 720 Td 16 TL"]
            for line in page:
                ops.append(f"({_pdf_escape(line)}) Tj T*")
            ops.append("ET")
            content = "\n".join(ops).encode("latin-1")
            resources = f"<< /Font << /F1 {font_id} 0 R >> >>"
        objects.append(b"<< /Length {length} >>\nstream\n" + content)
        content_id = len(objects)
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width_pt:.2f} {height_pt:.2f}]"
                f" /Resources {resources} /Contents {content_id} 0 R >>"
            ).encode()
        )
        page_ids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects[1] = f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()

    file_id = hashlib.md5(b"ocr-gateway-test").digest()
    key = None
    encrypt_id = None
    if password is not None:
        owner = _PAD  # empty owner password, padded
        owner_key = hashlib.md5(owner).digest()[:5]
        user_padded = (password.encode("latin-1") + _PAD)[:32]
        o_value = _rc4(owner_key, user_padded)
        permissions = -4
        key = hashlib.md5(
            user_padded + o_value + struct.pack("<i", permissions) + file_id
        ).digest()[:5]
        u_value = _rc4(key, _PAD)
        objects.append(
            f"<< /Filter /Standard /V 1 /R 2 /O <{o_value.hex()}> /U <{u_value.hex()}>"
            f" /P {permissions} >>".encode()
        )
        encrypt_id = len(objects)

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        if b"\nstream\n" in body:
            head, stream = body.split(b"\nstream\n", 1)
            if key is not None and number != encrypt_id:
                object_key = hashlib.md5(key + struct.pack("<i", number)[:3] + b"\x00\x00").digest()
                stream = _rc4(object_key[: min(len(key) + 5, 16)], stream)
            head = head.replace(b"{length}", str(len(stream)).encode())
            body = head + b"\nstream\n" + stream + b"\nendstream"
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R /ID [<{file_id.hex()}> <{file_id.hex()}>]"
    if encrypt_id:
        trailer += f" /Encrypt {encrypt_id} 0 R"
    out.write(f"trailer\n{trailer} >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` but carries (almost) no pixel data: a bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def image_bytes(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def normalize_words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def make_pdf_embedded_font(lines: list[str], *, to_unicode: bool = True) -> bytes:
    """A US Letter page of `lines` in 16 pt, written by PDFium with Pillow's bundled font
    embedded as a CID font (Identity-H), as office software writes text.

    With `to_unicode=False` the font's ToUnicode map is hidden, as in PDFs whose text
    layer cannot be extracted: the page looks right, its text comes out as glyph ids.
    """
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c
    from PIL import ImageFont

    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(612, 792)
    font_data = ImageFont.load_default(size=10).font_bytes
    buffer = (ctypes.c_uint8 * len(font_data)).from_buffer_copy(font_data)
    font = pdfium_c.FPDFText_LoadFont(
        pdf.raw, buffer, len(font_data), pdfium_c.FPDF_FONT_TRUETYPE, True
    )
    for number, line in enumerate(lines):
        text = pdfium_c.FPDFPageObj_CreateTextObj(pdf.raw, font, 16)
        wide = (line + "\x00").encode("utf-16-le")
        pdfium_c.FPDFText_SetText(
            text, ctypes.cast(ctypes.c_char_p(wide), ctypes.POINTER(pdfium_c.FPDF_WCHAR))
        )
        pdfium_c.FPDFPageObj_Transform(text, 1, 0, 0, 1, 72, 720 - number * 24)
        pdfium_c.FPDFPage_InsertObject(page.raw, text)
    pdfium_c.FPDFPage_GenerateContent(page.raw)
    out = io.BytesIO()
    pdf.save(out)
    pdf.close()
    data = out.getvalue()
    if not to_unicode:
        data = data.replace(b"/ToUnicode", b"/ToUnicodX")  # same length: the xref holds
    return data
