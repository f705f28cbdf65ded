"""Credits and usage for management keys (`ak_…`), DESIGN.md §9.

Both read only the caller's tenant (`request.auth.organization`): nothing of another
tenant is reachable, and another tenant's key id in the `key` filter is a 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.selectors import credits_summary, usage_page
from billing.serializers import (
    CreditsEnvelopeSerializer,
    CreditsSerializer,
    UsageListEnvelopeSerializer,
    UsageQuerySerializer,
    UsageRecordSerializer,
)
from keys import scopes
from keys.authentication import require_key
from keys.serializers import ErrorEnvelopeSerializer

_ERRORS = {
    401: OpenApiResponse(ErrorEnvelopeSerializer, description="invalid_api_key"),
    403: OpenApiResponse(ErrorEnvelopeSerializer, description="insufficient_scope"),
}


class CreditsView(APIView):
    permission_classes = [require_key(kind="management", scope=scopes.CREDITS_READ)]

    @extend_schema(
        operation_id="credits",
        tags=["billing"],
        summary="Credits of the tenant",
        description="Balance, amounts ever added and charged, and what requests in flight "
        "hold, in USD (decimal strings). Needs a management key with `credits:read`.",
        responses={200: CreditsEnvelopeSerializer, **_ERRORS},
    )
    def get(self, request):
        summary = credits_summary(organization=request.auth.organization)
        return Response({"data": CreditsSerializer(summary).data})


class UsageView(APIView):
    permission_classes = [require_key(kind="management", scope=scopes.USAGE_READ)]

    @extend_schema(
        operation_id="usage",
        tags=["billing"],
        summary="Request log with costs",
        description="The tenant's requests, newest first, with what each cost. Filters: "
        "`from` (inclusive) and `to` (exclusive; a bare date includes that day), `key` "
        "(a key id), `model`. Pass `next` back as `cursor` for the following page.",
        parameters=[
            OpenApiParameter("from", str, description="ISO 8601 date or date-time"),
            OpenApiParameter("to", str, description="ISO 8601 date or date-time"),
            OpenApiParameter("key", str, description="Key id (key_…)"),
            OpenApiParameter("model", str),
            OpenApiParameter("cursor", str),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                description="1 to 200, default 50",
            ),
        ],
        responses={
            200: UsageListEnvelopeSerializer,
            400: OpenApiResponse(ErrorEnvelopeSerializer, description="invalid_request"),
            404: OpenApiResponse(ErrorEnvelopeSerializer, description="not_found (key)"),
            **_ERRORS,
        },
    )
    def get(self, request):
        query = UsageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = usage_page(organization=request.auth.organization, **query.to_selector())
        return Response(
            {
                "data": [UsageRecordSerializer(record).data for record in page.records],
                "next": page.next_cursor,
            }
        )
