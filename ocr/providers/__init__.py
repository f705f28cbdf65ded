"""Upstream OCR providers: one module per kind, one small base class (`base.py`).

`client_for(provider)` gives the client for a configured `Provider` row.
"""

from __future__ import annotations

from ocr.models import Provider
from ocr.providers.base import ProviderClient, ProviderError

__all__ = ["ProviderClient", "ProviderError", "client_for"]


def client_for(provider: Provider) -> ProviderClient:
    from ocr.providers.cloudflare import CloudflareClient
    from ocr.providers.local import LocalClient
    from ocr.providers.mistral import MistralClient
    from ocr.providers.openai_compatible import OpenAICompatibleClient

    kinds: dict[str, type[ProviderClient]] = {
        "local": LocalClient,
        "mistral": MistralClient,
        "openai_compatible": OpenAICompatibleClient,
        "cloudflare": CloudflareClient,
    }
    try:
        return kinds[provider.kind](provider)
    except KeyError:
        raise ValueError(
            f"provider {provider.slug!r} has an unknown kind {provider.kind!r}"
        ) from None
