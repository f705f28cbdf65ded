"""Requests refused before any view: a NUL character in the path or the query string.

No id, key, filter or date of this API contains one, and PostgreSQL cannot store or
compare text holding one (psycopg raises DataError: a 500 wherever a path or query
value reached a query, e.g. `/api/v1/keys/%00`, `/v1/files?search=%00`). A path with
one names nothing: 404 `not_found`, as an unknown id is; a query with one is 400
`invalid_request`."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from django.http import HttpRequest, HttpResponse, JsonResponse


def _query_has_nul(request: HttpRequest) -> bool:
    query = request.META.get("QUERY_STRING", "")
    return "\x00" in query or b"\x00" in unquote_to_bytes(query.replace("+", " "))


def _refusal(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


class RejectNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info:
            return _refusal(404, "not_found", "No such resource: the path holds a NUL.")
        if _query_has_nul(request):
            return _refusal(400, "invalid_request", "The query string holds a NUL character.")
        return self.get_response(request)
