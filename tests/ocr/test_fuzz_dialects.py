"""No dialect answers a malformed body with a 5xx: hypothesis sends broken JSON, wrong
types, deep nesting and huge strings to every endpoint and expects a 4xx every time."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.services import credits_add
from keys.services import api_key_create
from tests.ocr.dialect_support import client_with

pytestmark = pytest.mark.django_db

# The fields each dialect reads, so the fuzzer hits real code paths, not only "missing".
ENDPOINTS = {
    "/api/v1/ocr/extract": ["image", "filename"],
    "/v1/ocr": [
        "url",
        "base64",
        "model",
        "options",
        "document",
        "pages",
        "include_image_base64",
        "table_format",
        "include_blocks",
        "confidence_scores_granularity",
        "extract_header",
        "extract_footer",
        "image_limit",
        "bbox_annotation_format",
        "id",
    ],
    "/api/ocr-structured-v4": [
        "imageBase64",
        "mimeType",
        "pdfUrl",
        "pdfBase64",
        "model",
        "plugins",
        "annotations",
    ],
    "/api/ocr/process": ["key"],
    "/ocr": [
        "model",
        "document",
        "document_url",
        "image_url",
        "image_base64",
        "document_base64",
        "content_type",
        "pages",
        "pdf_password",
        "provider",
    ],
}
NESTED_KEYS = [
    "type",
    "document_url",
    "image_url",
    "url",
    "extract_tables",
    "language",
    "output_format",
    "id",
    "config",
    "engine",
    "file-parser",
    "output",
    "text",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "data:",
            "data:image/png;base64,",
            "data:,x",
            "AAAA",
            "0-3,a",
            "-1",
            "ocr/x/y.png",
            "ocr/../..",
            "local/rapidocr",
            "native",
            "html",
            "word",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(NESTED_KEYS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
huge = st.sampled_from(["A" * 300_000, "é" * 100_000, "data:image/png;base64," + "%" * 50_000])


def bodies(fields: list[str]):
    return st.dictionaries(
        st.sampled_from(fields) | st.text(max_size=10),
        json_values | huge,
        max_size=5,
    )


@pytest.fixture
def fuzz_client(org_a):
    credits_add(organization=org_a, amount_micros=1_000_000, idempotency_key="fuzz")
    secret = api_key_create(organization=org_a, name="fuzz", rate_limit_rpm=1_000_000)[1]
    return client_with(secret)


def assert_4xx(response, sent) -> None:
    assert 400 <= response.status_code < 500, (
        response.status_code,
        response.content[:300],
        str(sent)[:300],
    )
    body = response.json()
    assert "error" in body


FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
@FUZZ
@given(data=st.data())
def test_json_bodies_of_the_wrong_shape_are_4xx(fuzz_client, path, data):
    body = data.draw(bodies(ENDPOINTS[path]))

    response = fuzz_client.post(path, body, format="json")

    assert_4xx(response, body)


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
@FUZZ
@given(
    raw=st.binary(max_size=300)
    | st.sampled_from(
        [b"[" * 50_000, b'{"a":' * 20_000, b"\xff\xfe{}", b"NaN", b'{"image": 1e999}', b""]
    )
)
def test_raw_bytes_that_are_not_json_are_4xx(fuzz_client, path, raw):
    try:
        json.loads(raw)
        is_json_object = isinstance(json.loads(raw), dict)
    except (ValueError, RecursionError):
        is_json_object = False
    if is_json_object:
        return  # covered by the JSON test

    response = fuzz_client.generic("POST", path, raw, content_type="application/json")

    assert_4xx(response, raw)


@pytest.mark.parametrize("path", ["/api/v1/ocr/extract", "/ocr", "/api/upload"])
@FUZZ
@given(
    fields=st.dictionaries(
        st.sampled_from(
            [
                "image",
                "file",
                "document",
                "model",
                "pages",
                "pdf_password",
                "provider",
                "content_type",
            ]
        ),
        st.text(max_size=30) | st.binary(max_size=200),
        max_size=4,
    )
)
def test_multipart_forms_of_the_wrong_shape_are_4xx(fuzz_client, path, fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    form = {
        name: SimpleUploadedFile("f.bin", value) if isinstance(value, bytes) else value
        for name, value in fields.items()
    }

    response = fuzz_client.post(path, form, format="multipart")

    if path == "/api/upload" and response.status_code == 200:
        # An upload of a real document type is fine; anything else must be refused.
        from ocr.intake.sniff import media_type_sniff

        assert media_type_sniff(fields["file"]) is not None
        return
    assert_4xx(response, fields)
