"""Mistral OCR pages from the engine's pages: markdown, blocks with boxes, tables, the
header and footer a client asked for, and confidence scores, as the `mistralai` SDK's
`OCRPageObject` has them."""

from __future__ import annotations

from html import escape
from typing import Any

# Block types the SDK knows; anything else the engine produces is rendered as text.
BLOCK_TYPES = {
    "aside_text",
    "caption",
    "code",
    "equation",
    "footer",
    "header",
    "image",
    "list",
    "references",
    "signature",
    "table",
    "text",
    "title",
}


def _box(bbox) -> dict[str, int]:
    x0, y0, x1, y1 = bbox if bbox else (0, 0, 0, 0)
    return {
        "top_left_x": int(x0),
        "top_left_y": int(y0),
        "bottom_right_x": int(round(x1)),
        "bottom_right_y": int(round(y1)),
    }


def _block(
    block, *, granularity: str | None, table_id: str | None, kind: str | None = None
) -> dict[str, Any]:
    kind = kind or (block.type if block.type in BLOCK_TYPES else "text")
    out: dict[str, Any] = {"type": kind, **_box(block.bbox), "content": block.content}
    if kind == "table" and table_id:
        out["table_id"] = table_id
    if granularity == "block":
        out["confidence_scores"] = {
            "average_content_confidence_score": block.confidence,
            "minimum_content_confidence_score": block.confidence,
            "block_type_confidence_score": None,
        }
    return out


# Running heads and page numbers sit in the margins: the top (bottom) 8% of the page,
# clear of the rest by 1.5% of its height.
_MARGIN = 0.08
_MARGIN_GAP = 0.015


def _margin_blocks(page) -> dict[str, int | None]:
    """The positions in `page.blocks` of the page's header and footer block (None: none):
    blocks an engine typed so, else a short text block alone in the top or bottom margin."""
    found: dict[str, int | None] = {"header": None, "footer": None}
    for position, block in enumerate(page.blocks):
        if block.type in found and found[block.type] is None:
            found[block.type] = position
    boxed = [(n, b) for n, b in enumerate(page.blocks) if b.bbox and b.content.strip()]
    if len(boxed) < 2 or not page.height:
        return found
    gap = _MARGIN_GAP * page.height

    def short(block) -> bool:
        return block.type == "text" and len(block.content) <= 200 and block.content.count("\n") < 2

    top_at, top = min(boxed, key=lambda item: item[1].bbox[1])
    below = min(b.bbox[1] for n, b in boxed if n != top_at)
    if found["header"] is None and short(top) and top.bbox[3] <= _MARGIN * page.height:
        found["header"] = top_at if below - top.bbox[3] >= gap else None
    end_at, end = max(boxed, key=lambda item: item[1].bbox[3])
    above = max(b.bbox[3] for n, b in boxed if n != end_at)
    if found["footer"] is None and short(end) and end.bbox[1] >= (1 - _MARGIN) * page.height:
        found["footer"] = end_at if end.bbox[1] - above >= gap else None
    return found


# How far past the previous word the next one may start: markdown puts at most a few
# characters of syntax between two words of the same text (`**`, `| `, `\n# `).
_WORD_WINDOW = 200


def _word_scores(text: str, blocks) -> list[dict[str, Any]]:
    """Per-word scores of `blocks`, each word found in order in `text` (start_index points
    into it). The engine scores lines, so each word carries its line's score; markdown
    syntax (`|`, `---`) is not a word, and a word not found near the previous one is left
    out rather than matched further on."""
    scores: list[dict[str, Any]] = []
    cursor = 0
    for block in blocks:
        if block.confidence is None:
            continue
        for word in block.content.split():
            if not any(char.isalnum() for char in word):
                continue
            found = text.find(word, cursor, cursor + _WORD_WINDOW + len(word))
            if found < 0:
                continue
            scores.append({"text": word, "confidence": block.confidence, "start_index": found})
            cursor = found + len(word)
    return scores


def _page_scores(page, granularity: str, *, markdown: str, blocks) -> dict[str, Any]:
    values = [b.confidence for b in page.blocks if b.confidence is not None]
    average = (
        page.confidence
        if page.confidence is not None
        else (sum(values) / len(values) if values else 0.0)
    )
    scores: dict[str, Any] = {
        "average_page_confidence_score": average,
        # The page mean is over lines, the block scores over blocks: keep min <= average.
        "minimum_page_confidence_score": min([*values, average]),
    }
    if granularity == "word":
        scores["word_confidence_scores"] = _word_scores(markdown, blocks)
    return scores


def page_json(page, options: dict[str, Any], include_image_base64: bool) -> dict[str, Any]:
    markdown = page.markdown
    table_format = options.get("table_format")
    tables = []
    table_ids: list[str] = []
    moved: set[int] = set()  # numbers of the tables that left the markdown
    if table_format:
        for number, table in enumerate(page.tables):
            ext = "html" if table_format == "html" else "md"
            table_id = f"tbl-{number}.{ext}"
            content = table.markdown if ext == "md" else _table_html(table)
            tables.append({"id": table_id, "content": content, "format": table_format})
            table_ids.append(table_id)
            # As Mistral does: the table leaves the page's markdown, a link takes its place.
            if table.markdown and table.markdown in markdown:
                markdown = markdown.replace(table.markdown, f"[{table_id}]({table_id})", 1)
                moved.add(number)
    extracted: dict[str, str] = {}  # "header" / "footer" -> its text
    margins: dict[int, str] = {}  # block position -> "header" / "footer"
    left_out: set[int] = set()  # blocks whose text is no longer in the markdown
    for kind, position in _margin_blocks(page).items():
        if position is not None and options.get(f"extract_{kind}"):
            content = page.blocks[position].content
            extracted[kind] = content
            margins[position] = kind
            left_out.add(position)
            head, found, tail = (
                markdown.partition(content) if kind == "header" else markdown.rpartition(content)
            )
            markdown = (head + tail).strip() if found else markdown
    table_blocks: dict[int, list] = {}  # table number -> its blocks
    number = 0
    for position, block in enumerate(page.blocks):
        if block.type == "table":
            if number in moved:
                table_blocks.setdefault(number, []).append(block)
                left_out.add(position)
            number += 1
    images = []
    for image in page.images:
        item = {
            "id": image.get("id", ""),
            "top_left_x": image.get("top_left_x"),
            "top_left_y": image.get("top_left_y"),
            "bottom_right_x": image.get("bottom_right_x"),
            "bottom_right_y": image.get("bottom_right_y"),
        }
        if include_image_base64:
            item["image_base64"] = image.get("image_base64")
        images.append(item)
    out: dict[str, Any] = {
        "index": page.index,
        "markdown": markdown,
        "images": images,
        "dimensions": {"dpi": page.dpi, "height": page.height, "width": page.width},
        "tables": tables,
        "hyperlinks": [],
        "header": extracted.get("header"),
        "footer": extracted.get("footer"),
    }
    granularity = options.get("confidence_scores_granularity")
    if options.get("include_blocks", True):
        table_iter = iter(table_ids)
        out["blocks"] = [
            _block(
                b,
                granularity=granularity,
                table_id=next(table_iter, None) if b.type == "table" else None,
                kind=margins.get(position),
            )
            for position, b in enumerate(page.blocks)
        ]
    if granularity:
        in_markdown = [b for n, b in enumerate(page.blocks) if n not in left_out]
        out["confidence_scores"] = _page_scores(
            page, granularity, markdown=markdown, blocks=in_markdown
        )
        if granularity == "word":
            for number, table in enumerate(tables):
                table["word_confidence_scores"] = _word_scores(
                    table["content"], table_blocks.get(number, [])
                )
    return out


def _table_html(table) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in table.headers)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
