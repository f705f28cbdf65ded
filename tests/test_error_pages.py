"""What Django answers itself comes out as the API's JSON envelope on API paths."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "path",
    ["/v1/nope", "/api/v2/ocr", "/ocr/extra", "/api/files", "/V1/ocr", "/API/upload", "/OCR"],
)
def test_an_unknown_api_path_is_a_json_404(client, path, db):
    response = client.post(path, {}, content_type="application/json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_the_signed_file_download_is_an_api_path(client, db):
    # Found by hand against a live server: a NUL in the signed URL's query was refused
    # as a text/plain page without CORS headers, the dashboard's way.
    nul = client.get("/files/signed/00000000-0000-0000-0000-000000000000?signature=%00")
    unknown = client.get("/files/signed/")

    assert nul.status_code == 400
    assert nul.json()["error"]["code"] == "invalid_request"
    assert nul["Access-Control-Allow-Origin"] == "*"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


def test_an_unknown_dashboard_path_keeps_the_html_page(client, db):
    response = client.get("/dashboard/nope/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_too_many_form_fields_is_a_json_400_and_costs_nothing(client_for, api_key, funded_org_a):
    from billing.selectors import credits_available_micros

    before = credits_available_micros(organization=funded_org_a)
    fields = {f"field{number}": "x" for number in range(500)}  # over DATA_UPLOAD_MAX_NUMBER_FIELDS

    response = client_for(api_key[1]).post("/ocr", fields)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request_body"
    assert credits_available_micros(organization=funded_org_a) == before


def test_a_crash_is_a_json_500_on_api_paths_only(rf):
    from config.errors import server_error

    api = server_error(rf.post("/v1/ocr"))
    page = server_error(rf.get("/dashboard/"))

    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    assert api.content == (
        b'{"error": {"code": "internal_error", "message": "Something went wrong on our side."}}'
    )
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


def _many_files(count: int) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return {f"file{n}": SimpleUploadedFile(f"{n}.png", b"x") for n in range(count)}


@pytest.mark.parametrize(
    "fields,message",
    [
        ({f"field{number}": "x" for number in range(500)}, "The form has too many fields."),
        (_many_files(150), "The form has too many files."),  # over DATA_UPLOAD_MAX_NUMBER_FILES
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/ocr/extract", "/ocr", "/api/upload"])
def test_a_form_over_djangos_limits_is_answered_by_the_endpoint(
    client_for, api_key, funded_org_a, path, fields, message
):
    """In the endpoint's own error shape (003's `{"error": "<message>", "code"}`), with its
    request id and cost headers: Django's handler answered in the platform envelope,
    without them."""
    response = client_for(api_key[1]).post(path, fields)

    assert response.status_code == 400
    assert response["X-Request-Id"].startswith("req_")
    assert response["X-Cost-Usd"] == "0.000000"
    error = response.json()["error"]
    if path == "/api/upload":
        assert error == message and response.json()["code"] == "invalid_request_body"
    else:
        assert error == {"code": "invalid_request_body", "message": message}


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("post", "/healthz", "GET, HEAD"),
        ("put", "/healthz", "GET, HEAD"),
        ("delete", "/healthz", "GET, HEAD"),
        ("get", "/stripe/webhook", "POST"),
        ("put", "/stripe/webhook", "POST"),
    ],
)
def test_the_plain_api_views_refuse_other_methods_with_a_json_405(method, path, allow, db):
    """/healthz answered Django's HTML CSRF page (403), the webhook an empty text/html 405."""
    from django.test import Client

    response = getattr(Client(enforce_csrf_checks=True), method)(path)

    assert response.status_code == 405
    assert response["Allow"] == allow
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_csrf_refusal_is_a_json_403_on_api_paths_only(rf):
    from config.errors import csrf_failure

    api = csrf_failure(rf.post("/healthz"), reason="CSRF cookie not set.")
    page = csrf_failure(rf.post("/dashboard/keys/new/"), reason="CSRF cookie not set.")

    assert api.status_code == 403 and api["Content-Type"] == "application/json"
    assert api.content == (
        b'{"error": {"code": "forbidden", "message": "This request is not allowed."}}'
    )
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")
