"""What an OpenAI-compatible answer's `usage` says was used and what it cost.

Tokens: OpenAI counts reasoning inside `completion_tokens` (`completion_tokens_details.
reasoning_tokens` is a breakdown of it) and `total_tokens` is prompt + completion. Some
upstreams (Gemini's OpenAI-compatible endpoint, proxies in front of it) leave the reasoning
out of `completion_tokens` and report it only in `total_tokens` and `reasoning_tokens`; the
upstream bills it all the same. The output billed is therefore the largest of
`completion_tokens`, `total_tokens - prompt_tokens` and, when `reasoning_tokens` exceeds
`completion_tokens` (so it cannot be a part of it), `completion_tokens + reasoning_tokens`:
never less than what the upstream billed, never the reasoning twice.

Cost: OpenRouter's `usage.cost` (USD) is what it charged the account. With the operator's
own provider key (BYOK, `usage.is_byok: true`) that is only OpenRouter's fee, and the
provider bills `cost_details.upstream_inference_cost` to that key directly: the true cost
is the sum. Without BYOK OpenRouter fills `upstream_inference_cost` too (the same
inference, already inside `cost`), so it is never added then; when `is_byok` is absent
the larger of the two is taken, which never counts the inference twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing.money import usd_to_micros


@dataclass(frozen=True)
class ChatUsage:
    prompt_tokens: int
    output_tokens: int  # what the upstream billed as output, reasoning included
    cost_micros: int | None  # the upstream's own figure, when it reports one


def chat_usage_read(usage: Any) -> ChatUsage:
    """The usage of one answer. Raises ValueError/TypeError on counts of the wrong kind
    (a broken answer, retried by the caller); a count below zero is taken as zero, since it
    is the upstream's error, not a credit to pass on."""
    usage = usage or {}
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


def _count(value: Any) -> int:
    return max(0, int(value or 0))


def _cost_micros(usage: dict[str, Any]) -> int | None:
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
