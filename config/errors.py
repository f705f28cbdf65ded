"""Django's own error pages, as the API's JSON envelope on API paths.

Errors raised inside a DRF view already come out as `{"error": {"code", "message"}}`.
These handlers cover what Django answers itself: an unknown URL (404), a request it
refuses before any view runs or while reading a form (400: too many fields, a
suspicious file name, a disallowed host), a CSRF refusal (403, `CSRF_FAILURE_VIEW`), a
crash (500, or 503 when the database could not be reached), and a method the plain
Django views of the API do not take (405, `require_methods`). An API client gets the
envelope with a stable code; the dashboard keeps Django's pages.
"""

from __future__ import annotations

import sys
from functools import wraps

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults

from config.api import DATABASE_UNAVAILABLE_ERRORS, database_unavailable, error_json_response
from config.bodies import IncompleteBody

# `/files/signed/` is the download a signed file URL of Mistral's files API points to:
# an API answer too (a NUL in its query was a text/plain 400, with no CORS headers).
API_PREFIXES = ("/api/", "/v1/", "/stripe/", "/ocr/", "/files/signed/")
API_PATHS = ("/ocr", "/healthz")


def is_api_request(request: HttpRequest) -> bool:
    """An API path, in any letter case: `/V1/OCR` is no route, but its caller is an API
    client and gets the envelope, not the dashboard's HTML page."""
    path = request.path_info.lower()
    return path.startswith(API_PREFIXES) or path in API_PATHS


def _envelope(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, TooManyFieldsSent):
        return _envelope(400, "invalid_request_body", "The form has too many fields.")
    if isinstance(exception, TooManyFilesSent):
        return _envelope(400, "invalid_request_body", "The form has too many files.")
    if isinstance(exception, RequestDataTooBig):
        return _envelope(400, "invalid_request_body", "The form's fields are too large.")
    if isinstance(exception, IncompleteBody):
        return _envelope(400, "invalid_request_body", str(exception))
    return _envelope(400, "invalid_request", "The request could not be read.")


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.permission_denied(request, exception)
    return _envelope(403, "forbidden", "This request is not allowed.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if not is_api_request(request):
        return csrf.csrf_failure(request, reason)
    return _envelope(403, "forbidden", "This request is not allowed.")


def require_methods(*methods: str):
    """Django's `require_http_methods` for the plain (non-DRF) views of the API: another
    method is 405 `method_not_allowed` in the envelope, with `Allow`, where Django's
    answer is an empty text/html page."""

    def decorator(view):
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = _envelope(
                    405, "method_not_allowed", f'Method "{request.method}" not allowed.'
                )
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    return _envelope(404, "not_found", f"No such endpoint: {request.method} {request.path_info}")


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api_request(request):
        return defaults.server_error(request)
    # Django calls this while handling the exception, so it is still at hand: a database
    # that went away outside a view (a middleware's query) is a 503 too.
    if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE_ERRORS):
        return error_json_response(database_unavailable())
    return _envelope(500, "internal_error", "Something went wrong on our side.")
