"""OpenAPI description of key authentication, so /api/schema/ shows both headers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "keys.authentication.ApiKeyAuthentication"
    name = ["bearerKey", "apiKeyHeader"]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "`Authorization: Bearer sk-ar-…` or `Bearer ak_…`.",
            },
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]
