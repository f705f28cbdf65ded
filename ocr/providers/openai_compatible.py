"""OpenAI-compatible chat models as OCR: `POST {base}/chat/completions`.

Works for OpenRouter, OpenAI, Gemini's OpenAI-compatible endpoint and vLLM. Each selected
page goes as one `image_url` part with an OCR instruction (PDF pages are rendered to PNG
first), one request per page so every page keeps its own Markdown and index. Cost comes
from the tokens it reports and the model's token prices (chat_usage.py reads them, and
estimates them when the answer reports none).

An answer cut off at the output limit (`finish_reason: "length"`) or withheld by a
content filter is a failed call, never a page to charge for. `temperature: 0` is sent for
a stable transcription; a model that accepts only its default temperature (OpenAI's
reasoning models answer 400 `unsupported_value`) is asked once more without it, and this
process leaves it out for that model from then on.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from PIL import Image

from ocr.models import ProviderModel
from ocr.providers.base import EXTRACTION_ERROR, ProviderClient, ProviderError
from ocr.providers.budget import UpstreamBudget
from ocr.providers.chat_usage import chat_usage_read, tokens_estimate
from ocr.providers.pages import data_url, page_images
from ocr.types import OcrRequest, OcrResult, PageResult

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

OCR_INSTRUCTION = (
    "Transcribe all the text in this page image as Markdown, in reading order. Use "
    "headings, lists and Markdown tables where the page has them. Answer with the "
    "transcription only: no commentary and no code fences."
)

# Why a choice stopped, when that means its text is not the whole answer.
_INCOMPLETE = {
    "length": "the model's answer was cut off at its output token limit",
    "content_filter": "the model's answer was withheld by the upstream's content filter",
}

# (provider slug, upstream model) of the models that refused `temperature` in this process
# (a set's add is atomic: threads may race to add the same pair, which is harmless).
_NO_TEMPERATURE: set[tuple[str, str]] = set()


@dataclass
class ChatAnswer:
    content: str
    prompt_tokens: int
    output_tokens: int  # reasoning included (chat_usage.py)
    cost_micros: int | None  # the upstream's own figure, when it reports one
    latency_ms: int
    raw: dict[str, Any]


class OpenAICompatibleClient(ProviderClient):
    kind = "openai_compatible"

    def chat(
        self,
        *,
        model: ProviderModel,
        messages: list[dict[str, Any]],
        extra: dict[str, Any] | None = None,
        budget: UpstreamBudget | None = None,
    ) -> ChatAnswer:
        body: dict[str, Any] = {"model": model.upstream_name, "messages": messages}
        body["temperature"] = 0
        if self._reports_cost_on_request():
            body["usage"] = {"include": True}
        body.update(extra or {})
        refuses_temperature = (self.slug, model.upstream_name)
        if refuses_temperature in _NO_TEMPERATURE:
            body.pop("temperature", None)
        started = time.monotonic()
        try:
            answer, _ = self.request_json(
                "/chat/completions", json_body=body, answer=self._answer, budget=budget
            )
        except ProviderError as error:
            if "temperature" not in body or _refused_param(error) != "temperature":
                raise
            # A reasoning model takes only its default temperature; a 400 costs nothing,
            # so ask once more without it, and leave it out for this model from now on.
            logger.info("%s: %s refuses temperature; sent without it", self.slug, model.name)
            _NO_TEMPERATURE.add(refuses_temperature)
            body.pop("temperature")
            answer, _ = self.request_json(
                "/chat/completions", json_body=body, answer=self._answer, budget=budget
            )
        answer.latency_ms = int((time.monotonic() - started) * 1000)
        if answer.prompt_tokens <= 0 or answer.output_tokens <= 0:
            # A request with a page in it and an answer both take tokens: a count of 0
            # (or none) is the upstream's omission, estimated rather than served free.
            prompt, output = tokens_estimate(messages, answer.content)
            answer.prompt_tokens = answer.prompt_tokens or prompt
            answer.output_tokens = answer.output_tokens or output
            logger.warning(
                "%s: %s reported no or zero token counts; billed %d prompt and %d output tokens",
                self.slug,
                model.name,
                answer.prompt_tokens,
                answer.output_tokens,
            )
        return answer

    def _answer(self, payload: dict[str, Any]) -> ChatAnswer:
        failure = _reported_error(payload)
        if failure is not None:
            # OpenRouter answers 200 once generation has started and reports a failure
            # after that in the body (`error`, or a choice ending in `finish_reason:
            # "error"`): a failed call, not a page to charge for.
            raise ProviderError(
                f"{self.slug}: the upstream reported an error during generation",
                permanent=False,
                detail=self.scrub(str(failure)[:500]),
            )
        choice = payload["choices"][0]
        incomplete = _INCOMPLETE.get(choice.get("finish_reason"))
        if incomplete is not None:
            # A page cut short or filtered reads as a complete transcription: the tenant
            # could not tell. Not retried here (at temperature 0 the same page stops at the
            # same place); another provider of the model may have a higher limit. Says
            # nothing about the provider's health: a dense page is the document's.
            raise ProviderError(
                f"{self.slug}: {incomplete} (finish_reason: {choice['finish_reason']})",
                permanent=True,
                provider_fault=False,
            )
        message = choice["message"]
        content = _text_of(message.get("content"))
        usage = chat_usage_read(payload.get("usage"))
        if content is None:
            refusal = message.get("refusal")
            raise ProviderError(
                f"{self.slug}: the model returned no text"
                + (" (it refused the page)" if refusal else ""),
                permanent=True,
                code=EXTRACTION_ERROR,
            )
        return ChatAnswer(
            content=content,
            prompt_tokens=usage.prompt_tokens,
            output_tokens=usage.output_tokens,
            cost_micros=usage.cost_micros,
            latency_ms=0,
            raw=payload,
        )

    def ocr(
        self,
        document,
        *,
        model: ProviderModel,
        request: OcrRequest,
        budget: UpstreamBudget | None = None,
    ) -> OcrResult:
        images = page_images(document)
        # One deadline for the request; a stop signal for this call's pages only.
        budget = (budget or UpstreamBudget.from_settings()).pages()
        instruction = OCR_INSTRUCTION
        if request.language:
            instruction += f" The page is expected to be in the language '{request.language}'."

        def one_page(item: tuple[int, bytes, str]) -> tuple[PageResult, ChatAnswer]:
            index, data, media_type = item
            messages = [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": instruction},
                        {"type": "image_url", "image_url": {"url": data_url(data, media_type)}},
                    ],
                }
            ]
            answer = self.chat(model=model, messages=messages, budget=budget)
            if data is document.data and document.image_size:  # sent as it came
                width, height = document.image_size
            else:
                width, height = _image_size(data)
            page = PageResult(
                index=index, markdown=_unfenced(answer.content), width=width, height=height
            )
            return page, answer

        workers = min(len(images), int(getattr(settings, "OCR_PROVIDER_PAGE_CONCURRENCY", 4)))
        started = time.monotonic()
        done = _pages_read(images, one_page, workers=workers, budget=budget)
        wall_ms = int((time.monotonic() - started) * 1000)
        answers = [answer for _, answer in done]
        costs = [answer.cost_micros for answer in answers]
        return OcrResult(
            model=model.name,
            pages=[page for page, _ in done],
            provider=self.slug,
            input_tokens=sum(a.prompt_tokens for a in answers),
            output_tokens=sum(a.output_tokens for a in answers),
            # Only trust the upstream's figure when every page reported one.
            provider_cost_micros=sum(costs) if costs and None not in costs else None,
            upstream_latency_ms=wall_ms,
        )

    def _reports_cost_on_request(self) -> bool:
        # OpenRouter returns `usage.cost` when asked; OpenAI refuses unknown fields.
        host = urlsplit(self.provider.base_url).hostname or ""
        return host == "openrouter.ai" or host.endswith(".openrouter.ai")


def _pages_read(
    items: list[T], read: Callable[[T], R], *, workers: int, budget: UpstreamBudget
) -> list[R]:
    """`read` of every item in order, `workers` at a time; the first failure is raised.

    A page that fails for good fails the whole call (the request fails or fails over,
    which redoes every page), so it stops the rest at once: no queued page is sent and
    no page in flight is tried again, since each would be paid to the upstream for
    nothing. Pages already in flight are waited for, not abandoned: the upstream bills
    them whether or not their answer is read, a thread blocked in a socket read cannot
    be cancelled from outside, and their wait is bounded by the try's timeout, cut to
    the request's budget. Every thread and connection is done when this returns.
    """
    failures: list[BaseException] = []
    lock = threading.Lock()

    def guarded(item: T) -> R | None:
        if budget.stopped:
            return None  # another page failed: not sent
        try:
            return read(item)
        except BaseException as exc:
            with lock:
                if not budget.stopped:  # the first failure is the one reported
                    failures.append(exc)
                    budget.stop()
            raise

    if workers <= 1:
        return [read(item) for item in items]  # stops at the first failure by itself
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(guarded, item) for item in items]
    if failures:
        raise failures[0]
    return [future.result() for future in futures]


def _reported_error(payload: dict[str, Any]) -> Any:
    """The error an answer carries in its body, or None (`"error": null`, `false` or an
    empty value, which some servers send on success, is no error)."""
    if payload.get("error"):
        return payload["error"]
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        choice = choices[0]
        if choice.get("error") or choice.get("finish_reason") == "error":
            return choice.get("error") or "finish_reason: error"
    return None


def _refused_param(error: ProviderError) -> str | None:
    """The request parameter a 400 says the model does not support, as OpenAI words it:
    `{"error": {"param": "temperature", "code": "unsupported_value", ...}}`."""
    if error.status != 400:
        return None
    try:
        reported = json.loads(error.detail)["error"]
        code, param = reported.get("code"), reported.get("param")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if code in ("unsupported_value", "unsupported_parameter") and isinstance(param, str):
        return param
    return None


def _text_of(content: Any) -> str | None:
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        texts = [part.get("text") for part in content if isinstance(part, dict)]
        if not all(text is None or isinstance(text, str) for text in texts):
            # str() made `{'a': 1}` a page's text, served and charged.
            raise TypeError("a content part's text is not a string")
        return "".join(text or "" for text in texts)
    raise TypeError(f"unexpected content type {type(content).__name__}")


def _unfenced(text: str) -> str:
    """Models wrap answers in ```markdown fences despite being asked not to."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```") and "\n" in stripped:
        stripped = stripped[stripped.index("\n") + 1 : -3]
    return stripped.strip()


def _image_size(data: bytes) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # noqa: BLE001 - sizes are informative only
        return 0, 0
