"""Media type sniffing from the first bytes of a file.

The filename and the client's declared type are hints at best and lies at worst, so the
media type is always read from the bytes. Anything that is not one of the supported
formats is named as precisely as is cheap, so the client's error says what was found.
"""

from __future__ import annotations

SUPPORTED_MEDIA_TYPES = (
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/tiff",
    "application/pdf",
)

# How far into the file a PDF header may start: the spec tolerates leading junk and
# real-world files (e.g. from mail gateways) do carry some.
_PDF_HEADER_WINDOW = 1024


def media_type_sniff(data: bytes) -> str | None:
    """The supported media type of `data`, or None."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"BM") and len(data) >= 26:
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if b"%PDF-" in data[:_PDF_HEADER_WINDOW]:
        return "application/pdf"
    return None


_OTHER_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"II*\x00\x10\x00\x00\x00CR", "a Canon raw photo"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (b"8BPS", "a Photoshop document"),
    (b"%!PS", "a PostScript file"),
    (b"{\\rtf", "an RTF document"),
)


def media_type_describe(data: bytes) -> str:
    """A short human description of what an unsupported file looks like."""
    if not data:
        return "an empty file"
    for signature, label in _OTHER_SIGNATURES:
        if data.startswith(signature):
            return label
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "a HEIC/AVIF image"
    if data[4:8] == b"ftyp":
        return "an MP4/QuickTime file"
    head = data[:512].lstrip()
    lowered = head.lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in lowered):
        return "an SVG image"
    if lowered.startswith(b"<?xml") or lowered.startswith(b"<"):
        return "an XML or HTML document"
    if head.startswith(b"[object ") and len(data.strip()) < 64:
        # A JavaScript object stringified where the file's bytes belonged (the seed 000
        # TypeScript example does so with `new Blob([createReadStream(path)])`).
        return (
            f'the text "{data.strip().decode("ascii", "replace")}", a JavaScript object sent '
            "in place of the file's bytes (send a Blob or Buffer of the file)"
        )
    if head[:1] in (b"{", b"["):
        return "JSON text"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "unrecognised binary data"
    return "plain text"
