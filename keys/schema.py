"""OpenAPI description of key authentication, so /api/schema/ shows both headers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "keys.authentication.ApiKeyAuthentication"
    name = ["bearerKey", "apiKeyHeader"]

    def get_security_requirement(self, auto_schema):
        # Either header authenticates: two requirement objects (OR), not one holding both
        # (which OpenAPI reads as AND, so schema-driven clients sent X-API-Key as required).
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "`Authorization: Bearer sk-ar-…` or `Bearer ak_…`.",
            },
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        ]
