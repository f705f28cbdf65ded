"""Letters the bundled model cannot read (Cyrillic, Greek...) lower the confidence.

The recogniser has no classes for them and emits blanks over their ink, so a Cyrillic
line decodes to its digits and punctuation, each read with a high score. The share of a
line's ink near a decoded character, and lines of ink with nothing decoded, bring the
page's confidence down to what was really read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr.engine import engine_run
from ocr.engine.language import language_detect
from ocr.engine.recognition import REC_STRIDE, ink_read_share
from ocr.engine.tasks import Line
from ocr.engine.worker import page_confidence
from ocr.intake.document import document_open
from tests.ocr.documents import image_bytes

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _page(lines: list[str]) -> bytes:
    if not FONT.exists():
        pytest.skip(f"no font with Cyrillic letters at {FONT}")
    font = ImageFont.truetype(str(FONT), 28)
    image = Image.new("L", (900, 60 + 50 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for number, text in enumerate(lines):
        draw.text((30, 30 + 50 * number), text, font=font, fill=0)
    return image_bytes(image, "PNG")


def _read(lines: list[str]):
    return engine_run(document_open(data=_page(lines))).pages[0]


LATIN = ["Invoice number 42 dated 5 March 2024", "Total due: 1250.00 EUR"]
CYRILLIC = ["Привет, мир! Это тестовая страница.", "Счёт номер 42 от 5 марта 2024 года"]


def test_a_cyrillic_page_is_not_reported_as_confidently_read():
    latin = _read(LATIN)
    cyrillic = _read(CYRILLIC)

    assert latin.confidence >= 0.95
    # Only the digits and punctuation come back (the letters are blanks to the model).
    assert "42" in cyrillic.markdown
    assert cyrillic.confidence < 0.5


def test_a_line_nothing_could_be_read_from_counts_against_the_page():
    page = _read([LATIN[0], "Привет мир это тестовая строка", LATIN[1]])

    assert "Invoice number 42" in page.markdown
    assert "Total due" in page.markdown
    # Two lines of three were read: the page is not as sure as a Latin one.
    assert page.confidence < 0.85


def test_ink_far_from_every_decoded_character_is_unread():
    ink = np.zeros(400, dtype=bool)
    ink[10:390] = True
    # One character decoded at frames 2-3 (pixels 16-32): ink from 0 to 56 is within reach.
    share = ink_read_share([("4", 2, 3)], ink)
    reach_end = 4 * REC_STRIDE + 24
    assert share == pytest.approx((reach_end - 10) / 380)
    # Characters all along the line read all of it; spaces read nothing.
    along = [("a", frame, frame) for frame in range(1, 50, 4)]
    assert ink_read_share(along, ink) == 1.0
    assert ink_read_share([(" ", 2, 3)], ink) == 0.0
    assert ink_read_share([], np.zeros(10, dtype=bool)) == 1.0


def test_an_unread_line_weighs_the_letters_its_box_would_hold():
    read = Line("Total 12.00", (0, 0, 220, 20), 1.0)
    unread = Line("", (0, 40, 220, 60), 0.0)  # 11 line heights wide: ~22 letters
    assert page_confidence([read]) == 1.0
    assert page_confidence([read, unread]) == pytest.approx(11 / 33, abs=1e-4)


def test_one_stray_letter_names_no_language():
    assert language_detect(", ! .\n42 5 2024\nκ : 1250") is None
    assert language_detect("Καλημέρα κόσμε") == "el"
