"""From recognised lines to a page: columns, rows, paragraphs, headings, tables, Markdown.

Text set in columns (a gutter no column-sized line crosses, prose on both sides) is read
column after column; lines that cross the gutter (a title, a footer) cut the page into
bands. Within a column or band, rows are lines whose vertical centres agree (on a skewed
scan, in the page's straightened frame: `Line.layout_box`); a run of rows whose pieces
sit in the same columns becomes a table (a table's cells are short, a text column's
lines are not); a row clearly taller than the body text on its own is a heading; the
rest are paragraphs split at vertical gaps. Everything is in reading order, top to
bottom and left to right.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median

import numpy as np

from ocr.engine.tasks import Line
from ocr.types import Block, Table


@dataclass
class Row:
    lines: list[Line]

    @property
    def top(self) -> float:
        return min(line.layout_box[1] for line in self.lines)

    @property
    def bottom(self) -> float:
        return max(line.layout_box[3] for line in self.lines)

    @property
    def height(self) -> float:
        return median(line.layout_box[3] - line.layout_box[1] for line in self.lines)

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)


def rows_build(lines: list[Line]) -> list[Row]:
    """Group lines into rows by vertical overlap, each row sorted left to right."""
    rows: list[Row] = []
    for line in sorted(lines, key=lambda item: (item.layout_box[1] + item.layout_box[3]) / 2):
        centre = (line.layout_box[1] + line.layout_box[3]) / 2
        height = line.layout_box[3] - line.layout_box[1]
        best = None
        for row in rows[-4:]:
            row_centre = (row.top + row.bottom) / 2
            limit = 0.5 * min(height, row.height)
            overlaps_x = any(_stacked(line, other) for other in row.lines)
            if abs(centre - row_centre) <= limit and not overlaps_x:
                best = row
        if best is None:
            rows.append(Row(lines=[line]))
        else:
            best.lines.append(line)
    for row in rows:
        row.lines.sort(key=lambda item: item.layout_box[0])
    rows.sort(key=lambda row: row.top)
    return rows


def _stacked(line: Line, other: Line) -> bool:
    """True when two lines share so much of their width that they cannot sit side by
    side in one row. Detector boxes are padded, so neighbours on a row overlap by a few
    pixels (`C` and `RM` in `C RM 85.54`, `Invoice number` and its digits): allowed are
    up to 60% of the lower height, and at most 30% of the narrower line's width (two
    lines on neighbouring rows overlap by most of one's width)."""
    a, b = line.layout_box, other.layout_box
    overlap = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3] - a[1], b[3] - b[1])
    narrower = min(a[2] - a[0], b[2] - b[0])
    return overlap > max(2.0, min(0.6 * height, 0.3 * narrower))


def _columns(rows: list[Row], gap: float) -> list[tuple[float, float]] | None:
    """Column spans shared by `rows`, or None when their pieces do not line up."""
    spans: list[list[float]] = []
    for row in rows:
        for line in row.lines:
            spans.append([line.layout_box[0], line.layout_box[2]])
    spans.sort()
    merged: list[list[float]] = []
    for x0, x1 in spans:
        if merged and x0 <= merged[-1][1] + gap * 0.5:
            merged[-1][1] = max(merged[-1][1], x1)
        else:
            merged.append([x0, x1])
    if len(merged) < 2:
        return None
    columns = [(x0, x1) for x0, x1 in merged]
    for row in rows:
        used = [_column_of(line, columns) for line in row.lines]
        if len(set(used)) != len(used):
            return None
    return columns


def _column_of(line: Line, columns: list[tuple[float, float]]) -> int:
    centre = _centre_x(line)
    for index, (x0, x1) in enumerate(columns):
        if x0 - 1 <= centre <= x1 + 1:
            return index
    return min(range(len(columns)), key=lambda i: abs((columns[i][0] + columns[i][1]) / 2 - centre))


def _is_table_row(row: Row, gap: float) -> bool:
    if len(row.lines) < 2:
        return False
    return all(
        b.layout_box[0] - a.layout_box[2] >= gap
        for a, b in zip(row.lines, row.lines[1:], strict=False)
    )


def _paragraph_ended(paragraph: list[Row]) -> bool:
    """A short last line ending a sentence closes its paragraph (no gap needed)."""
    last = paragraph[-1]
    if len(paragraph) < 2 or not last.text.rstrip().endswith((".", "!", "?", ":")):
        return False
    right = max(line.layout_box[2] for row in paragraph for line in row.lines)
    left = min(line.layout_box[0] for row in paragraph for line in row.lines)
    return last.lines[-1].layout_box[2] - left < (right - left) * 0.6


def _cell(text: str) -> str:
    return text.replace("|", "\\|").strip()


def table_markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join(" --- " for _ in headers) + "|")
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _table_build(rows: list[Row], columns: list[tuple[float, float]]) -> Table:
    grid = []
    for row in rows:
        cells = [""] * len(columns)
        for line in row.lines:
            index = _column_of(line, columns)
            cells[index] = (cells[index] + " " + line.text).strip()
        grid.append(cells)
    return Table(headers=grid[0], rows=grid[1:], markdown=table_markdown(grid[0], grid[1:]))


def _bbox(lines: list[Line]) -> tuple[float, float, float, float]:
    return (
        round(min(line.box[0] for line in lines), 1),
        round(min(line.box[1] for line in lines), 1),
        round(max(line.box[2] for line in lines), 1),
        round(max(line.box[3] for line in lines), 1),
    )


def _confidence(lines: list[Line]) -> float:
    return round(sum(line.confidence for line in lines) / len(lines), 4)


Layout = tuple[str, list[Block], list[Table]]

# Text columns: each side of a gutter holds at least this many lines, most of them with at
# least this many words (a table's cells are mostly one or two words: amounts, codes),
# filling the column's measure (prose is set to a width; a table's cells vary), and a
# share of them carrying a sentence on from the line above (starting in lower case; a
# table's cells start afresh).
COLUMN_MIN_LINES = 3
COLUMN_MIN_WORDS = 3
COLUMN_FILL = 0.7
COLUMN_CONTINUED = 0.3
# A gutter is at least this many row heights wide between the columns' line boxes (the
# detector's boxes reach ~0.3 heights beyond the ink, so 1.5 em of white between columns
# leaves ~0.7 heights between their boxes).
GUTTER_MIN = 0.6
COLUMN_MAX_DEPTH = 6  # gutters within gutters: up to 2**6 columns, and a bounded recursion


def page_layout(lines: list[Line]) -> Layout:
    """Markdown, blocks and tables for one page of recognised lines."""
    if not lines:
        return "", [], []
    rows = rows_build(lines)
    return _layout(lines, _Page(body=median(row.height for row in rows), rows=len(rows)))


@dataclass
class _Page:
    body: float  # the median row height of the whole page
    rows: int  # rows on the whole page (a page of one or two rows has no headings)

    @property
    def gap(self) -> float:
        """A space wider than ~two characters: it separates table and text columns."""
        return max(self.body * 1.2, 8.0)


def _layout(lines: list[Line], page: _Page, depth: int = 0) -> Layout:
    """Text columns read one after the other, each laid out on its own; the rest by rows."""
    gutter = _gutter(lines, page.body * GUTTER_MIN) if depth < COLUMN_MAX_DEPTH else None
    if gutter is None:
        return _layout_rows(lines, page)
    middle = (gutter[0] + gutter[1]) / 2
    parts: list[str] = []
    blocks: list[Block] = []
    tables: list[Table] = []

    def add(layout: Layout) -> None:
        if layout[0]:
            parts.append(layout[0])
        blocks.extend(layout[1])
        tables.extend(layout[2])

    for band, spanning in _bands(lines, gutter):
        if spanning:
            add(_layout_rows(band, page))
            continue
        left = [line for line in band if _centre_x(line) < middle]
        right = [line for line in band if _centre_x(line) >= middle]
        if _prose(left) and _prose(right) and _side_by_side(left, right):
            add(_layout(left, page, depth + 1))
            add(_layout(right, page, depth + 1))
        else:
            add(_layout_rows(band, page))
    return "\n\n".join(parts), blocks, tables


def _centre_x(line: Line) -> float:
    return (line.layout_box[0] + line.layout_box[2]) / 2


def _prose(lines: list[Line]) -> bool:
    if len(lines) < COLUMN_MIN_LINES:
        return False
    if median(len(line.text.split()) for line in lines) < COLUMN_MIN_WORDS:
        return False
    widths = [line.layout_box[2] - line.layout_box[0] for line in lines]
    if median(widths) < COLUMN_FILL * max(widths):
        return False
    ordered = sorted(lines, key=lambda line: line.layout_box[1])
    continued = sum(1 for line in ordered[1:] if line.text[:1].islower())
    return continued >= max(1.0, COLUMN_CONTINUED * (len(ordered) - 1))


def _gutter(lines: list[Line], gap: float) -> tuple[float, float] | None:
    """The widest vertical strip, at least `gap` wide, that no column-sized line crosses
    and that has prose on both sides, side by side; lines wider than 60% of the text
    (titles, footers) may cross it and are laid out across, and so may lines with nothing
    beside them (a title shorter than that, over two columns of small print)."""
    if len(lines) < 2 * COLUMN_MIN_LINES:
        return None
    left = min(line.layout_box[0] for line in lines)
    right = max(line.layout_box[2] for line in lines)
    narrow = [
        line for line in lines if line.layout_box[2] - line.layout_box[0] < 0.6 * (right - left)
    ]
    alone = _alone_on_their_rows(narrow)
    spans = sorted(
        (line.layout_box[0], line.layout_box[2])
        for line, single in zip(narrow, alone, strict=True)
        if not single
    )
    if not spans:
        return None
    gaps: list[tuple[float, float]] = []
    reach = spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= gap:
            gaps.append((reach, x0))
        reach = max(reach, x1)
    for strip in sorted(gaps, key=lambda item: item[0] - item[1]):  # the widest first
        sides = (
            [line for line in narrow if line.layout_box[2] <= strip[0]],
            [line for line in narrow if line.layout_box[0] >= strip[1]],
        )
        if all(_prose(side) for side in sides) and _side_by_side(*sides):
            return strip
    return None


def _alone_on_their_rows(lines: list[Line]) -> list[bool]:
    """For each line, whether no other line sits beside it: none shares a quarter of the
    lower one's height without sharing any of its width. A column's lines have the other
    column's lines beside them; a title or a heading over the columns has none."""
    if not lines:
        return []
    boxes = np.array([line.layout_box for line in lines], dtype=np.float64)
    x0, y0, x1, y1 = (boxes[:, i] for i in range(4))
    shared_height = np.minimum(y1[:, None], y1[None, :]) - np.maximum(y0[:, None], y0[None, :])
    lower = np.minimum((y1 - y0)[:, None], (y1 - y0)[None, :])
    apart = (x0[:, None] >= x1[None, :]) | (x0[None, :] >= x1[:, None])
    beside = (shared_height > 0.25 * lower) & apart
    return (~beside.any(axis=1)).tolist()


def _side_by_side(left: list[Line], right: list[Line]) -> bool:
    """Columns share most of their height; blocks one above the other (a letter's sender
    top right, its addressee lower left) are read top to bottom instead."""
    top = max(min(line.layout_box[1] for line in side) for side in (left, right))
    bottom = min(max(line.layout_box[3] for line in side) for side in (left, right))
    shorter = min(
        max(line.layout_box[3] for line in side) - min(line.layout_box[1] for line in side)
        for side in (left, right)
    )
    return bottom - top >= 0.5 * shorter


def _bands(lines: list[Line], gutter: tuple[float, float]):
    """The page cut where lines cross the gutter: (lines, crossing) top to bottom, a run of
    crossing lines (a full-width paragraph) staying one band."""
    band: list[Line] = []
    crossing = False
    for line in sorted(lines, key=lambda item: item.layout_box[1]):
        crosses = line.layout_box[0] < gutter[0] and line.layout_box[2] > gutter[1]
        if band and crosses != crossing:
            yield band, crossing
            band = []
        band.append(line)
        crossing = crosses
    if band:
        yield band, crossing


def _layout_rows(lines: list[Line], page: _Page) -> Layout:
    """Rows, then tables, headings and paragraphs, top to bottom."""
    rows = rows_build(lines)
    body, gap = page.body, page.gap
    blocks: list[Block] = []
    tables: list[Table] = []
    parts: list[str] = []
    paragraph: list[Row] = []

    def flush() -> None:
        if paragraph:
            members = [line for row in paragraph for line in row.lines]
            text = "\n".join(row.text for row in paragraph)
            blocks.append(Block("text", text, _bbox(members), _confidence(members)))
            parts.append(text)
            paragraph.clear()

    index = 0
    while index < len(rows):
        row = rows[index]
        # A run of at least three rows whose pieces line up in columns is a table.
        end = index
        while end < len(rows) and _is_table_row(rows[end], gap):
            end += 1
        if end - index >= 3:
            columns = _columns(rows[index:end], gap)
            if columns and len(columns) <= 8:
                flush()
                table = _table_build(rows[index:end], columns)
                members = [line for r in rows[index:end] for line in r.lines]
                tables.append(table)
                blocks.append(Block("table", table.markdown, _bbox(members), _confidence(members)))
                parts.append(table.markdown)
                index = end
                continue
        previous = paragraph[-1] if paragraph else None
        if previous is not None and (
            row.top - previous.bottom > body * 0.9 or _paragraph_ended(paragraph)
        ):
            flush()
        is_heading = row.height >= body * 1.5 and len(row.text) <= 80 and page.rows > 2
        if is_heading:
            flush()
            level = "#" if row.height >= body * 2.0 else "##"
            blocks.append(Block("title", row.text, _bbox(row.lines), _confidence(row.lines)))
            parts.append(f"{level} {row.text}")
        else:
            paragraph.append(row)
        index += 1
    flush()
    return "\n\n".join(parts), blocks, tables


def markdown_plain(markdown: str) -> str:
    """The words of a page's Markdown without its markup (table rules, pipes, #)."""
    out = []
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("|") and set(stripped) <= set("|-: "):
            continue
        if stripped.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in stripped.strip("|").split(" | ")]
            out.append(" ".join(c for c in cells if c))
            continue
        out.append(stripped.lstrip("#").strip() if stripped.startswith("#") else line)
    return "\n".join(out)
