"""Middleware of the API paths: NUL characters and compressed bodies refused, and CORS for
browser clients.

NUL. Requests refused before any view: a NUL character in the path or the query string.

No id, key, filter or date of this API contains one, and PostgreSQL cannot store or
compare text holding one (psycopg raises DataError: a 500 wherever a path or query
value reached a query, e.g. `/api/v1/keys/%00`, `/v1/files?search=%00`). A path with
one names nothing: 404 `not_found`, as an unknown id is; a query with one is 400
`invalid_request`."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, HttpResponse, JsonResponse

from config.errors import is_api_request
from ocr.pipeline import request_id_new

# Seed 003's endpoints answer errors as `{"error": "<message>", "code"}` (docs/dialects.md).
SEED_003_PATHS = ("/api/upload", "/api/ocr/process", "/api/files/")


def _query_has_nul(request: HttpRequest) -> bool:
    query = request.META.get("QUERY_STRING", "")
    return "\x00" in query or b"\x00" in unquote_to_bytes(query.replace("+", " "))


def _refusal(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if not is_api_request(request):  # the dashboard keeps plain pages
        return HttpResponse(message, status=status, content_type="text/plain")
    body: dict = {"error": {"code": code, "message": message}}
    if request.path_info.lower().startswith(SEED_003_PATHS):
        body = {"error": message, "code": code}  # seed 003's own envelope
    response = JsonResponse(body, status=status)
    # As every OCR answer (the schema says so): refused here, before any view, it had
    # none. CorsMiddleware adds the X-Request-Id.
    response["X-Cost-Usd"] = "0.000000"
    return response


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info:
            return _refusal(request, 404, "not_found", "No such resource: the path holds a NUL.")
        if _query_has_nul(request):
            return _refusal(
                request, 400, "invalid_request", "The query string holds a NUL character."
            )
        coding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if coding not in ("", "identity") and is_api_request(request):
            # A compressed request body is not decoded (a zip bomb would be ours to
            # inflate): said as such (RFC 9110: 415), where the compressed bytes were read
            # as they came and refused as "not valid JSON", or a plain body labelled gzip
            # was taken.
            return _refusal(
                request,
                415,
                "unsupported_content_encoding",
                f"Content-Encoding {coding[:40]!r} is not supported: send the body uncompressed.",
            )
        return self.get_response(request)


# --- CORS --------------------------------------------------------------------------------
# The API authenticates by a key in a header, never by cookie, so any origin may call it
# from a browser: a preflight (OPTIONS with Access-Control-Request-Method) is answered
# 204 before authentication, and every API answer allows any origin and exposes the
# request id, cost and rate-limit headers. The dashboard's pages are left out. Every API
# answer (Stripe's webhook included) gets an X-Request-Id when its view set none.
_ALLOWED_HEADERS = "Authorization, Content-Type, X-API-Key"
_EXPOSED_HEADERS = (
    "X-Request-Id, X-Cost-Usd, X-Credits-Remaining-Usd, Retry-After, RateLimit, "
    "RateLimit-Policy, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"
)
_PREFLIGHT_MAX_AGE_S = "600"


class CorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_api_request(request):
            return self.get_response(request)
        if request.path_info.startswith("/stripe/"):
            response = self.get_response(request)
        elif request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = "GET, POST, PATCH, DELETE, OPTIONS"
            # Whatever headers the client's SDK adds: no cookie ever authenticates here.
            response["Access-Control-Allow-Headers"] = request.META.get(
                "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", _ALLOWED_HEADERS
            )[:1000]
            response["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE_S
        else:
            response = self.get_response(request)
            response["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
        if not request.path_info.startswith("/stripe/"):
            response["Access-Control-Allow-Origin"] = "*"
        # Every API answer carries a request id to quote to support, the refusals before
        # any view (unknown paths, a key of the wrong kind, the middleware's own) too; the
        # OCR views set their own, which is the one in the request log.
        response.setdefault("X-Request-Id", request_id_new())
        return response
