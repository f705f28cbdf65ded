from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from config.errors import require_methods


@csrf_exempt  # a POST is refused 405 below, not with Django's CSRF page
@require_methods("GET", "HEAD")
def healthz(request):
    """For load balancers: 200 when the database (and Redis, when configured) answer."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = "error"
    if settings.REDIS_URL:
        try:
            from django.core.cache import cache

            cache.set("healthz", "1", 5)
            checks["redis"] = "ok" if cache.get("healthz") == "1" else "error"
        except Exception:  # noqa: BLE001
            checks["redis"] = "error"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )
