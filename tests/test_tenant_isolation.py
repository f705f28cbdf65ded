"""Tenant isolation, swept across the URL map.

Tenant B probes every route that takes an id, key, filename, cursor or filter with the
value of one of tenant A's objects, and again with an id nothing has: both answers must be
the same (404 where an id names an object), carry none of A's data, and leave A's objects
as they were. `test_every_route_with_a_path_parameter_is_swept` fails when a route with a
path parameter is added without a case here (or a reason in EXEMPT), so new endpoints are
caught. Lower roles in the same organization are refused the managers' actions.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.models import Invitation, Membership
from accounts.services import invitation_create
from billing.models import UsageRecord
from billing.services import credits_add
from keys.models import ApiKey, key_public_id
from keys.services import api_key_create
from ocr import files
from ocr.dialects.uploads import upload_create
from ocr.models import OcrFile, StoredUpload
from tests.accounts.conftest import _person
from tests.ocr.dialect_support import phototest_png

pytestmark = pytest.mark.django_db

# Strings that only A's objects carry: none may appear in an answer to B.
A_MARKERS = ("secret-a-label", "a-request-0001", "a-only-scan", "member-a@example.com")


@dataclass
class Targets:
    """The values B puts in paths, queries and bodies: A's objects', or ones nobody has."""

    key_id: str
    request_id: str
    file_id: str
    upload_key: str
    membership_id: int
    invitation_id: int
    org_id: str
    file_name: str


@dataclass
class World:
    org_a: Any
    org_b: Any
    key_a: ApiKey
    file_a: OcrFile
    upload_a: StoredUpload
    member_a: Membership
    invitation_a: Invitation
    clients: dict[str, Any] = field(default_factory=dict)
    a: Targets | None = None
    ghost: Targets | None = None


def _api(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(org_a, org_b, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    credits_add(organization=org_b, amount_micros=10_000_000, idempotency_key="iso-fund-b")
    key_a, sk_a = api_key_create(organization=org_a, name="secret-a-label")
    _, ak_b = api_key_create(organization=org_b, kind="management", name="b mgmt")
    _, sk_b = api_key_create(organization=org_b, name="b api")
    UsageRecord.objects.create(
        request_id="a-request-0001",
        organization=org_a,
        api_key=key_a,
        dialect="000",
        model="local/a-only-model",
        status="succeeded",
        total_micros=1234,
    )
    file_a = files.file_create(
        api_key=key_a, upload=SimpleUploadedFile("a-only-scan.png", phototest_png())
    )
    upload_a = upload_create(
        api_key=key_a, upload=SimpleUploadedFile("a-only-scan.png", phototest_png())
    )
    owner_a = org_a.memberships.get(role="owner")
    member_user = _person(org_a, "member-a@example.com", "member")
    invitation_a, _ = invitation_create(
        organization=org_a, invited_by=owner_a.user, email="invitee-a@example.com", role="member"
    )
    w = World(
        org_a=org_a,
        org_b=org_b,
        key_a=key_a,
        file_a=file_a,
        upload_a=upload_a,
        member_a=Membership.objects.get(user=member_user),
        invitation_a=invitation_a,
    )
    w.clients = {
        "ak_b": _api(ak_b),
        "sk_b": _api(sk_b),
        "owner_b": _browser(org_b.memberships.get(role="owner").user),
        "anonymous": APIClient(),
    }
    w.a = Targets(
        key_id=key_a.public_id,
        request_id="a-request-0001",
        file_id=str(file_a.id),
        upload_key=upload_a.key,
        membership_id=w.member_a.pk,
        invitation_id=invitation_a.pk,
        org_id=org_a.public_id,
        file_name="a-only-scan",
    )
    w.ghost = Targets(
        key_id=key_public_id(),
        request_id="nobody-request-0001",
        file_id=str(uuid.uuid4()),
        upload_key=f"ocr/{org_a.public_id}/nothing-here.png",
        membership_id=w.member_a.pk + 10_000,
        invitation_id=invitation_a.pk + 10_000,
        org_id="org_nobody0000000000",
        file_name="nothing-here",
    )
    return w


def _a_state(w: World) -> tuple:
    key = ApiKey.objects.get(pk=w.key_a.pk)
    member = Membership.objects.filter(pk=w.member_a.pk).values_list("role", flat=True).first()
    invitation = Invitation.objects.get(pk=w.invitation_a.pk)
    return (
        key.label,
        key.disabled,
        key.revoked_at,
        OcrFile.objects.filter(pk=w.file_a.pk).exists(),
        StoredUpload.objects.filter(pk=w.upload_a.pk).exists(),
        member,
        invitation.revoked_at,
        UsageRecord.objects.filter(organization=w.org_a).count(),
    )


@dataclass(frozen=True)
class Probe:
    """One request B makes with a target value; `expect` None: only 'as for a ghost id'."""

    route: str
    actor: str
    send: Callable[[Any, Targets], Any]
    expect: int | None = 404


def _json(client, method: str, path: str, body: dict | None = None):
    return getattr(client, method)(path, body, format="json")


PROBES: dict[str, Probe] = {
    # Management API (ak_).
    "keys-detail GET": Probe("keys-detail", "ak_b", lambda c, t: c.get(f"/api/v1/keys/{t.key_id}")),
    "keys-detail PATCH": Probe(
        "keys-detail",
        "ak_b",
        lambda c, t: _json(c, "patch", f"/api/v1/keys/{t.key_id}", {"disabled": True}),
    ),
    "keys-detail DELETE": Probe(
        "keys-detail", "ak_b", lambda c, t: c.delete(f"/api/v1/keys/{t.key_id}")
    ),
    "keys-list cursor": Probe(
        "keys-list", "ak_b", lambda c, t: c.get(f"/api/v1/keys?cursor={t.key_id}"), None
    ),
    "usage key filter": Probe("usage", "ak_b", lambda c, t: c.get(f"/api/v1/usage?key={t.key_id}")),
    "usage cursor": Probe(
        "usage", "ak_b", lambda c, t: c.get(f"/api/v1/usage?cursor={t.request_id}"), None
    ),
    # Mistral files API (sk-ar).
    "file GET": Probe("file", "sk_b", lambda c, t: c.get(f"/v1/files/{t.file_id}")),
    "file DELETE": Probe("file", "sk_b", lambda c, t: c.delete(f"/v1/files/{t.file_id}")),
    "file-content": Probe(
        "file-content", "sk_b", lambda c, t: c.get(f"/v1/files/{t.file_id}/content")
    ),
    "file-url": Probe("file-url", "sk_b", lambda c, t: c.get(f"/v1/files/{t.file_id}/url")),
    "files search": Probe(
        "files", "sk_b", lambda c, t: c.get(f"/v1/files?search={t.file_name}"), None
    ),
    "files-signed forged": Probe(
        "files-signed",
        "anonymous",
        lambda c, t: c.get(f"/files/signed/{t.file_id}?expires=9999999999&signature=00"),
    ),
    "ocr-v1 file_id": Probe(
        "ocr-v1",
        "sk_b",
        lambda c, t: _json(
            c,
            "post",
            "/v1/ocr",
            {"model": "mistral-ocr-latest", "document": {"type": "file", "file_id": t.file_id}},
        ),
    ),
    # Seed 003's uploads (sk-ar).
    "ocr-file download": Probe(
        "ocr-file", "sk_b", lambda c, t: c.get(f"/api/files/{t.upload_key}")
    ),
    "ocr-process key": Probe(
        "ocr-process",
        "sk_b",
        lambda c, t: _json(c, "post", "/api/ocr/process", {"key": t.upload_key}),
    ),
    # Dashboard (B's owner, signed in).
    "dashboard-key-edit GET": Probe(
        "dashboard-key-edit", "owner_b", lambda c, t: c.get(f"/dashboard/keys/{t.key_id}/")
    ),
    "dashboard-key-edit POST": Probe(
        "dashboard-key-edit",
        "owner_b",
        lambda c, t: c.post(f"/dashboard/keys/{t.key_id}/", {"name": "pwned"}),
    ),
    "dashboard-key-toggle": Probe(
        "dashboard-key-toggle",
        "owner_b",
        lambda c, t: c.post(f"/dashboard/keys/{t.key_id}/toggle/"),
    ),
    "dashboard-key-revoke GET": Probe(
        "dashboard-key-revoke", "owner_b", lambda c, t: c.get(f"/dashboard/keys/{t.key_id}/revoke/")
    ),
    "dashboard-key-revoke POST": Probe(
        "dashboard-key-revoke",
        "owner_b",
        lambda c, t: c.post(f"/dashboard/keys/{t.key_id}/revoke/"),
    ),
    "member-role": Probe(
        "member-role",
        "owner_b",
        lambda c, t: c.post(f"/dashboard/members/{t.membership_id}/role/", {"role": "owner"}),
    ),
    "member-remove": Probe(
        "member-remove",
        "owner_b",
        lambda c, t: c.post(f"/dashboard/members/{t.membership_id}/remove/"),
    ),
    "invitation-cancel": Probe(
        "invitation-cancel",
        "owner_b",
        lambda c, t: c.post(f"/dashboard/invitations/{t.invitation_id}/cancel/"),
    ),
    "dashboard-usage key filter": Probe(
        "dashboard-usage", "owner_b", lambda c, t: c.get(f"/dashboard/usage/?key={t.key_id}"), None
    ),
    "dashboard-usage-csv key filter": Probe(
        "dashboard-usage-csv",
        "owner_b",
        lambda c, t: c.get(f"/dashboard/usage.csv?key={t.key_id}"),
        None,
    ),
    "dashboard-org-switch": Probe(
        "dashboard-org-switch",
        "owner_b",
        lambda c, t: c.post("/dashboard/org/switch/", {"organization": t.org_id}),
        None,
    ),
}

# Routes with a path parameter that are not tenant objects, and why.
EXEMPT = {
    "mistral-model": "the model catalogue is the platform's, the same for every tenant",
    "password_reset_confirm": "Django's signed reset token, tied to one user",
    "invite-accept": "the token is a 256-bit secret, accepted only by the invited address "
    "(tests/accounts/test_members.py)",
}
# Covered elsewhere: A's Stripe session id on B's success page
# (tests/billing/test_stripe_checkout.py::test_the_success_page_says_nothing_of_another_tenants_session).


def _text(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


def _normalise(text: str, t: Targets) -> str:
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "<csrf>", text)
    for value in (t.key_id, t.request_id, t.file_id, t.upload_key, t.org_id, t.file_name):
        text = text.replace(str(value), "<target>")
    return text


@pytest.mark.parametrize("name", sorted(PROBES))
def test_another_tenants_object_is_answered_as_a_missing_one(world, name):
    probe = PROBES[name]
    client = world.clients[probe.actor]
    before = _a_state(world)

    ghost = probe.send(client, world.ghost)
    answer = probe.send(client, world.a)

    text = _text(answer)
    assert answer.status_code == ghost.status_code, text
    if probe.expect is not None:
        assert answer.status_code == probe.expect, text
    assert answer.get("Location") == ghost.get("Location")
    for marker in A_MARKERS:
        assert marker not in text
    if answer.status_code != 200 or probe.expect is not None:
        # An error or a redirect says the same thing about A's id as about a made-up one.
        assert _normalise(text, world.a) == _normalise(_text(ghost), world.ghost)
    assert _a_state(world) == before
    if probe.actor == "owner_b":
        # Whatever B sent, B's dashboard still shows B's organization.
        assert client.session["current_org"] == world.org_b.public_id


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def test_every_route_with_a_path_parameter_is_swept():
    swept = {probe.route for probe in PROBES.values()}
    unswept = []
    for route, pattern in _walk(get_resolver().url_patterns):
        if route.startswith("admin/"):
            continue  # staff only: test_the_admin_is_for_staff_only
        if pattern.pattern.converters and pattern.name not in swept | set(EXEMPT):
            unswept.append(f"{route} ({pattern.name})")
    assert not unswept, f"add a tenant-isolation probe or an EXEMPT reason for: {unswept}"


def test_every_probe_names_a_real_route():
    names = {pattern.name for _, pattern in _walk(get_resolver().url_patterns)}
    assert {probe.route for probe in PROBES.values()} <= names
    assert set(EXEMPT) <= names


@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/keys/apikey/", "/admin/billing/usagerecord/", "/admin/auth/user/"]
)
def test_the_admin_is_for_staff_only(world, path):
    owner_a = _browser(world.org_a.memberships.get(role="owner").user)

    response = owner_a.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


# A member (the lowest role) of A may not do what owners and admins do.
MEMBER_REFUSED = {
    "key create": lambda c, w: c.post("/dashboard/keys/new/", {"name": "by member"}),
    "key edit": lambda c, w: c.post(f"/dashboard/keys/{w.key_a.public_id}/", {"name": "x"}),
    "key toggle": lambda c, w: c.post(f"/dashboard/keys/{w.key_a.public_id}/toggle/"),
    "key revoke": lambda c, w: c.post(f"/dashboard/keys/{w.key_a.public_id}/revoke/"),
    "invitation cancel": lambda c, w: c.post(f"/dashboard/invitations/{w.invitation_a.pk}/cancel/"),
    "credits buy": lambda c, w: c.post("/dashboard/credits/buy/", {"amount_usd": "10"}),
}


@pytest.mark.parametrize("name", sorted(MEMBER_REFUSED))
def test_a_member_cannot_do_what_managers_do(world, name):
    member = _browser(world.member_a.user)
    before = _a_state(world)
    keys_before = ApiKey.objects.filter(organization=world.org_a).count()

    response = MEMBER_REFUSED[name](member, world)

    assert response.status_code == 403
    assert _a_state(world) == before
    assert ApiKey.objects.filter(organization=world.org_a).count() == keys_before


def test_a_member_cannot_promote_themselves_or_remove_the_owner(world):
    member = _browser(world.member_a.user)
    owner = world.org_a.memberships.get(role="owner")

    member.post(f"/dashboard/members/{world.member_a.pk}/role/", {"role": "owner"})
    member.post(f"/dashboard/members/{owner.pk}/remove/")

    assert Membership.objects.get(pk=world.member_a.pk).role == "member"
    assert Membership.objects.filter(pk=owner.pk, role="owner").exists()
