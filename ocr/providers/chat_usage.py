"""What an OpenAI-compatible answer's `usage` says was used and what it cost.

Tokens: OpenAI counts reasoning inside `completion_tokens` (`completion_tokens_details.
reasoning_tokens` is a breakdown of it) and `total_tokens` is prompt + completion. Some
upstreams (Gemini's OpenAI-compatible endpoint, proxies in front of it) leave the reasoning
out of `completion_tokens` and report it only in `total_tokens` and `reasoning_tokens`; the
upstream bills it all the same. The output billed is therefore the largest of
`completion_tokens`, `total_tokens - prompt_tokens` and, when `reasoning_tokens` exceeds
`completion_tokens` (so it cannot be a part of it), `completion_tokens + reasoning_tokens`:
never less than what the upstream billed, never the reasoning twice.

Cost: OpenRouter's `usage.cost` (USD) is what it charged the account; it is compared with
the price list for the operator, and the tenant pays the price list (DESIGN.md §5). With the operator's
own provider key (BYOK, `usage.is_byok: true`) that is only OpenRouter's fee, and the
provider bills `cost_details.upstream_inference_cost` to that key directly: the true cost
is the sum. Without BYOK OpenRouter fills `upstream_inference_cost` too (the same
inference, already inside `cost`), so it is never added then; when `is_byok` is absent
the larger of the two is taken, which never counts the inference twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing.money import usd_to_micros
from ocr.providers.base import MAX_TOKENS_PER_ANSWER


@dataclass(frozen=True)
class ChatUsage:
    prompt_tokens: int  # 0 when not reported (the caller estimates it: tokens_estimate)
    output_tokens: int  # what the upstream billed as output, reasoning included
    cost_micros: int | None  # the upstream's own figure, when it reports one


def chat_usage_read(usage: Any) -> ChatUsage:
    """The usage of one answer. Raises ValueError/TypeError on counts of the wrong kind
    (a broken answer, retried by the caller); a count below zero is taken as zero, since it
    is the upstream's error, not a credit to pass on."""
    usage = usage or {}
    if not isinstance(usage, dict):
        raise TypeError("usage must be an object")
    prompt = _count(usage.get("prompt_tokens"))
    completion = _count(usage.get("completion_tokens"))
    output = completion
    if usage.get("total_tokens") is not None:
        output = max(output, _count(usage["total_tokens"]) - prompt)
    details = usage.get("completion_tokens_details") or {}
    reasoning = _count(details.get("reasoning_tokens"))
    if reasoning > completion:
        output = max(output, completion + reasoning)
    return ChatUsage(prompt_tokens=prompt, output_tokens=output, cost_micros=_cost_micros(usage))


# OpenAI's image pricing (detail "high"): fit in 2048 x 2048, shortest side to 768, then
# 170 tokens a 512-px tile plus 85.
_IMAGE_FIT, _IMAGE_SHORT, _TILE = 2048, 768, 512
_IMAGE_UNKNOWN_TOKENS = 85 + 170 * 4  # a page whose size cannot be read


def tokens_estimate(messages: list[dict[str, Any]], content: str) -> tuple[int, int]:
    """(prompt, output) tokens for an answer that reported none, or 0 (some proxies and
    model servers leave `usage` out or fill it with zeros): text at one token per four
    characters, rounded up, as the 000 dialect counts them; images as OpenAI prices them.
    An upstream that reports nothing must not serve pages for free when the model is
    priced by the token."""
    prompt = 0
    for message in messages:
        parts = message.get("content")
        if isinstance(parts, str):
            parts = [{"type": "text", "text": parts}]
        for part in parts or []:
            if part.get("type") == "text":
                prompt += _text_tokens(part.get("text") or "")
            elif part.get("type") == "image_url":
                prompt += _image_tokens((part.get("image_url") or {}).get("url") or "")
    return prompt, max(1, _text_tokens(content))


def _text_tokens(text: str) -> int:
    return -(-len(text) // 4)


def _image_tokens(url: str) -> int:
    import base64
    import io

    from PIL import Image

    try:
        data = base64.b64decode(url.split(",", 1)[1])
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - an estimate: the size is not essential
        return _IMAGE_UNKNOWN_TOKENS
    scale = min(1.0, _IMAGE_FIT / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, _IMAGE_SHORT / min(width, height))
    width, height = width * scale, height * scale
    tiles = -(-int(width) // _TILE) * -(-int(height) // _TILE)
    return 85 + 170 * max(1, tiles)


def _count(value: Any) -> int:
    """A token count: a whole number (a fraction rounded up), at least 0; a boolean, a
    string or a count no answer can reach (MAX_TOKENS_PER_ANSWER) is a broken answer, not
    1, 1000 or 10**30 tokens."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a token count is a number, not {type(value).__name__}")
    count = max(0, math.ceil(value))
    if count > MAX_TOKENS_PER_ANSWER:
        raise ValueError(f"a token count of {count} is not plausible")
    return count


def _cost_micros(usage: dict[str, Any]) -> int | None:
    """The upstream's own figure, compared with the price list and logged, never charged
    (billing/pricing.py): one it gets wrong is ignored, not a failed page."""
    try:
        return _reported_cost_micros(usage)
    except (ValueError, TypeError, ArithmeticError, AttributeError):
        return None


def _reported_cost_micros(usage: dict[str, Any]) -> int | None:
    cost = _usd(usage.get("cost"))
    upstream = _usd((usage.get("cost_details") or {}).get("upstream_inference_cost"))
    if upstream is None:
        total = cost
    elif cost is None:
        total = upstream
    elif usage.get("is_byok") is True:
        total = cost + upstream
    elif usage.get("is_byok") is False:
        total = cost
    else:
        total = max(cost, upstream)
    return None if total is None else usd_to_micros(total)


def _usd(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a cost is a number, not a boolean")
    amount = Decimal(str(value))
    if not amount.is_finite():
        raise ValueError("a cost must be finite")
    return max(Decimal(0), amount)
