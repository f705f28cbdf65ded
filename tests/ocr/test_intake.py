"""Intake: sniffing, limits, page selection, damaged and protected files, base64 and data URLs."""

from __future__ import annotations

import base64

import pytest
from PIL import Image

from config.api import ApiError
from ocr.intake.document import document_open
from ocr.intake.sources import decode_base64, parse_data_url, source_load
from ocr.types import DocumentSource
from tests.ocr.documents import image_bytes, make_pdf, png_header_only


@pytest.fixture
def small_image():
    image = Image.new("RGB", (64, 48), "white")
    image.paste((0, 0, 0), (10, 10, 50, 20))
    return image


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_it_sniffs_every_image_type_from_the_bytes(small_image, fmt, media_type):
    document = document_open(data=image_bytes(small_image, fmt), filename="lies.pdf")

    assert document.media_type == media_type
    assert document.page_count == 1
    assert document.pages == [0]
    assert document.filename == "lies.pdf"


def test_it_sniffs_a_pdf_and_counts_its_pages():
    document = document_open(data=make_pdf([["one"], ["two"], ["three"]]), filename="x.png")

    assert document.media_type == "application/pdf"
    assert document.page_count == 3
    assert document.pages == [0, 1, 2]


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"PK\x03\x04" + b"\x00" * 40, "ZIP"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
        (b"just some words in a text file", "plain text"),
        (b"\x00\x01\x02\x03\xfe\xff" * 10, "binary"),
    ],
)
def test_it_refuses_other_types_naming_what_it_found(data, found):
    with pytest.raises(ApiError) as caught:
        document_open(data=data, filename="scan.png")

    assert caught.value.status == 415
    assert caught.value.code == "unsupported_media_type"
    assert found in caught.value.message


def test_it_refuses_an_empty_file():
    with pytest.raises(ApiError) as caught:
        document_open(data=b"")

    assert (caught.value.status, caught.value.code) == (400, "invalid_document")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "TIFF"])
def test_it_refuses_a_truncated_image(fmt):
    image = Image.effect_noise((300, 300), 60).convert("RGB")
    data = image_bytes(image, fmt)

    with pytest.raises(ApiError) as caught:
        document_open(data=data[: len(data) // 2])

    assert (caught.value.status, caught.value.code) == (400, "invalid_document")


def test_it_refuses_a_corrupt_png():
    data = bytearray(image_bytes(Image.effect_noise((100, 100), 50), "PNG"))
    data[60:80] = b"\x00" * 20  # inside the IDAT chunk: its CRC no longer matches

    with pytest.raises(ApiError) as caught:
        document_open(data=bytes(data))

    assert (caught.value.status, caught.value.code) == (400, "invalid_document")


@pytest.mark.parametrize("size", [(9000, 9000), (100_000, 100_000)])
def test_it_refuses_a_decompression_bomb_from_its_header(size):
    data = png_header_only(*size)
    assert len(data) < 200  # nothing to decode: the refusal must come from the header

    with pytest.raises(ApiError) as caught:
        document_open(data=data)

    assert caught.value.status == 413
    assert caught.value.code == "image_too_many_pixels"


def test_the_pixel_limit_is_a_setting(settings, small_image):
    settings.OCR_MAX_IMAGE_PIXELS = 64 * 48 - 1

    with pytest.raises(ApiError) as caught:
        document_open(data=image_bytes(small_image, "PNG"))

    assert caught.value.code == "image_too_many_pixels"


def test_a_multi_page_tiff_counts_every_page(small_image):
    frames = [small_image, small_image.rotate(90, expand=True), small_image]
    data = image_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])

    document = document_open(data=data, pages=[2, 0])

    assert document.page_count == 3
    assert document.pages == [2, 0]


def test_every_tiff_page_is_checked_for_pixels(settings):
    small = Image.new("L", (10, 10), 255)
    large = Image.new("L", (400, 400), 255)
    data = image_bytes(small, "TIFF", save_all=True, append_images=[large])
    settings.OCR_MAX_IMAGE_PIXELS = 10_000

    with pytest.raises(ApiError) as caught:
        document_open(data=data)

    assert caught.value.code == "image_too_many_pixels"


def test_it_refuses_too_many_pages(settings):
    settings.OCR_MAX_PAGES = 2
    data = make_pdf([["a"], ["b"], ["c"]])

    with pytest.raises(ApiError) as caught:
        document_open(data=data)
    assert (caught.value.status, caught.value.code) == (413, "too_many_pages")
    # Selecting pages within the limit is fine.
    assert document_open(data=data, pages=[0, 2]).pages == [0, 2]


@pytest.mark.parametrize("pages", [[3], [-1], [0, 7], ["1"], [True]])
def test_it_refuses_pages_that_do_not_exist(pages):
    with pytest.raises(ApiError) as caught:
        document_open(data=make_pdf([["a"], ["b"], ["c"]]), pages=pages)

    assert (caught.value.status, caught.value.code) == (400, "invalid_pages")


def test_duplicate_pages_are_read_once():
    assert document_open(data=make_pdf([["a"], ["b"]]), pages=[1, 1, 0]).pages == [1, 0]


def test_a_truncated_pdf_is_invalid():
    data = make_pdf([["Hello there"]])

    with pytest.raises(ApiError) as caught:
        document_open(data=data[:120])

    assert (caught.value.status, caught.value.code) == (400, "invalid_document")


def test_an_encrypted_pdf_needs_its_password():
    data = make_pdf([["Secret text"]], password="s3cret")

    with pytest.raises(ApiError) as missing:
        document_open(data=data)
    with pytest.raises(ApiError) as wrong:
        document_open(data=data, password="guess")
    with pytest.raises(ApiError) as past_nul:  # PDFium would read only up to the NUL
        document_open(data=data, password="s3cret\x00junk")
    document = document_open(data=data, password="s3cret")

    assert (missing.value.status, missing.value.code) == (400, "pdf_password_required")
    assert (wrong.value.status, wrong.value.code) == (400, "pdf_password_invalid")
    assert past_nul.value.code == "pdf_password_invalid"
    assert document.page_count == 1
    assert document.password == "s3cret"


# -- base64 and data URLs ----------------------------------------------------------------


def test_it_decodes_base64_in_every_usual_form():
    data = bytes(range(256)) * 3
    standard = base64.b64encode(data).decode()
    urlsafe = base64.urlsafe_b64encode(data).decode().rstrip("=")
    wrapped = "\n".join(standard[i : i + 76] for i in range(0, len(standard), 76))

    assert decode_base64(standard) == data
    assert decode_base64(urlsafe) == data
    assert decode_base64(wrapped) == data
    assert decode_base64(f"data:application/pdf;base64,{standard}") == data


@pytest.mark.parametrize("value", ["", "   ", "not base64 at all!", "abc$def", "data:image/png"])
def test_it_refuses_invalid_base64(value):
    with pytest.raises(ApiError) as caught:
        decode_base64(value)

    assert (caught.value.status, caught.value.code) == (400, "invalid_base64")


def test_it_parses_data_urls():
    assert parse_data_url("data:image/png;base64,aGVsbG8=") == ("image/png", b"hello")
    assert parse_data_url("data:,hello%20world") == ("text/plain", b"hello world")
    assert parse_data_url("data:IMAGE/JPEG;name=x.jpg;base64,aGk=") == ("image/jpeg", b"hi")


def test_base64_over_the_limit_is_refused_before_decoding():
    value = base64.b64encode(b"x" * 2000).decode()

    with pytest.raises(ApiError) as caught:
        decode_base64(value, max_bytes=1000)

    assert (caught.value.status, caught.value.code) == (413, "file_too_large")


def test_source_load_takes_inline_bytes_and_data_urls():
    assert source_load(DocumentSource(data=b"abc", filename="a.png"), max_bytes=10) == (
        b"abc",
        "a.png",
    )
    assert source_load(DocumentSource(url="data:text/plain;base64,YWJj"), max_bytes=10) == (
        b"abc",
        None,
    )


def test_source_load_enforces_the_size_limit():
    with pytest.raises(ApiError) as inline:
        source_load(DocumentSource(data=b"x" * 11), max_bytes=10)
    with pytest.raises(ApiError) as data_url:
        source_load(DocumentSource(url="data:;base64," + "eHh4" * 10), max_bytes=10)

    assert inline.value.code == data_url.value.code == "file_too_large"
    assert inline.value.status == 413


def test_source_load_refuses_other_schemes():
    with pytest.raises(ApiError) as caught:
        source_load(DocumentSource(url="file:///etc/passwd"), max_bytes=10)

    assert (caught.value.status, caught.value.code) == (400, "url_not_allowed")


@pytest.mark.parametrize(
    ("pages", "status", "code", "says"),
    [
        ("0-5", 400, "invalid_pages", "Page 3 does not exist"),
        ("0-999", 400, "invalid_pages", "Page 3 does not exist"),
        ("2-100000000", 413, "too_many_pages", "At most 1000 pages"),
        ("0-1000", 413, "too_many_pages", "At most 1000 pages"),
        (list(range(1001)), 413, "too_many_pages", "At most 1000 pages"),
        ("3-1", 400, "invalid_pages", "invalid range"),
    ],
)
def test_page_lists_past_the_document_or_the_cap_say_which(pages, status, code, says):
    from ocr.dialects.common import pages_list

    with pytest.raises(ApiError) as caught:
        document_open(data=make_pdf([["a"], ["b"], ["c"]]), pages=pages_list(pages))

    assert (caught.value.status, caught.value.code) == (status, code)
    assert says in caught.value.message


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"[object Object]", "a JavaScript object sent in place of the file's bytes"),
        (b'{"a": 1}', "JSON text"),
        (b"hello", "plain text"),
    ],
)
def test_an_unsupported_file_is_described_for_what_it_is(data, says):
    from ocr.intake.sniff import media_type_describe

    assert says in media_type_describe(data)
