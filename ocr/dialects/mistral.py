"""Mistral OCR on `POST /v1/ocr` (a body with `document`), so the official SDK works here.

The reference for every field is the `mistralai` SDK's models (`OCRRequest`,
`OCRResponse`, `OCRPageObject`, blocks and confidence models). Annotation formats go to
a Mistral upstream as they came; the local engine runs no annotation model, so with it
`document_annotation` is null.
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework.response import Response

from config.api import ApiError
from config.api import error_response as error_response_platform
from ocr.dialects.common import (
    MiB,
    decode_document,
    http_url,
    is_data_url,
    optional_bool,
    optional_str,
    pages_list,
)
from ocr.types import DocumentSource, OcrRequest

DIALECT = "mistral"
MAX_BYTES = 50 * MiB
MAX_PAGES = 1000
TABLE_FORMATS = ("markdown", "html")
GRANULARITIES = ("word", "page", "block")
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


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if value not in allowed:
        raise ApiError(400, "invalid_request", f"'{name}' must be one of: {', '.join(allowed)}.")
    return value


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(400, "invalid_request", f"'{name}' must be a non-negative integer.")
    return value


def source_from(document: Any, *, max_bytes: int = MAX_BYTES) -> DocumentSource:
    """The Mistral `document` object (also accepted by seed 004) → a DocumentSource."""
    if not isinstance(document, dict):
        raise ApiError(400, "invalid_request", "'document' must be an object.")
    kind = document.get("type")
    filename = optional_str(document, "document_name", max_len=255, label="document.document_name")
    if kind == "file" or (kind is None and "file_id" in document):
        file_id = document.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise ApiError(400, "invalid_request", "'document.file_id' must be a non-empty string.")
        return DocumentSource(file_id=file_id, filename=filename)
    if kind in (None, "document_url") and "document_url" in document:
        url = document["document_url"]
        field = "document.document_url"
    elif kind in (None, "image_url") and "image_url" in document:
        url = document["image_url"]
        if isinstance(url, dict):
            url = url.get("url")
        field = "document.image_url"
    else:
        raise ApiError(
            400,
            "invalid_request",
            "'document' must be {type: document_url, document_url}, {type: image_url, "
            "image_url} or {type: file, file_id}.",
        )
    if not isinstance(url, str) or not url:
        raise ApiError(400, "invalid_request", f"'{field}' must be a non-empty string.")
    if is_data_url(url):
        data = decode_document(url, field=field, max_bytes=max_bytes)
        return DocumentSource(data=data, filename=filename)
    return DocumentSource(url=http_url(url, field=field), filename=filename)


def parse_body(body: dict[str, Any]) -> OcrRequest:
    source = source_from(body.get("document"))
    pages = pages_list(body.get("pages"))
    if pages is not None and len(pages) > MAX_PAGES:
        raise ApiError(413, "too_many_pages", f"At most {MAX_PAGES} pages per request.")
    for name in ("bbox_annotation_format", "document_annotation_format"):
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise ApiError(400, "invalid_request", f"'{name}' must be an object.")
    optional_str(body, "id", max_len=200)
    table_format = _choice(body, "table_format", TABLE_FORMATS)
    # Under Mistral's own names: a Mistral upstream is sent them as they came (the local
    # engine cuts out no images and runs no annotation model).
    options = {
        "table_format": table_format,
        "include_blocks": optional_bool(body, "include_blocks", default=True),
        "confidence_scores_granularity": _choice(
            body, "confidence_scores_granularity", GRANULARITIES
        ),
        "extract_header": optional_bool(body, "extract_header"),
        "extract_footer": optional_bool(body, "extract_footer"),
        "image_limit": _optional_int(body, "image_limit"),
        "image_min_size": _optional_int(body, "image_min_size"),
        "bbox_annotation_format": body.get("bbox_annotation_format"),
        "document_annotation_format": body.get("document_annotation_format"),
        "document_annotation_prompt": optional_str(
            body, "document_annotation_prompt", max_len=20_000
        ),
    }
    return OcrRequest(
        dialect=DIALECT,
        source=source,
        max_bytes=MAX_BYTES,
        model=optional_str(body, "model", max_len=200),
        pages=pages,
        include_image_base64=optional_bool(body, "include_image_base64"),
        extract_tables=table_format is not None,
        options=options,
    )


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


def _page(page, options: dict[str, Any], include_image_base64: bool) -> dict[str, Any]:
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
    from html import escape

    head = "".join(f"<th>{escape(cell)}</th>" for cell in table.headers)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in table.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render(outcome, ocr_request: OcrRequest) -> dict[str, Any]:
    result = outcome.result
    if result.raw_format == "mistral-ocr" and result.raw is not None:
        return _passthrough(outcome, ocr_request)
    return {
        "pages": [
            _page(page, ocr_request.options, ocr_request.include_image_base64)
            for page in result.pages
        ],
        "model": result.model,
        "usage_info": {
            "pages_processed": len(result.pages),
            "doc_size_bytes": len(outcome.document.data),
        },
        "document_annotation": None,
        "text": result.text,
    }


def _passthrough(outcome, ocr_request: OcrRequest) -> dict[str, Any]:
    """A Mistral upstream's answer as it wrote it (hyperlinks, header, footer, blocks,
    annotations and whatever fields newer versions add), with our page indices and the
    public model name the client asked for. A page without the SDK's required `images`
    or `dimensions` gets what it lacks from our own rendering of it."""
    raw = outcome.result.raw
    ours = {page.index: page for page in outcome.result.pages}
    pages = []
    for page in raw.get("pages") or []:
        if not isinstance(page, dict):
            continue
        own = ours.get(page.get("index"))
        if own is not None and (page.get("images") is None or "dimensions" not in page):
            # Only then render our own page: its images are a list, never null.
            rendered = _page(own, ocr_request.options, ocr_request.include_image_base64)
            page = {**rendered, **page}
            if page.get("images") is None:
                page["images"] = rendered["images"]
        pages.append(page)
    usage = dict(raw.get("usage_info") or {})
    usage.setdefault("pages_processed", len(outcome.result.pages))
    usage.setdefault("doc_size_bytes", len(outcome.document.data))
    return {
        **raw,
        "pages": pages,
        "model": outcome.result.model,
        "usage_info": usage,
        "document_annotation": raw.get("document_annotation"),
        "text": outcome.result.text,
    }


# Request errors Mistral's API answers 422 with a validation `detail` (its SDK raises
# `HTTPValidationError` for them); everything else keeps its status.
VALIDATION_CODES = frozenset({"invalid_request", "invalid_pages", "invalid_base64", "invalid_url"})
_QUOTED_FIELD = re.compile(r"'([A-Za-z_][\w.]*)'")
# The field of an error whose message names none (intake's "Page 3 does not exist …").
_CODE_FIELDS = {"invalid_pages": "pages"}


def error_response(error: ApiError) -> Response:
    if error.status != 400 or error.code not in VALIDATION_CODES:
        return error_response_platform(error)
    named = _QUOTED_FIELD.search(error.message)
    field = named.group(1) if named else _CODE_FIELDS.get(error.code)
    loc: list[str] = ["body", *(field.split(".") if field else [])]
    body = {
        "detail": [{"loc": loc, "msg": error.message, "type": error.code}],
        **error.body(),
    }
    return Response(body, status=422, headers=error.headers)
