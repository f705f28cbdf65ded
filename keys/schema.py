"""OpenAPI description of key authentication, so /api/schema/ shows both headers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension


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


class StrictSerializerScheme(OpenApiSerializerExtension):
    """The key bodies refuse fields they do not declare (400 "Unknown field."): the schema
    says so (`additionalProperties: false`), where schema-driven clients and fuzzers read
    extra fields as allowed (schemathesis: "schema-valid request rejected")."""

    target_class = "keys.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema
