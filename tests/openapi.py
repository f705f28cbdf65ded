"""Real answers checked against the OpenAPI schema the server serves at /api/schema/.

The schema is OpenAPI 3.0 (drf-spectacular): read as JSON Schema 2020-12 once its
`nullable: true` is spelled the JSON Schema way, so a response that a schema-driven
client (or schemathesis' response_schema_conformance) would refuse fails here too.
"""

from __future__ import annotations

import functools
from typing import Any

from jsonschema import Draft202012Validator
from rest_framework.test import APIClient


@functools.cache
def _components() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    return {"paths": schema["paths"], "components": _json_schema(schema["components"])}


def _json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def response_errors(response, *, path: str, method: str, body: Any = None) -> list[str]:
    """What makes `response` (or `body` in its place) disagree with the schema of
    `method path` at its status: an undocumented status or content type, a required
    header missing, a body the schema refuses."""
    document = _components()
    operation = document["paths"][path][method.lower()]
    documented = operation["responses"].get(str(response.status_code))
    if documented is None:
        return [f"status {response.status_code} is not documented for {method} {path}"]
    missing = [
        f"header {name} is documented as required and missing"
        for name, header in (documented.get("headers") or {}).items()
        if header.get("required") and not response.has_header(name)
    ]
    content = documented.get("content") or {}
    media_type = response["Content-Type"].split(";")[0].strip()
    if media_type not in content:
        return [*missing, f"content type {media_type} is not documented ({sorted(content)})"]
    schema = content[media_type].get("schema")
    if schema is None or media_type != "application/json":
        return missing
    validator = Draft202012Validator({**schema, "components": document["components"]})
    return missing + [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(response.json() if body is None else body)
    ]


def assert_matches_schema(response, *, path: str, method: str = "POST") -> None:
    errors = response_errors(response, path=path, method=method)
    assert not errors, errors
