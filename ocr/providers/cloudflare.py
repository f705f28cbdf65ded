"""Cloudflare Workers AI toMarkdown: `POST {base}/accounts/{account_id}/ai/tomarkdown`.

The upstream converts whole files (multipart `files`, one result per file), so a PDF is
split into one-page PDFs, one part per selected page, and each result maps back to its
page. Images go as one part (converted to PNG when the upstream would not take the
format). A result with `format: "error"` means the upstream could not read that file:
`ocr_extraction_error`.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from ocr.models import ProviderModel
from ocr.providers.base import EXTRACTION_ERROR, ProviderClient, ProviderError, token_count
from ocr.providers.budget import UpstreamBudget
from ocr.providers.pages import page_images, pdf_single_pages
from ocr.types import OcrRequest, OcrResult, PageResult

# page_images() gives these types only (others are converted to PNG).
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


class CloudflareClient(ProviderClient):
    kind = "cloudflare"

    def available(self, *, model: ProviderModel | None = None) -> bool:
        return bool(self.provider.account_id) and super().available(model=model)

    def ocr(
        self,
        document,
        *,
        model: ProviderModel,
        request: OcrRequest,
        budget: UpstreamBudget | None = None,
    ) -> OcrResult:
        parts = self._parts(document)
        files = [("files", (name, data, media_type)) for _, name, data, media_type in parts]
        path = f"/accounts/{quote(self.provider.account_id, safe='')}/ai/tomarkdown"

        def mapped(payload: dict[str, Any]) -> tuple[dict[str, Any], list[PageResult], int]:
            # Cloudflare's envelope says `"success": true`; any other value there
            # ("false", 0, null) is no success. An answer without the field is judged by
            # its results.
            if "success" in payload and payload["success"] is not True:
                raise ProviderError(
                    f"{self.slug}: the upstream reported a failure",
                    permanent=False,
                    detail=self.scrub(str(payload.get("errors"))[:500]),
                )
            results = payload["result"]
            if len(results) != len(parts):
                raise ValueError(f"{len(results)} results for {len(parts)} files")
            # Each result names the file it came from: match by name when every name is
            # one we sent, once, so an answer in another order still maps to its page.
            by_name = {item.get("name"): item for item in results}
            names = [name for _, name, _, _ in parts]
            if set(by_name) == set(names) and len(by_name) == len(names):
                results = [by_name[name] for name in names]
            pages = []
            tokens = 0
            for (index, _name, _, _), item in zip(parts, results, strict=True):
                if item.get("format") == "error":
                    raise ProviderError(
                        f"{self.slug}: the upstream could not convert page {index + 1}",
                        permanent=True,
                        code=EXTRACTION_ERROR,
                        detail=self.scrub(str(item.get("error") or "")[:500]),
                    )
                tokens += token_count(item.get("tokens"))
                data = item["data"]
                if not isinstance(data, str):  # null is no page: never the text "None"
                    raise TypeError(f"data is {type(data).__name__}, not a string")
                pages.append(PageResult(index=index, markdown=data.strip()))
            return payload, pages, tokens

        started = time.monotonic()
        (payload, pages, tokens), _ = self.request_json(
            path, files=files, answer=mapped, budget=budget
        )
        latency_ms = int((time.monotonic() - started) * 1000)
        return OcrResult(
            model=model.name,
            pages=pages,
            provider=self.slug,
            output_tokens=tokens,
            upstream_latency_ms=latency_ms,
            raw=payload,
        )

    def _parts(self, document) -> list[tuple[int, str, bytes, str]]:
        """(original page index, file name, bytes, media type) for each file sent."""
        stem = (document.filename or "document").rsplit(".", 1)[0] or "document"
        if document.is_pdf:
            return [
                (index, f"{stem}-p{index + 1}.pdf", pdf, "application/pdf")
                for index, pdf in pdf_single_pages(document)
            ]
        out = []
        for index, data, media_type in page_images(document):
            out.append((index, f"{stem}-p{index + 1}.{_EXTENSIONS[media_type]}", data, media_type))
        return out
