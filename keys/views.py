"""Key management API (DESIGN.md §9), modelled on OpenRouter's.

`GET /api/v1/key` answers for the calling key of either kind; `/api/v1/keys…` needs a
management key (`ak_…`): `keys:read` to read, `keys:write` to create, change or revoke.
Keys are always looked up within the caller's tenant, so another tenant's id is a 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

import keys.schema  # noqa: F401  (registers the OpenAPI description of key auth)
from config.api import ApiError
from config.parsers import SafeJSONParser
from keys import scopes
from keys.authentication import require_key
from keys.selectors import api_key_get, api_key_page
from keys.serializers import (
    ErrorEnvelopeSerializer,
    KeyCreatedEnvelopeSerializer,
    KeyCreateInputSerializer,
    KeyEnvelopeSerializer,
    KeyListEnvelopeSerializer,
    KeyListQuerySerializer,
    KeyOutputSerializer,
    KeyUpdateInputSerializer,
)
from keys.services import api_key_create, api_key_revoke, api_key_update

# Key bodies are a few hundred bytes; refuse big ones before parsing them.
MAX_BODY_BYTES = 64 * 1024

CurrentKeyPermission = require_key(scope=scopes.KEY_READ)
KeysReadPermission = require_key(kind="management", scope=scopes.KEYS_READ)
KeysWritePermission = require_key(kind="management", scope=scopes.KEYS_WRITE)

_ERRORS = {
    400: OpenApiResponse(ErrorEnvelopeSerializer, description="invalid_request"),
    401: OpenApiResponse(ErrorEnvelopeSerializer, description="invalid_api_key"),
    403: OpenApiResponse(ErrorEnvelopeSerializer, description="insufficient_scope"),
}
_NOT_FOUND = {404: OpenApiResponse(ErrorEnvelopeSerializer, description="not_found")}


def _read_body(request, serializer_class):
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        raise ApiError(413, "request_too_large", f"The body is limited to {MAX_BODY_BYTES} bytes.")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.to_service()


def _managed_key(request, public_id: str):
    """The tenant's key `public_id`, for a change by the calling management key: one
    holding scopes the caller lacks is out of its reach (403), as creating it would be,
    so a key limited to keys:* cannot revoke or disable the tenant's full key."""
    caller = request.auth
    key = api_key_get(organization=caller.organization, public_id=public_id)
    if key.kind == "management" and not set(key.scopes or []) <= set(caller.scopes or []):
        raise ApiError(
            403,
            "insufficient_scope",
            "A management key can only change or revoke keys whose scopes it holds itself.",
        )
    return key


def _one(key) -> dict:
    return {"data": KeyOutputSerializer(key).data}


class KeyManagementView(APIView):
    parser_classes = [SafeJSONParser]
    write_methods = frozenset({"POST", "PATCH", "DELETE"})

    def get_permissions(self):
        if self.request.method in self.write_methods:
            return [KeysWritePermission()]
        return [KeysReadPermission()]


class CurrentKeyView(APIView):
    permission_classes = [CurrentKeyPermission]

    @extend_schema(
        operation_id="current_key",
        tags=["keys"],
        summary="The calling key",
        description="Label, limits, usage and rate limit of the key sending the request "
        "(either kind; needs the `key:read` scope).",
        responses={200: KeyEnvelopeSerializer, **_ERRORS},
    )
    def get(self, request):
        return Response(_one(request.auth))


class KeyListView(KeyManagementView):
    @extend_schema(
        operation_id="keys_list",
        tags=["keys"],
        summary="List keys",
        description="The tenant's keys, newest first. Pass `next` back as `cursor` for "
        "the following page; revoked keys only with `include_revoked=true`.",
        parameters=[KeyListQuerySerializer],
        responses={200: KeyListEnvelopeSerializer, **_ERRORS},
    )
    def get(self, request):
        query = KeyListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = api_key_page(organization=request.auth.organization, **query.validated_data)
        return Response(
            {
                "data": [KeyOutputSerializer(key).data for key in page.keys],
                "next": page.next_cursor,
            }
        )

    @extend_schema(
        operation_id="keys_create",
        tags=["keys"],
        summary="Create a key",
        description='Creates an `sk-ar-` key, or an `ak_` key with `"kind": "management"`. '
        "The secret is in `key` of this response and never shown again.",
        request=KeyCreateInputSerializer,
        responses={201: KeyCreatedEnvelopeSerializer, **_ERRORS},
    )
    def post(self, request):
        fields = _read_body(request, KeyCreateInputSerializer)
        caller = request.auth
        kind = fields.get("kind", "api")
        wanted = set(fields.get("scopes") or scopes.DEFAULT_SCOPES[kind])
        if kind == "management" and not wanted <= set(caller.scopes or []):
            # A management key may not mint one more powerful than itself.
            raise ApiError(
                403,
                "insufficient_scope",
                "A management key can only grant scopes it holds itself.",
            )
        key, secret = api_key_create(organization=caller.organization, **fields)
        return Response(
            {**_one(key), "key": secret}, status=201, headers={"Cache-Control": "no-store"}
        )


class KeyDetailView(KeyManagementView):
    @extend_schema(
        operation_id="keys_retrieve",
        tags=["keys"],
        summary="Get a key",
        responses={200: KeyEnvelopeSerializer, **_ERRORS, **_NOT_FOUND},
    )
    def get(self, request, public_id: str):
        return Response(
            _one(api_key_get(organization=request.auth.organization, public_id=public_id))
        )

    @extend_schema(
        operation_id="keys_update",
        tags=["keys"],
        summary="Change a key",
        description="Changes name, disabled, limit, limit_reset, rate limits or expiry. "
        "A revoked key cannot change (409 `key_revoked`).",
        request=KeyUpdateInputSerializer,
        responses={
            200: KeyEnvelopeSerializer,
            **_ERRORS,
            **_NOT_FOUND,
            409: OpenApiResponse(ErrorEnvelopeSerializer, description="key_revoked"),
        },
    )
    def patch(self, request, public_id: str):
        key = _managed_key(request, public_id)
        changes = _read_body(request, KeyUpdateInputSerializer)
        return Response(_one(api_key_update(key=key, **changes)))

    @extend_schema(
        operation_id="keys_revoke",
        tags=["keys"],
        summary="Revoke a key",
        description="Revokes the key for good: it stops working at once and cannot be "
        "restored. Revoking again answers the same key with its first `revoked_at`.",
        responses={200: KeyEnvelopeSerializer, **_ERRORS, **_NOT_FOUND},
    )
    def delete(self, request, public_id: str):
        key = _managed_key(request, public_id)
        return Response(_one(api_key_revoke(key=key)))
