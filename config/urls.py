import os

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from accounts.throttle import refused_sign_in_is_429
from config.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Before the admin's own login/ route: the same view, a refusal by the sign-in
    # limit answered 429 (the form is admin.site.login_form, accounts/admin.py).
    path("admin/login/", refused_sign_in_is_429(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="schema"), name="api-docs"),
    path("", include("keys.urls")),
    path("", include("billing.urls")),
    path("", include("ocr.urls")),
    path("", include("accounts.urls")),
]

if settings.DEBUG or os.environ.get("BENCH_BARE_VIEW") == "1":
    # bench/gateway.py's ceilings: a view with no auth, database or upstream, and one
    # that makes only the upstream call.
    from ocr.bench_views import bench_bare, bench_proxy

    urlpatterns.append(path("bench/bare", bench_bare, name="bench-bare"))
    urlpatterns.append(path("bench/proxy", bench_proxy, name="bench-proxy"))

# Django's own 400/403/404/500 answers, as the JSON envelope on API paths.
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
