"""A fake Cloudflare Workers AI toMarkdown upstream.

`POST /client/v4/accounts/{account_id}/ai/tomarkdown`, multipart/form-data with one or
more `files` parts; answers `{"result": [{id, name, mimeType, format, tokens, data}],
"success": true, "errors": [], "messages": []}`, one result per file, in order. Files in
`unreadable` (by name) come back with `format: "error"`, as the real API reports them.
"""

from __future__ import annotations

import uuid
from email import policy
from email.parser import BytesParser

from tests.fakes.documents import digest, image_size, pdf_page_count
from tests.fakes.server import FakeUpstream, Recorded, Reply


class FakeCloudflare(FakeUpstream):
    def __init__(self, *, account_id: str = "0123456789abcdef0123456789abcdef", **kwargs) -> None:
        super().__init__(**kwargs)
        self.account_id = account_id
        self.unreadable: set[str] = set()
        self.reverse = False  # answer the results in the opposite order of the files

    @property
    def base_url(self) -> str:
        return self.url + "/client/v4"

    def error(self, status: int, message: str) -> Reply:
        code = 10000 if status in (401, 403) else 7000 + status
        return Reply(
            status,
            {
                "result": None,
                "success": False,
                "errors": [{"code": code, "message": message}],
                "messages": [],
            },
        )

    def malformed_body(self) -> bytes:
        return b'{"result": [{"format": "markdown", "data": "trunc'

    def parts(self, request: Recorded) -> list[tuple[str, str, str, bytes]]:
        """(field name, filename, content type, bytes) of each multipart part."""
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise ValueError("expected multipart/form-data")
        message = BytesParser(policy=policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
        )
        out = []
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            out.append(
                (name, part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            )
        return out

    def handle(self, request: Recorded) -> Reply:
        expected = f"/client/v4/accounts/{self.account_id}/ai/tomarkdown"
        if request.method != "POST" or request.path != expected:
            return self.error(404, f"No route for that URI ({request.path})")
        parts = self.parts(request)
        if not parts or any(name != "files" or not filename for name, filename, _, _ in parts):
            return self.error(400, "files: at least one file is required")
        results = []
        for _, filename, content_type, data in parts:
            item = {"id": uuid.uuid4().hex, "name": filename, "mimeType": content_type}
            if filename in self.unreadable:
                item.update(format="error", error="Failed to convert the document")
            elif content_type == "application/pdf":
                pages = pdf_page_count(data)
                text = f"# {filename}\n\nCloudflare fake text of a {pages}-page PDF {digest(data)}."
                item.update(format="markdown", tokens=len(text) // 4, data=text)
            elif content_type.startswith("image/"):
                width, height = image_size(data)
                text = f"The image shows a scanned page ({width}x{height}) with printed text."
                item.update(format="markdown", tokens=len(text) // 4, data=text)
            else:
                item.update(format="error", error=f"Unsupported file type {content_type}")
            results.append(item)
        if self.reverse:
            results.reverse()
        return Reply(200, {"result": results, "success": True, "errors": [], "messages": []})
