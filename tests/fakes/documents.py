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


# --- a password-protected PDF (Standard security handler, RC4 40-bit, revision 2) ---------
_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def encrypted_pdf_bytes(password: str, pages: int = 2) -> bytes:
    """A text PDF of `pages` pages that opens only with `password` (PDF 1.7, 7.6.3)."""
    user = (password.encode("latin-1") + _PAD)[:32]
    owner_key = hashlib.md5(user).digest()[:5]  # owner password = user password
    o_value = _rc4(owner_key, user)
    permissions = -4
    file_id = hashlib.md5(password.encode()).digest()
    key = hashlib.md5(
        user + o_value + permissions.to_bytes(4, "little", signed=True) + file_id
    ).digest()[:5]
    u_value = _rc4(key, _PAD)

    def encrypt(number: int, data: bytes) -> bytes:
        object_key = hashlib.md5(key + number.to_bytes(3, "little") + b"\0\0").digest()[:10]
        return _rc4(object_key, data)

    kids = " ".join(f"{4 + 2 * n} 0 R" for n in range(pages))
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for n in range(pages):
        page, content = 4 + 2 * n, 5 + 2 * n
        objects[page] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content} 0 R >>"
        ).encode()
        stream = encrypt(content, f"BT /F1 24 Tf 72 700 Td (Secret page {n + 1}) Tj ET".encode())
        objects[content] = (
            f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream"
        )
    encrypt_number = 4 + 2 * pages
    objects[encrypt_number] = (
        f"<< /Filter /Standard /V 1 /R 2 /O <{o_value.hex()}> /U <{u_value.hex()}> "
        f"/P {permissions} >>"
    ).encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += f"{number} 0 obj\n".encode() + objects[number] + b"\nendobj\n"
    xref = len(out)
    count = max(objects) + 1
    out += f"xref\n0 {count}\n0000000000 65535 f \n".encode()
    for number in range(1, count):
        out += f"{offsets[number]:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {count} /Root 1 0 R /Encrypt {encrypt_number} 0 R "
        f"/ID [<{file_id.hex()}> <{file_id.hex()}>] >>\nstartxref\n{xref}\n%%EOF\n"
    ).encode()
    return bytes(out)
