"""Mistral OCR: `POST {base}/v1/ocr`.

Uploaded bytes travel as data URLs (`document_url` for PDFs, `image_url` for images).
A PDF with a page selection sends `pages`; Mistral answers with the original indices.
When we have to build a new PDF first (password-protected PDFs, multi-frame images),
the upstream's indices are positions in that PDF and are mapped back.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ocr.models import ProviderModel
from ocr.providers.base import ProviderClient
from ocr.providers.budget import UpstreamBudget
from ocr.providers.pages import (
    PASSTHROUGH_IMAGE_TYPES,
    data_url,
    images_as_pdf,
    page_images,
    pdf_selected_pages,
)
from ocr.types import Block, OcrRequest, OcrResult, PageResult, Table

# Mistral OCR request fields a dialect may hand through in `OcrRequest.options`.
FORWARDED_OPTIONS = (
    "table_format",
    "include_blocks",
    "extract_header",
    "extract_footer",
    "confidence_scores_granularity",
    "image_limit",
    "image_min_size",
    "bbox_annotation_format",
    "document_annotation_format",
    "document_annotation_prompt",
)


class MistralClient(ProviderClient):
    kind = "mistral"

    def ocr(
        self,
        document,
        *,
        model: ProviderModel,
        request: OcrRequest,
        budget: UpstreamBudget | None = None,
    ) -> OcrResult:
        chunk, index_map, selection = self._document_chunk(document)
        body: dict[str, Any] = {"model": model.upstream_name, "document": chunk}
        if selection is not None:
            body["pages"] = selection
        if request.include_image_base64:
            body["include_image_base64"] = True
        for name in FORWARDED_OPTIONS:
            if request.options.get(name) is not None:
                body[name] = request.options[name]

        def mapped(payload: dict[str, Any]) -> tuple[dict[str, Any], list[PageResult]]:
            pages = [self._page(raw, index_map) for raw in payload["pages"]]
            asked = set(document.pages)
            indices = [page.index for page in pages]
            # Only the pages sent, each once: page 99 of a one-page PDF is a broken answer.
            if len(set(indices)) != len(indices) or not set(indices) <= asked:
                raise ValueError(f"pages {sorted(set(indices) - asked)} were not sent")
            # And every page sent: Mistral answers one page object per page processed, so
            # a page left out is a broken answer, not a page to serve empty (and free).
            if set(indices) != asked:
                raise ValueError(f"pages {sorted(asked - set(indices))} were not answered")
            return payload, pages

        started = time.monotonic()
        (payload, pages), _ = self.request_json(
            "/v1/ocr", json_body=body, answer=mapped, budget=budget
        )
        latency_ms = int((time.monotonic() - started) * 1000)
        # Passed on as written, but with what we read of it where Mistral's SDK wants a
        # number: our page index (also when we built the PDF sent), whole dimensions.
        raw_pages = zip(payload["pages"], pages, strict=True)
        payload = {**payload, "pages": [_normalised(raw, page) for raw, page in raw_pages]}
        return OcrResult(
            model=model.name,
            pages=pages,
            provider=self.slug,
            upstream_latency_ms=latency_ms,
            raw=payload,
            raw_format="mistral-ocr",
        )

    def _document_chunk(self, document) -> tuple[dict[str, Any], list[int] | None, Any]:
        """(document chunk, map from upstream index to ours or None, `pages` value or None)."""
        name = document.filename or None
        if document.is_pdf:
            if document.password:
                # Mistral cannot open an encrypted PDF: send the selected pages decrypted.
                chunk = _document_url(pdf_selected_pages(document), name)
                return chunk, list(document.pages), None
            selection = None
            if document.pages != list(range(document.page_count)):
                selection = list(document.pages)
            return _document_url(document.data, name), None, selection
        if document.page_count == 1:
            if document.media_type in PASSTHROUGH_IMAGE_TYPES:
                url = data_url(document.data, document.media_type)
            else:
                _, png, media_type = page_images(document)[0]
                url = data_url(png, media_type)
            return {"type": "image_url", "image_url": url}, [document.pages[0]], None
        return _document_url(images_as_pdf(document), name), list(document.pages), None

    def _page(self, raw: dict[str, Any], index_map: list[int] | None) -> PageResult:
        index = int(raw["index"])
        if index < 0:  # index_map[-1] would be the last page sent
            raise ValueError(f"page index {index} is negative")
        if index_map is not None:
            index = index_map[index]
        dimensions = raw.get("dimensions") or {}
        tables = [
            Table(headers=[], rows=[], markdown=str(table.get("content") or ""))
            for table in raw.get("tables") or []
            if (table.get("format") or "markdown") == "markdown"
        ]
        scores = raw.get("confidence_scores") or {}
        confidence = scores.get("average_page_confidence_score")
        blocks = [_block(block) for block in raw.get("blocks") or []]
        return PageResult(
            index=index,
            markdown=_string(raw["markdown"]),
            width=int(dimensions.get("width") or 0),
            height=int(dimensions.get("height") or 0),
            dpi=int(dimensions.get("dpi") or 72),
            blocks=blocks,
            tables=tables,
            confidence=_finite(confidence) if confidence is not None else None,
            images=_images(raw.get("images")),
        )


def _block(raw: dict[str, Any]) -> Block:
    box = tuple(
        _finite(raw.get(name) or 0)
        for name in ("top_left_x", "top_left_y", "bottom_right_x", "bottom_right_y")
    )
    scores = raw.get("confidence_scores") or {}
    confidence = scores.get("average_content_confidence_score")
    return Block(
        type=str(raw.get("type") or "text"),
        content=str(raw.get("content") or ""),
        bbox=box,
        confidence=_finite(confidence) if confidence is not None else None,
    )


def _document_url(pdf: bytes, name: str | None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "type": "document_url",
        "document_url": data_url(pdf, "application/pdf"),
    }
    if name:
        chunk["document_name"] = name
    return chunk


def _normalised(raw: dict[str, Any], page: PageResult) -> dict[str, Any]:
    """An upstream page with its index ours and its dimensions whole numbers: `"0"` or
    `"612"` (numbers as strings) read fine here, and would break a Mistral client."""
    out = {**raw, "index": page.index}
    if isinstance(raw.get("dimensions"), dict):
        out["dimensions"] = {
            **raw["dimensions"],
            "dpi": page.dpi,
            "height": page.height,
            "width": page.width,
        }
    return out


def _finite(value: Any) -> float:
    """A coordinate or a confidence: a finite number. `"NaN"` and `"Infinity"` are valid
    JSON strings that float() reads as NaN and inf, which no JSON answer can carry: the
    001 dialect's renderer failed on them with a 500, after the charge."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _images(value: Any) -> list[dict[str, Any]]:
    """A page's `images`: a list of image objects (the answer is passed on to Mistral
    clients, whose SDK refuses anything else), or none."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(image, dict) for image in value):
        raise TypeError("images is not a list of objects")
    return list(value)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"markdown is {type(value).__name__}, not a string")
    return value
