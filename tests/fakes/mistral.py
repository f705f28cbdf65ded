"""A fake Mistral OCR upstream: `POST /v1/ocr`, request and response as Mistral's API docs.

Checks the model, the `document` chunk (a `document_url` PDF or an `image_url` image, as
data URLs or http(s) URLs), `pages`; answers one page object per processed page with
`index` (original 0-based), `markdown`, `images`, `dimensions`, and `usage_info`.
"""

from __future__ import annotations

import json
import uuid

from tests.fakes.documents import data_url_decode, digest, image_size, pdf_page_count
from tests.fakes.server import FakeUpstream, Recorded, Reply

MODEL_VERSION = "mistral-ocr-2512"


class FakeMistral(FakeUpstream):
    known_models = {"mistral-ocr-latest", "mistral-ocr-2512"}

    @property
    def base_url(self) -> str:
        return self.url

    def markdown_for(self, index: int, doc_digest: str) -> str:
        return f"# Page {index + 1}\n\nMistral fake text of page {index} of {doc_digest}."

    def blocks_for(self, index: int, doc_digest: str) -> list[dict]:
        title, text = self.markdown_for(index, doc_digest).split("\n\n", 1)
        return [
            {
                "type": "title",
                "top_left_x": 100,
                "top_left_y": 80,
                "bottom_right_x": 900,
                "bottom_right_y": 140,
                "content": title,
            },
            {
                "type": "text",
                "top_left_x": 100,
                "top_left_y": 180,
                "bottom_right_x": 1500,
                "bottom_right_y": 240,
                "content": text,
            },
        ]

    def error(self, status: int, message: str) -> Reply:
        if status == 401:
            return Reply(401, {"message": message, "request_id": uuid.uuid4().hex})
        return Reply(
            status,
            {
                "object": "error",
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": str(status),
            },
        )

    def malformed_body(self) -> bytes:
        return b'{"pages": [{"index": 0, "markdown": "trunc'

    def handle(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/v1/ocr":
            return self.error(404, f"no route {request.method} {request.path}")
        if not request.headers.get("content-type", "").startswith("application/json"):
            return self.error(415, "expected application/json")
        body = request.json()
        if body.get("model") not in self.known_models:
            return self.error(400, f"Invalid model: {body.get('model')}")
        document = body["document"]
        kind = document.get("type")
        if kind == "document_url":
            media_type, data = data_url_decode(document["document_url"])
            if media_type != "application/pdf":
                return self.error(422, "document_url must be a PDF")
            page_count = pdf_page_count(data)
            width, height = 1700, 2200
        elif kind == "image_url":
            url = document["image_url"]
            url = url["url"] if isinstance(url, dict) else url
            media_type, data = data_url_decode(url)
            if media_type not in ("image/png", "image/jpeg", "image/webp", "image/avif"):
                return self.error(422, f"unsupported image type {media_type}")
            width, height = image_size(data)
            page_count = 1
        else:
            return self.error(422, f"unknown document type {kind!r}")
        pages = body.get("pages")
        if pages is None:
            indices = list(range(page_count))
        else:
            if not all(isinstance(i, int) and 0 <= i < page_count for i in pages):
                return self.error(422, f"pages out of range for a {page_count}-page document")
            indices = list(pages)
        with_images = bool(body.get("include_image_base64"))
        with_blocks = body.get("include_blocks", True)  # on by default, as upstream
        doc_digest = digest(data)
        return Reply(
            200,
            {
                "pages": [
                    {
                        "index": i,
                        "markdown": self.markdown_for(i, doc_digest),
                        "images": [
                            {
                                "id": f"img-{i}.jpeg",
                                "top_left_x": 10,
                                "top_left_y": 20,
                                "bottom_right_x": 110,
                                "bottom_right_y": 220,
                                **(
                                    {"image_base64": "data:image/jpeg;base64,/9j/4AAQ"}
                                    if with_images
                                    else {}
                                ),
                            }
                        ],
                        "dimensions": {"dpi": 200, "height": height, "width": width},
                        "tables": [],
                        "hyperlinks": [f"https://example.com/doc/{doc_digest[:8]}#page={i}"],
                        "header": f"Header of page {i}" if body.get("extract_header") else None,
                        "footer": f"Page {i + 1}" if body.get("extract_footer") else None,
                        **({"blocks": self.blocks_for(i, doc_digest)} if with_blocks else {}),
                    }
                    for i in indices
                ],
                "model": MODEL_VERSION,
                "document_annotation": (
                    json.dumps({"title": f"Document {doc_digest[:8]}"})
                    if body.get("document_annotation_format")
                    else None
                ),
                "usage_info": {"pages_processed": len(indices), "doc_size_bytes": len(data)},
            },
        )
