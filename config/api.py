"""The one application error type and the handler that gives every API error one shape.

`ApiError` carries an HTTP status, a stable machine `code`, a sentence for people and
optional extra fields. The platform envelope is `{"error": {"code", "message", ...}}`;
dialects with an envelope of their own (seed 003) render `ApiError` themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        if status == 401:
            # RFC 9110: a 401 says which scheme to use; every one of ours is about a key.
            self.headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def error_response(error: ApiError) -> Response:
    return Response(error.body(), status=error.status, headers=error.headers)


def error_json_response(error: ApiError) -> JsonResponse:
    response = JsonResponse(error.body(), status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def database_unavailable() -> ApiError:
    """The database cannot be reached (down, restarting, out of connections): a 503 the
    client may retry, not a crash."""
    return ApiError(
        503,
        "service_unavailable",
        "The service is temporarily unavailable (database unreachable). Retry shortly.",
        headers={"Retry-After": "5"},
    )


# What psycopg and sqlite3 raise when the server cannot be reached or went away mid-way
# (Django wraps both), as opposed to a statement the database refused.
DATABASE_UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)


_DRF_CODES = {
    drf_exceptions.ParseError: (400, "invalid_request_body"),
    drf_exceptions.UnsupportedMediaType: (415, "unsupported_media_type"),
    drf_exceptions.MethodNotAllowed: (405, "method_not_allowed"),
    drf_exceptions.NotFound: (404, "not_found"),
    drf_exceptions.NotAuthenticated: (401, "invalid_api_key"),
    drf_exceptions.AuthenticationFailed: (401, "invalid_api_key"),
    drf_exceptions.PermissionDenied: (403, "insufficient_scope"),
    drf_exceptions.Throttled: (429, "rate_limited"),
    drf_exceptions.ValidationError: (400, "invalid_request"),
}


_FORM_LIMITS = {
    TooManyFieldsSent: "The form has too many fields.",
    TooManyFilesSent: "The form has too many files.",
    RequestDataTooBig: "The form's fields are too large.",
}


def as_api_error(exc: Exception) -> ApiError | None:
    """The ApiError for a known exception (ours, DRF's, Django's 404); None otherwise."""
    if isinstance(exc, ApiError):
        return exc
    carried = getattr(exc, "api_error", None)
    if isinstance(carried, ApiError):
        return carried
    from django.http import Http404

    if isinstance(exc, Http404):
        return ApiError(404, "not_found", "Not found.")
    from config.bodies import IncompleteBody

    if isinstance(exc, IncompleteBody):  # nothing of it was run, or charged
        return ApiError(400, "invalid_request_body", str(exc))
    # Django's own limits on a form, met while the view reads the body: answered by the
    # view, in its dialect's shape and with its headers, not by Django's 400 page.
    for exc_type, message in _FORM_LIMITS.items():
        if isinstance(exc, exc_type):
            return ApiError(400, "invalid_request_body", message)
    if isinstance(exc, DATABASE_UNAVAILABLE_ERRORS):
        logger.warning("database unavailable: %s", exc)
        return database_unavailable()
    for exc_type, (status, code) in _DRF_CODES.items():
        if isinstance(exc, exc_type):
            detail = getattr(exc, "detail", str(exc))
            if isinstance(detail, dict | list):
                return ApiError(status, code, "The request is invalid.", details=detail)
            return ApiError(status, code, str(detail))
    if isinstance(exc, drf_exceptions.APIException):
        return ApiError(exc.status_code, "error", str(exc.detail))
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler: every error leaves in the platform envelope."""
    error = as_api_error(exc)
    return error_response(error) if error is not None else None
