from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from config.errors import require_methods


@csrf_exempt  # a POST is refused 405 below, not with Django's CSRF page
@require_methods("GET", "HEAD")
def healthz(request):
    """For load balancers: 200 when the database answers, 503 when it does not.

    Redis, when configured, is "ok" or "degraded": without it requests are still served
    (rate limits in the database, providers counted healthy), so it does not take the
    instance out of service. While its breaker is open (config/redis_breaker.py) it is
    "degraded" without a call, and the status says "degraded"."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = "error"
    if settings.REDIS_URL:
        checks["redis"] = _redis_check()
    if checks["database"] != "ok":
        status = "error"
    else:
        status = "ok" if all(value == "ok" for value in checks.values()) else "degraded"
    return JsonResponse({"status": status, **checks}, status=503 if status == "error" else 200)


def _redis_check() -> str:
    from django.core.cache import cache

    try:
        cache.set("healthz", "1", 5)
        return "ok" if cache.get("healthz") == "1" else "degraded"
    except Exception:  # noqa: BLE001 - unreachable, timed out, breaker open
        return "degraded"
