"""Dashboard keys: the secret shown once, limits, disable, revoke, tenancy."""

from __future__ import annotations

from keys.models import ApiKey
from keys.selectors import api_key_authenticate
from keys.services import api_key_create


def _create(client, **fields):
    data = {"name": "ci", "kind": "api", "limit_reset": "never", **fields}
    return client.post("/dashboard/keys/new/", data)


def test_a_new_key_is_shown_once(browser, owner_a, org_a, client_for):
    client = browser(owner_a)

    response = _create(client, limit_usd="2.5", limit_reset="daily", rate_limit_rpm="30")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = response.context["secret"]
    assert secret.startswith("sk-ar-")
    assert secret.encode() in response.content
    key = ApiKey.objects.get(organization=org_a, name="ci")
    assert key.limit_micros == 2_500_000
    assert key.limit_reset == "daily"
    assert key.rate_limit_rpm == 30
    assert key.scopes == ["key:read", "ocr"]
    assert api_key_authenticate(secret=secret) == key
    # Never again: the list and the edit page show the label only.
    for url in ["/dashboard/keys/", f"/dashboard/keys/{key.public_id}/", "/dashboard/"]:
        page = client.get(url)
        assert secret.encode() not in page.content
        assert secret[6:20].encode() not in page.content
    assert key.label.encode() in client.get("/dashboard/keys/").content
    assert client_for(secret).get("/api/v1/key").status_code == 200


def test_a_management_key_with_chosen_scopes(browser, owner_a, org_a):
    response = _create(browser(owner_a), kind="management", scopes=["keys:read", "usage:read"])

    assert response.context["secret"].startswith("ak_")
    key = ApiKey.objects.get(organization=org_a, kind="management")
    assert key.scopes == ["keys:read", "usage:read"]


def test_scopes_must_fit_the_kind(browser, owner_a, org_a):
    response = _create(browser(owner_a), kind="api", scopes=["keys:write"])

    assert response.status_code == 200
    assert "secret" not in response.context
    assert not ApiKey.objects.filter(organization=org_a).exists()


def test_bad_limits_are_form_errors(browser, owner_a, org_a):
    client = browser(owner_a)
    for fields in [{"limit_usd": "-1"}, {"rate_limit_rpm": "0"}, {"limit_reset": "hourly"},
                   {"limit_usd": "abc"}, {"max_in_flight": "99999999"},
                   {"expires_at": "2020-01-01 00:00"}]:  # fmt: skip
        response = _create(client, **fields)
        assert response.status_code == 200, fields
        assert "secret" not in response.context, fields
    assert not ApiKey.objects.filter(organization=org_a).exists()


def test_editing_limits(browser, owner_a, org_a):
    key, _ = api_key_create(organization=org_a, name="old")
    client = browser(owner_a)

    response = client.post(
        f"/dashboard/keys/{key.public_id}/",
        {"name": "new", "limit_usd": "10", "limit_reset": "monthly", "max_in_flight": "3",
         "expires_at": "2030-01-02T03:04"},
    )  # fmt: skip

    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.limit_micros, key.limit_reset, key.max_in_flight) == (
        "new", 10_000_000, "monthly", 3,
    )  # fmt: skip
    assert key.expires_at.isoformat() == "2030-01-02T03:04:00+00:00"

    client.post(f"/dashboard/keys/{key.public_id}/", {"name": "new", "limit_reset": "never"})
    key.refresh_from_db()
    assert key.limit_micros is None


def test_disable_and_enable(browser, owner_a, org_a, client_for):
    key, secret = api_key_create(organization=org_a, name="k")
    client = browser(owner_a)

    client.post(f"/dashboard/keys/{key.public_id}/toggle/")
    key.refresh_from_db()
    assert key.disabled
    assert client_for(secret).get("/api/v1/key").status_code == 401

    client.post(f"/dashboard/keys/{key.public_id}/toggle/")
    key.refresh_from_db()
    assert not key.disabled


def test_revoke_asks_for_confirmation(browser, owner_a, org_a, client_for):
    key, secret = api_key_create(organization=org_a, name="k")
    client = browser(owner_a)

    confirm = client.get(f"/dashboard/keys/{key.public_id}/revoke/")
    key.refresh_from_db()
    assert b"cannot be undone" in confirm.content
    assert key.revoked_at is None

    client.post(f"/dashboard/keys/{key.public_id}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert client_for(secret).get("/api/v1/key").status_code == 401
    # A revoked key can be neither edited nor re-enabled.
    client.post(f"/dashboard/keys/{key.public_id}/toggle/")
    key.refresh_from_db()
    assert not key.disabled
    assert b"revoked" in client.get("/dashboard/keys/").content


def test_members_see_keys_but_cannot_manage_them(browser, member_a, org_a):
    key, _ = api_key_create(organization=org_a, name="k")
    client = browser(member_a)

    assert client.get("/dashboard/keys/").status_code == 200
    assert _create(client).status_code == 403
    assert client.post(f"/dashboard/keys/{key.public_id}/revoke/").status_code == 403
    assert client.post(f"/dashboard/keys/{key.public_id}/toggle/").status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None and not key.disabled


def test_another_organizations_key_is_404(browser, owner_a, org_b):
    theirs, secret = api_key_create(organization=org_b, name="theirs")
    client = browser(owner_a)

    for url in [
        f"/dashboard/keys/{theirs.public_id}/",
        f"/dashboard/keys/{theirs.public_id}/revoke/",
    ]:
        assert client.get(url).status_code == 404
        assert client.post(url, {"name": "x", "limit_reset": "never"}).status_code == 404
    assert client.post(f"/dashboard/keys/{theirs.public_id}/toggle/").status_code == 404
    assert b"theirs" not in client.get("/dashboard/keys/").content
    theirs.refresh_from_db()
    assert theirs.revoked_at is None and not theirs.disabled and theirs.name == "theirs"
