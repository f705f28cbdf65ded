"""A fake OpenAI-compatible chat completions upstream: `POST /v1/chat/completions`.

Checks the model and the messages (each user turn carries `image_url` parts as base64
data URLs of real images, or text); answers a `chat.completion` with `usage`. With
`report_cost` it adds OpenRouter's `usage.cost` (USD) with `is_byok` and
`cost_details.upstream_inference_cost`; with `byok` as well the inference is billed to the
operator's own provider key and `cost` is only OpenRouter's 5 % fee. Replies come from
`replies` (a queue, e.g. JSON for structured output) or describe the image it was sent.

Like the real thing:
- `output_limit` (tokens, about 4 characters each) is the model's output ceiling, lowered
  by a request's `max_tokens`/`max_completion_tokens`; a longer answer is cut there and
  ends with `finish_reason: "length"`. `content_filter` ends every answer with
  `finish_reason: "content_filter"` and part of its text. A page image whose size is in
  `dense_sizes` is too dense for any output limit: its answer is always cut ("length").
- `reasoning_tokens` are spent per answer before the visible text. OpenAI counts them
  inside `completion_tokens` (`completion_tokens_details.reasoning_tokens` breaks them
  out); with `reasoning_in_completion = False` the fake counts them as Gemini's
  OpenAI-compatible endpoint does, in `total_tokens` and the breakdown only.
- The reasoning models (`reasoning_models`) answer OpenAI's 400s to a `temperature`
  other than 1 (`unsupported_value`) and to `max_tokens` (`unsupported_parameter`).
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from decimal import Decimal

from tests.fakes.documents import data_url_decode, image_size
from tests.fakes.server import FakeUpstream, Recorded, Reply


class FakeOpenAI(FakeUpstream):
    reasoning_models = {"o4-mini", "gpt-5-mini"}
    known_models = {"gpt-4o-mini", "google/gemini-2.5-flash", "qwen2.5-vl-7b", *reasoning_models}
    # OpenRouter-style prices used for `usage.cost`, USD per token.
    prompt_usd_per_token = Decimal("0.00000015")
    completion_usd_per_token = Decimal("0.0000006")
    byok_fee = Decimal("0.05")  # OpenRouter's fee on inference billed to the user's key

    def __init__(self, *, report_cost: bool = False, byok: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.report_cost = report_cost
        self.byok = byok
        self.output_limit: int | None = None
        self.content_filter = False
        self.dense_sizes: set[tuple[int, int]] = set()
        self.reasoning_tokens = 0
        self.reasoning_in_completion = True
        self.replies: deque[str] = deque()
        self.usages: list[dict] = []  # each `usage` object answered, in order

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def error(self, status: int, message: str) -> Reply:
        code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
        kind = "invalid_request_error" if status < 500 else "server_error"
        return Reply(
            status, {"error": {"message": message, "type": kind, "param": None, "code": code}}
        )

    def malformed_body(self) -> bytes:
        return b'{"id": "chatcmpl-x", "choices": [{"message": {"content": "trunc'

    def handle(self, request: Recorded) -> Reply:
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return self.error(404, f"Invalid URL ({request.method} {request.path})")
        body = request.json()
        if body.get("model") not in self.known_models:
            return self.error(404, f"The model `{body.get('model')}` does not exist")
        refused = self._refused_parameter(body)
        if refused is not None:
            return refused
        messages = body["messages"]
        if not messages or not all(m["role"] in ("system", "user", "assistant") for m in messages):
            return self.error(400, "messages must be a non-empty list of chat turns")
        images, text_chars = [], 0
        for message in messages:
            content = message["content"]
            parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
            for part in parts:
                if part["type"] == "text":
                    text_chars += len(part["text"])
                elif part["type"] == "image_url":
                    media_type, data = data_url_decode(part["image_url"]["url"])
                    if media_type not in ("image/png", "image/jpeg", "image/webp", "image/gif"):
                        return self.error(400, f"Invalid image type {media_type}")
                    images.append(image_size(data))
                else:
                    return self.error(400, f"unknown content part {part['type']!r}")
        if self.replies:
            content = self.replies.popleft()
        elif images:
            width, height = images[0]
            content = f"# Scanned page\n\nFake transcription of a {width}x{height} image."
        else:
            content = "Fake answer."
        content, finish_reason = self._finished(body, content)
        if images and images[0] in self.dense_sizes:
            content, finish_reason = content[: len(content) // 2], "length"
        prompt_tokens = text_chars // 4 + 85 * len(images) + 7
        visible_tokens = max(1, len(content) // 4)
        output_tokens = visible_tokens + self.reasoning_tokens  # what is billed
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": output_tokens if self.reasoning_in_completion else visible_tokens,
            "total_tokens": prompt_tokens + output_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }
        if self.report_cost:
            inference = (
                prompt_tokens * self.prompt_usd_per_token
                + output_tokens * self.completion_usd_per_token
            )
            # OpenRouter fills upstream_inference_cost on every call; only with the
            # user's own key is it billed apart from `cost`.
            cost = inference * self.byok_fee if self.byok else inference
            usage["cost"] = float(cost)
            usage["is_byok"] = self.byok
            usage["cost_details"] = {"upstream_inference_cost": float(inference)}
        if self.record:
            with self._lock:
                self.usages.append(usage)
        return Reply(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": usage,
                "system_fingerprint": "fp_fake",
            },
        )

    def _refused_parameter(self, body: dict) -> Reply | None:
        """OpenAI's answers when a reasoning model is sent what it does not take."""
        if body["model"] not in self.reasoning_models:
            return None
        if "max_tokens" in body:
            return self._unsupported(
                "unsupported_parameter",
                "max_tokens",
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
            )
        if body.get("temperature", 1) != 1:
            return self._unsupported(
                "unsupported_value",
                "temperature",
                f"Unsupported value: 'temperature' does not support {body['temperature']} "
                "with this model. Only the default (1) value is supported.",
            )
        return None

    @staticmethod
    def _unsupported(code: str, param: str, message: str) -> Reply:
        error = {"message": message, "type": "invalid_request_error", "param": param}
        return Reply(400, {"error": {**error, "code": code}})

    def _finished(self, body: dict, content: str) -> tuple[str, str]:
        """The text as the model ends it, and why it ended."""
        if self.content_filter:
            return content[: len(content) // 2], "content_filter"
        limits = [self.output_limit, body.get("max_tokens"), body.get("max_completion_tokens")]
        limits = [limit for limit in limits if limit is not None]
        if limits:
            # Reasoning is spent first, out of the same budget.
            room = max(0, min(limits) - self.reasoning_tokens) * 4
            if len(content) > room:
                return content[:room], "length"
        return content, "stop"

    @staticmethod
    def image_sizes(request: Recorded) -> list[tuple[int, int]]:
        """The sizes of the images a chat request carries, in order."""
        sizes = []
        for message in request.json()["messages"]:
            content = message["content"]
            for part in content if isinstance(content, list) else []:
                if part.get("type") == "image_url":
                    sizes.append(image_size(data_url_decode(part["image_url"]["url"])[1]))
        return sizes

    @staticmethod
    def cost_micros(usage: dict) -> int:
        """What `usage.cost` says, in micro-dollars (0.00012 USD -> 120)."""
        return int((Decimal(str(usage["cost"])) * 1_000_000).to_integral_value())
