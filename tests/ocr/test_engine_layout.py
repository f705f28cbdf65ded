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


def test_neighbours_whose_padded_boxes_overlap_a_little_share_a_row():
    # Detector boxes are padded: `C` and `RM` of `Relief GST C RM 0.00` overlap by 6 px.
    lines = [
        Line("Relief GST", (36, 819, 240, 868), 0.9),
        Line("C", (291, 825, 328, 861), 0.9),
        Line("RM", (322, 824, 374, 864), 0.9),
        Line("0.00", (437, 822, 528, 869), 0.9),
        Line("Total Gross", (39, 858, 260, 902), 0.9),
        Line("C", (281, 855, 327, 902), 0.9),
        Line("RM", (318, 858, 375, 902), 0.9),
        Line("85.54", (421, 855, 525, 902), 0.9),
    ]

    markdown, _, _ = page_layout(lines)

    assert markdown == "Relief GST C RM 0.00\nTotal Gross C RM 85.54"


def test_lines_stacked_in_one_column_stay_on_their_own_rows():
    # Centres 12 px apart (under half a line height) but one above the other.
    markdown, _, _ = page_layout([line("upper", 10, 100, 120, 30), line("lower", 14, 112, 118, 30)])

    assert markdown == "upper\nlower"


def test_a_skewed_page_is_laid_out_by_its_straightened_frame():
    # A 5 degree skew (lines rise to the right): the short last line of a paragraph sits lower on the left than the
    # next long line's centre; by plain boxes it would be read after it.
    import math

    angle = math.radians(-5)

    def skewed(text, x0, y0, x1, height=20):
        # the straight line's corners, turned by the skew
        corners = [(x0, y0), (x1, y0), (x1, y0 + height), (x0, y0 + height)]
        turned = [
            (x * math.cos(angle) - y * math.sin(angle), x * math.sin(angle) + y * math.cos(angle))
            for x, y in corners
        ]
        xs, ys = [p[0] for p in turned], [p[1] for p in turned]
        return Line(
            text, (min(xs), min(ys), max(xs), max(ys)), 0.9, frame=(x0, y0, x1, y0 + height)
        )

    lines = [
        skewed("a long line of text across the page", 100, 100, 900),
        skewed("short end.", 100, 125, 200),
        skewed("another long line across the page", 100, 150, 900),
    ]
    assert (lines[1].box[1] + lines[1].box[3]) / 2 > (lines[2].box[1] + lines[2].box[3]) / 2

    markdown, blocks, _ = page_layout(lines)

    assert markdown.split() == " ".join(item.text for item in lines).split()
    # blocks are reported in page pixels, not in the straightened frame
    assert blocks[0].bbox[0] == round(min(item.box[0] for item in lines), 1)


def test_page_skew_is_measured_from_the_wide_boxes():
    import numpy as np

    from ocr.engine.rapid import page_skew, straightened_boxes

    def quad(x, y, width, angle):
        c, s = np.cos(angle), np.sin(angle)
        corners = np.array([[0, 0], [width, 0], [width, 20], [0, 20]], dtype=np.float64)
        return corners @ np.array([[c, s], [-s, c]]) + [x, y]

    angle = np.radians(-4.0)
    boxes = [quad(10, 10 + 30 * i, 400, angle) for i in range(5)] + [quad(10, 200, 30, 0.3)]
    boxes = np.array(boxes)
    assert abs(np.degrees(page_skew(boxes)) + 4.0) < 0.01
    frames = straightened_boxes(boxes)
    assert frames is not None
    x0, y0, x1, y1 = frames[0]
    assert abs((x1 - x0) - 400) < 0.5 and abs((y1 - y0) - 20) < 0.5
    straight = np.array([quad(10, 10 + 30 * i, 400, 0.0) for i in range(3)])
    assert page_skew(straight) == 0.0 and straightened_boxes(straight) is None
    # two wide lines are too few to tell a skew from the detector's own lean
    assert page_skew(np.array([quad(10, 10 + 30 * i, 400, angle) for i in range(2)])) == 0.0


def _column(texts, x, top, width=420, pitch=30):
    return [line(text, x, top + pitch * number, x + width) for number, text in enumerate(texts)]


LEFT_COLUMN = [
    "The committee met on Tuesday to",
    "review the budget and the plans",
    "for the new library in the town.",
]
RIGHT_COLUMN = [
    "Weather for the week ahead brings",
    "cold mornings and clear skies over",
    "the valley and frost in the night.",
]


def test_text_in_two_columns_is_read_column_after_column():
    lines = _column(LEFT_COLUMN, 10, 100) + _column(RIGHT_COLUMN, 500, 100)
    lines.append(line("A footer line that runs across both of the columns", 10, 220, 910))

    markdown, blocks, tables = page_layout(lines)

    assert markdown == "\n".join(LEFT_COLUMN) + "\n\n" + "\n".join(RIGHT_COLUMN) + (
        "\n\nA footer line that runs across both of the columns"
    )
    assert tables == []
    assert [block.bbox[0] for block in blocks] == [10, 500, 10]


def test_labels_and_amounts_in_columns_stay_rows_of_a_table():
    labels = ["Subtotal before the discount", "Service charge of the house", "Total amount due now"]
    lines = _column(labels, 10, 100) + _column(["12.00", "1.20", "13.20"], 500, 100, width=60)

    markdown, _, tables = page_layout(lines)

    assert len(tables) == 1
    assert tables[0].rows[-1] == ["Total amount due now", "13.20"]


def test_blocks_one_above_the_other_across_a_gutter_are_read_top_to_bottom():
    # A letter: the sender's address top right, the addressee's lower left.
    sender = ["Valley Press Cooperative", "Mill Road number 12", "North Valley 4410"]
    addressee = ["Mrs Ann Example of", "the Old Farm House", "South Valley 4420"]
    lines = _column(sender, 500, 40) + _column(addressee, 10, 200)

    markdown, _, _ = page_layout(lines)

    assert markdown.split("\n\n") == ["\n".join(sender), "\n".join(addressee)]


def test_a_wider_gap_without_prose_beside_it_does_not_hide_the_gutter():
    # A label column far left (a wider gap after it than the gutter) and two text columns.
    lines = [line("A", 10, 100 + 30 * number, 30) for number in range(2)]
    lines += _column(LEFT_COLUMN, 300, 100, width=380) + _column(RIGHT_COLUMN, 720, 100, width=380)

    markdown, _, _ = page_layout(lines)

    assert markdown.endswith("\n\n" + "\n".join(RIGHT_COLUMN))
    assert "Weather" not in markdown.split("\n\n")[0]


def test_a_full_width_paragraph_above_columns_stays_one_paragraph():
    intro = [
        "An introduction that runs across the whole width of the page above",
        "the two columns, in two lines that belong to a single paragraph.",
    ]
    lines = [line(text, 10, 20 + 30 * number, 910) for number, text in enumerate(intro)]
    lines += _column(LEFT_COLUMN, 10, 100) + _column(RIGHT_COLUMN, 500, 100)

    markdown, _, _ = page_layout(lines)

    assert markdown.split("\n\n") == [
        "\n".join(intro),
        "\n".join(LEFT_COLUMN),
        "\n".join(RIGHT_COLUMN),
    ]


def test_a_table_of_phrases_stays_a_table():
    # Multi-word cells, but of every length: a table, not two text columns.
    rows = [
        ("Fast setup for every team", "Install it in under five minutes flat"),
        ("Backups", "Every night at two, kept for thirty days"),
        ("Support around the clock", "By mail"),
        ("Single sign-on for staff", "Works with the usual identity providers"),
    ]
    lines = []
    for number, (one, two) in enumerate(rows):
        lines.append(line(one, 10, 100 + 30 * number, 10 + 11 * len(one)))
        lines.append(line(two, 500, 100 + 30 * number, 500 + 11 * len(two)))

    _, _, tables = page_layout(lines)

    assert len(tables) == 1 and tables[0].headers == list(rows[0])
