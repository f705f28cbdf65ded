"""Layout and language on synthetic lines: fast, exact checks of the assembly rules."""

from __future__ import annotations

from ocr.engine.language import language_detect
from ocr.engine.layout import markdown_plain, page_layout
from ocr.engine.tasks import Line


def line(text, x0, y0, x1, height=20, confidence=0.9):
    return Line(text, (x0, y0, x1, y0 + height), confidence)


def test_lines_on_one_row_are_joined_left_to_right():
    markdown, blocks, tables = page_layout(
        [line("world", 200, 101, 300), line("Hello", 10, 100, 120), line("next row", 10, 125, 150)]
    )

    assert markdown == "Hello world\nnext row"
    assert tables == []
    assert blocks[0].bbox == (10, 100, 300, 145)


def test_a_vertical_gap_starts_a_new_paragraph():
    lines = [line("first", 10, 100, 200), line("para", 10, 122, 200), line("second", 10, 200, 200)]

    markdown, blocks, _ = page_layout(lines)

    assert markdown == "first\npara\n\nsecond"
    assert [block.content for block in blocks] == ["first\npara", "second"]


def test_aligned_columns_become_a_table():
    rows = [("Item", "Qty", "Price"), ("Tea", "2", "3.00"), ("Cake", "1", "4.50")]
    lines = [
        line(cell, x, 100 + 30 * number, x + 60)
        for number, row in enumerate(rows)
        for x, cell in zip((10, 300, 500), row, strict=True)
    ]

    markdown, blocks, tables = page_layout(lines)

    assert tables[0].headers == ["Item", "Qty", "Price"]
    assert tables[0].rows == [["Tea", "2", "3.00"], ["Cake", "1", "4.50"]]
    assert markdown.splitlines()[:2] == ["| Item | Qty | Price |", "| --- | --- | --- |"]
    assert [block.type for block in blocks] == ["table"]
    assert markdown_plain(markdown) == "Item Qty Price\nTea 2 3.00\nCake 1 4.50"


def test_two_aligned_rows_are_not_yet_a_table():
    lines = [line("Total", 10, 100, 80), line("9.00", 400, 100, 460)]
    lines += [line("Cash", 10, 130, 80), line("10.00", 400, 130, 470)]

    _, _, tables = page_layout(lines)

    assert tables == []


def test_clearly_larger_type_is_a_heading():
    lines = [line("Annual Report", 10, 10, 400, height=50)]
    lines += [line(f"body line {n}", 10, 80 + 22 * n, 300) for n in range(4)]

    markdown, blocks, _ = page_layout(lines)

    assert markdown.startswith("# Annual Report\n\nbody line 0")
    assert blocks[0].type == "title"


def test_an_empty_page_is_empty():
    assert page_layout([]) == ("", [], [])


def test_language_is_detected_from_stopwords_and_scripts():
    assert language_detect("The cat sat on the mat and it was happy with the fish") == "en"
    assert language_detect("Der Hund und die Katze sind nicht im Haus") == "de"
    assert language_detect("Le chat est dans la maison avec les enfants") == "fr"
    assert language_detect("これは日本語のテキストです") == "ja"
    assert language_detect("Это русский текст") == "ru"
    assert language_detect("12.00 34.50 TOTAL") is None
    assert language_detect("") is None
