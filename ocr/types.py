"""The shared shapes of the OCR flow: what a dialect asks for and what a provider returns.

Dialects parse their request into an `OcrRequest` and render an `OcrResult`; providers
take a `Document` and return an `OcrResult`. Nothing here knows about HTTP or money.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Block:
    """A piece of a page in reading order. bbox is [x0, y0, x1, y1] in page pixels."""

    type: str  # "text", "title", "table"
    content: str
    bbox: tuple[float, float, float, float] | None = None
    confidence: float | None = None  # 0..1


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    markdown: str = ""


@dataclass
class PageResult:
    index: int  # 0-based index in the original document
    markdown: str
    width: int = 0
    height: int = 0
    dpi: int = 72
    blocks: list[Block] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    confidence: float | None = None  # 0..1, mean of the blocks
    # Images cut out of the page (Mistral dialect), each {id, top_left_x, ..., image_base64}.
    images: list[dict[str, Any]] = field(default_factory=list)
    from_text_layer: bool = False


@dataclass
class OcrResult:
    model: str  # the model that really ran
    pages: list[PageResult]
    language: str | None = None  # ISO 639-1
    provider: str = ""  # provider id that served it
    input_tokens: int = 0
    output_tokens: int = 0
    # Set when the upstream reports its own cost (e.g. OpenRouter's usage.cost).
    provider_cost_micros: int | None = None
    upstream_latency_ms: int = 0
    raw: dict[str, Any] | None = None  # the upstream's own response, when it has one
    # "mistral-ocr" when `raw` is a Mistral OCR response (page indices already ours), so
    # the Mistral dialect can hand its pages back exactly as the upstream wrote them.
    raw_format: str = ""

    @property
    def text(self) -> str:
        return "\n\n".join(page.markdown for page in self.pages if page.markdown)

    @property
    def tables(self) -> list[Table]:
        return [table for page in self.pages for table in page.tables]

    @property
    def confidence(self) -> float | None:
        values = [p.confidence for p in self.pages if p.confidence is not None]
        return sum(values) / len(values) if values else None

    @property
    def tokens(self) -> int:
        """The provider's token count, or one token per four characters of output."""
        if self.input_tokens or self.output_tokens:
            return self.input_tokens + self.output_tokens
        return math.ceil(len(self.text) / 4)


@dataclass
class DocumentSource:
    """Where the bytes come from, before intake: exactly one of data, url or file_id."""

    data: bytes | None = None
    url: str | None = None  # http(s) URL fetched by the SSRF-safe fetcher, or a data: URL
    file_id: str | None = None  # a file uploaded with POST /v1/files, the caller's tenant's
    filename: str | None = None
    declared_media_type: str | None = None  # the client's claim: a hint, never trusted


@dataclass
class OcrRequest:
    """A dialect's request in the shared shape."""

    dialect: str
    source: DocumentSource
    max_bytes: int
    model: str | None = None  # None: the dialect's / platform's default
    provider_id: str | None = None
    pages: list[int] | None = None  # 0-based
    password: str | None = None
    language: str | None = None
    extract_tables: bool = False
    include_image_base64: bool = False
    options: dict[str, Any] = field(default_factory=dict)
