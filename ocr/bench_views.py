"""Views for bench/gateway.py: the ceilings of this stack on this machine.

Both run the same middleware as the API. Routed only when DEBUG is on or
BENCH_BARE_VIEW=1 (see config/urls.py), never in a normal deployment.

- `bench_bare` answers a small JSON body, with no auth, no database and no upstream;
- `bench_proxy` makes the one upstream call a gateway request makes (the chat
  completion for one page, through the same provider client and pooled transport) and
  nothing else: no auth, rate limit, database, pricing or dialect. What it reaches is
  the most any gateway that calls that upstream can reach on the same cores.
"""

from __future__ import annotations

import base64
import binascii
import json
import os

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ocr.models import Provider, ProviderModel
from ocr.providers.openai_compatible import OCR_INSTRUCTION, OpenAICompatibleClient
from ocr.providers.pages import data_url


@csrf_exempt
def bench_bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "bytes": len(request.body)})


def _proxy_client() -> tuple[OpenAICompatibleClient, ProviderModel]:
    # Unsaved rows: nothing is read from the database.
    provider = Provider(
        slug="bench-proxy",
        kind="openai_compatible",
        base_url=os.environ.get("BENCH_PROXY_UPSTREAM", ""),
        secret_env=os.environ.get("BENCH_PROXY_SECRET_ENV", ""),
        timeout_s=30,
    )
    model = ProviderModel(provider=provider, name="bench-proxy", upstream_model="gpt-4o-mini")
    return OpenAICompatibleClient(provider), model


@csrf_exempt
def bench_proxy(request: HttpRequest) -> JsonResponse:
    if not os.environ.get("BENCH_PROXY_UPSTREAM"):
        return JsonResponse({"error": "BENCH_PROXY_UPSTREAM is not set"}, status=503)
    try:
        image = base64.b64decode(json.loads(request.body)["base64"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error):
        return JsonResponse({"error": "a JSON body with base64 is expected"}, status=400)
    client, model = _proxy_client()
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": OCR_INSTRUCTION},
                {"type": "image_url", "image_url": {"url": data_url(image, "image/png")}},
            ],
        }
    ]
    answer = client.chat(model=model, messages=messages)
    return JsonResponse({"text": answer.content, "tokens": answer.prompt_tokens})
