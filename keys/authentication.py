"""DRF authentication by API key: `Authorization: Bearer <key>` or `X-API-Key: <key>`.

Keys are never read from the query string or the body. No header at all returns None
(the permission then answers 401); a header that is present but wrong raises 401
`invalid_api_key` at once. `request.auth` is the `ApiKey`; the tenant is its organization.
"""

from __future__ import annotations

from collections.abc import Callable

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException, AuthenticationFailed
from rest_framework.permissions import BasePermission

from config.api import DATABASE_UNAVAILABLE_ERRORS, ApiError, database_unavailable
from keys import cache as key_cache
from keys.models import ApiKey
from keys.selectors import api_key_authenticate, api_key_authenticate_cached
from keys.services import api_key_touch


def secret_from_request(request) -> str | None:
    return secret_from_meta(request.META)


def secret_from_meta(meta) -> str | None:
    """The presented key from request headers (a WSGI environ or `request.META`)."""
    header = meta.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "invalid_api_key", "Use 'Authorization: Bearer <key>'.")
        return value.strip()
    api_key = meta.get("HTTP_X_API_KEY", "").strip()
    return api_key or None


class KeyPrincipal:
    """Stands in for `request.user` on key-authenticated requests."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.organization = key.organization


class KeyAuthenticationFailed(AuthenticationFailed):
    """DRF's own type, so DRF marks the request unauthenticated and never retries the
    key later in the request; it carries our ApiError for the error envelope."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message, code=error.code)
        self.api_error = error


class KeyCheckUnavailable(APIException):
    """The key could not be read (the database is unreachable): 503. A DRF type for the
    same reason as above: any other exception is raised again by every later read of
    `request.auth` (the answer's own headers read it), and the 503 became a 500."""

    status_code = 503

    def __init__(self) -> None:
        self.api_error = database_unavailable()
        super().__init__(self.api_error.message, code=self.api_error.code)


class ApiKeyAuthentication(BaseAuthentication):
    """A view with `key_cache = True` may get its key from the process cache; it must then
    pass `request.key_epoch` to the rate limit's key check (`cached_key_check`)."""

    def authenticate(self, request):
        view = (getattr(request, "parser_context", None) or {}).get("view")
        try:
            secret = secret_from_request(request)
            if secret is None:
                return None
            if getattr(view, "key_cache", False):
                key, request.key_epoch = api_key_authenticate_cached(secret=secret)
            else:
                key = api_key_authenticate(secret=secret)
            api_key_touch(key=key)
        except ApiError as error:
            raise KeyAuthenticationFailed(error) from None
        except DATABASE_UNAVAILABLE_ERRORS as error:
            raise KeyCheckUnavailable from error
        return KeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


def cached_key_check(request) -> Callable[[str | None], ApiKey | None]:
    """The rate limit's key check for a request authenticated by `ApiKeyAuthentication`:
    a key from the cache is read again when the epoch moved since it was filed, and a key
    no longer valid is refused (401) there; the request then carries the fresh key, which
    the check returns (None when the cached one still holds)."""
    filed = getattr(request, "key_epoch", None)

    def check(epoch: str | None) -> ApiKey | None:
        key_cache.epoch_seen(epoch)
        if filed is None or epoch == filed:
            return None
        try:
            key = api_key_authenticate(secret=secret_from_request(request))
        except ApiError:
            request.auth = None  # answered as an unknown key: nothing of the tenant shown
            raise
        request.auth = key
        request.user = KeyPrincipal(key)
        return key

    return check


def require_key(*, kind: str | None = None, scope: str | None = None) -> type[BasePermission]:
    """A permission class: a key of `kind` (None: either) holding `scope`.

    A missing key is 401; a key of the wrong kind for an OCR endpoint is 401
    `invalid_api_key` (seed 000); elsewhere a wrong kind or a missing scope is 403.
    """

    class KeyRequired(BasePermission):
        def has_permission(self, request, view) -> bool:
            key = request.auth
            if not isinstance(key, ApiKey):
                raise ApiError(
                    401, "invalid_api_key", "The API key is missing, expired, or invalid."
                )
            if kind is not None and key.kind != kind:
                if kind == "api":
                    raise ApiError(
                        401, "invalid_api_key", "Management keys (ak_…) are not accepted here."
                    )
                raise ApiError(
                    403, "insufficient_scope", "This endpoint needs a management key (ak_…)."
                )
            if scope is not None and scope not in (key.scopes or []):
                raise ApiError(403, "insufficient_scope", f"The key lacks the '{scope}' scope.")
            return True

    return KeyRequired
