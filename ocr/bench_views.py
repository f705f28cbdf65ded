"""A bare Django view for bench/gateway.py: the ceiling of this stack on this machine.

It runs the same middleware as the API and answers a small JSON body, with no auth, no
database and no upstream. Routed only when DEBUG is on or BENCH_BARE_VIEW=1 (see
config/urls.py), never in a normal deployment.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bench_bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "bytes": len(request.body)})
