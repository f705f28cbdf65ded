"""Organization switcher, invitations, roles and removal."""

from __future__ import annotations

import re
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from accounts.models import Invitation, Membership, Organization


def _invite(client, email: str, role: str = "member") -> str:
    response = client.post("/dashboard/members/", {"email": email, "role": role})
    assert response.status_code == 302, response.content
    return re.search(r"http://testserver(/invite/\w+/)", mail.outbox[-1].body).group(1)


def test_the_switcher_lists_only_my_organizations(browser, owner_a, org_a, org_b):
    page = browser(owner_a).get("/dashboard/")

    assert org_a.public_id.encode() in page.content
    assert org_b.public_id.encode() not in page.content


def test_switching_to_an_organization_i_do_not_belong_to_is_refused(browser, owner_a, org_a, org_b):
    client = browser(owner_a)
    client.post("/dashboard/org/switch/", {"organization": org_b.public_id})

    page = client.get("/dashboard/")
    assert page.context["current_org"] == org_a
    # Even a session forged to name org_b falls back to a membership.
    session = client.session
    session["current_org"] = org_b.public_id
    session.save()
    assert client.get("/dashboard/").context["current_org"] == org_a


def test_creating_and_switching_organizations(browser, owner_a, org_a):
    client = browser(owner_a)
    response = client.post("/dashboard/org/new/", {"name": "Team Rocket"})
    assert response.status_code == 302
    team = Organization.objects.get(name="Team Rocket")
    assert Membership.objects.get(organization=team, user=owner_a).role == "owner"
    assert client.get("/dashboard/").context["current_org"] == team

    client.post("/dashboard/org/switch/", {"organization": org_a.public_id})
    assert client.get("/dashboard/").context["current_org"] == org_a


def test_an_invitation_is_mailed_and_accepted_once(browser, owner_a, org_a, client):
    link = _invite(browser(owner_a), "friend@example.com", role="admin")
    assert mail.outbox[-1].to == ["friend@example.com"]
    invitation = Invitation.objects.get()
    assert invitation.token_hash not in mail.outbox[-1].body  # only the hash is stored

    anonymous = client.get(link)
    assert b"Sign in or create an account" in anonymous.content
    client.post(
        f"/signup/?next={link}",
        {
            "email": "friend@example.com",
            "password1": "friend-pass-99",
            "password2": "friend-pass-99",
        },
    )
    accepted = client.post(link)
    assert accepted.status_code == 302
    friend = get_user_model().objects.get(email="friend@example.com")
    assert Membership.objects.get(organization=org_a, user=friend).role == "admin"
    assert client.get("/dashboard/").context["current_org"] == org_a

    again = client.post(link)
    assert again.status_code == 410


def test_an_invitation_is_for_its_address_only(browser, owner_a, owner_b, org_a):
    link = _invite(browser(owner_a), "friend@example.com")

    response = browser(owner_b).post(link)

    assert response.status_code == 403
    assert not Membership.objects.filter(organization=org_a, user=owner_b).exists()


def test_an_expired_invitation_is_refused(browser, owner_a, org_a):
    link = _invite(browser(owner_a), "late@example.com")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    late = get_user_model().objects.create_user("late@example.com", "late@example.com", "x")

    response = browser(late).post(link)

    assert response.status_code == 410
    assert b"expired" in response.content
    assert not Membership.objects.filter(user=late).exists()


def test_inviting_an_address_again_replaces_its_pending_invitation(browser, owner_a, org_a):
    client = browser(owner_a)
    first = _invite(client, "twice@example.com")
    second = _invite(client, "twice@example.com", role="admin")

    live = Invitation.objects.filter(email="twice@example.com", revoked_at__isnull=True)
    assert [invitation.role for invitation in live] == ["admin"]
    assert first != second


def test_an_unknown_invitation_is_404(client, db):
    assert client.get("/invite/not-a-real-token/").status_code == 404


def test_members_cannot_invite_or_change_roles(browser, member_a, admin_a, org_a):
    client = browser(member_a)

    client.post("/dashboard/members/", {"email": "x@example.com", "role": "owner"})
    target = Membership.objects.get(user=admin_a)
    client.post(f"/dashboard/members/{target.pk}/role/", {"role": "member"})

    assert not Invitation.objects.exists()
    target.refresh_from_db()
    assert target.role == "admin"


def test_an_admin_cannot_touch_owners(browser, admin_a, owner_a, member_a):
    client = browser(admin_a)
    owner = Membership.objects.get(user=owner_a)
    member = Membership.objects.get(user=member_a)

    client.post(f"/dashboard/members/{owner.pk}/role/", {"role": "member"})
    client.post(f"/dashboard/members/{member.pk}/role/", {"role": "owner"})
    client.post(f"/dashboard/members/{owner.pk}/remove/")

    owner.refresh_from_db()
    member.refresh_from_db()
    assert owner.role == "owner"
    assert member.role == "member"


def test_an_admin_cannot_invite_an_owner_but_can_invite_others(browser, admin_a, owner_a):
    # An owner invited by an admin (a second account of the admin's) could remove the
    # real owners.
    client = browser(admin_a)

    refused = client.post("/dashboard/members/", {"email": "alt@example.com", "role": "owner"})

    assert refused.status_code == 200
    assert b"Only an owner can invite an owner." in refused.content
    assert not Invitation.objects.filter(role="owner").exists()
    _invite(client, "helper@example.com", role="admin")
    assert Invitation.objects.get(email="helper@example.com").role == "admin"
    _invite(browser(owner_a), "co-owner@example.com", role="owner")
    assert Invitation.objects.get(email="co-owner@example.com").role == "owner"


def test_roles_change_and_members_are_removed(browser, owner_a, member_a):
    client = browser(owner_a)
    member = Membership.objects.get(user=member_a)

    client.post(f"/dashboard/members/{member.pk}/role/", {"role": "admin"})
    member.refresh_from_db()
    assert member.role == "admin"

    client.post(f"/dashboard/members/{member.pk}/remove/")
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_the_last_owner_stays(browser, owner_a):
    client = browser(owner_a)
    mine = Membership.objects.get(user=owner_a)

    demote = client.post(f"/dashboard/members/{mine.pk}/role/", {"role": "member"}, follow=True)
    leave = client.post(f"/dashboard/members/{mine.pk}/remove/", follow=True)

    assert b"at least one owner" in demote.content
    assert b"at least one owner" in leave.content
    mine.refresh_from_db()
    assert mine.role == "owner"


def test_another_organizations_membership_is_404(browser, owner_a, owner_b, org_b):
    theirs = Membership.objects.get(organization=org_b, user=owner_b)
    client = browser(owner_a)

    assert client.post(f"/dashboard/members/{theirs.pk}/remove/").status_code == 404
    assert (
        client.post(f"/dashboard/members/{theirs.pk}/role/", {"role": "member"}).status_code == 404
    )
    assert Membership.objects.filter(pk=theirs.pk).exists()


def test_a_user_with_no_organization_is_asked_to_create_one(browser, db):
    lonely = get_user_model().objects.create_user("lonely@example.com", "lonely@example.com", "x")

    response = browser(lonely).get("/dashboard/keys/")

    assert response.status_code == 302
    assert response["Location"] == "/dashboard/org/new/"


def test_not_found_and_forbidden_pages_are_friendly(browser, owner_a, member_a, settings):
    settings.DEBUG = False

    missing = browser(owner_a).get("/dashboard/keys/key_doesnotexist/")
    forbidden = browser(member_a).get("/dashboard/keys/new/")

    assert missing.status_code == 404 and b"another organization" in missing.content
    assert forbidden.status_code == 403 and b"Only owners and admins" in forbidden.content


def test_a_long_organization_name_fits(browser, owner_a):
    name = "A very long team name " * 9

    response = browser(owner_a).post("/dashboard/org/new/", {"name": name[:200]})

    assert response.status_code == 302
    org = Organization.objects.get(name=name[:200].strip())
    assert len(org.slug) <= 60


def test_an_organization_name_is_one_line(browser, owner_a, org_a):
    refused = browser(owner_a).post("/dashboard/org/new/", {"name": "Evil\r\nBcc: x@example.com"})

    assert refused.status_code == 200
    assert not Organization.objects.filter(name__startswith="Evil").exists()
    # A name with a line break from elsewhere (the admin) still invites: the subject
    # header is one line, where it was a BadHeaderError and a 500.
    Organization.objects.filter(pk=org_a.pk).update(name="Acme\r\nBcc: x@example.com")

    _invite(browser(owner_a), "friend@example.com")

    assert mail.outbox[-1].subject == "You are invited to Acme Bcc: x@example.com on OCR Gateway"
    assert mail.outbox[-1].to == ["friend@example.com"]


def test_a_removed_or_demoted_admins_invitations_stop_working(browser, owner_a, admin_a, org_a):
    # An admin could invite a second account of theirs, be removed, and come back with it.
    link = _invite(browser(admin_a), "alt@example.com", role="admin")
    _invite(browser(owner_a), "kept@example.com")
    browser(owner_a).post(f"/dashboard/members/{Membership.objects.get(user=admin_a).pk}/remove/")
    alt = get_user_model().objects.create_user("alt@example.com", "alt@example.com", "x")

    response = browser(alt).post(link)

    assert response.status_code == 410
    assert not Membership.objects.filter(user=alt).exists()
    assert Invitation.objects.get(email="kept@example.com").revoked_at is None


def test_a_demoted_owners_owner_invitations_stop_working(browser, owner_a, admin_a, org_a):
    _invite(browser(owner_a), "co-owner@example.com", role="owner")
    _invite(browser(owner_a), "helper@example.com")
    Membership.objects.filter(user=admin_a).update(role="owner")
    mine = Membership.objects.get(user=owner_a)
    browser(admin_a).post(f"/dashboard/members/{mine.pk}/role/", {"role": "admin"})

    live = Invitation.objects.filter(revoked_at__isnull=True)
    assert [invitation.email for invitation in live] == ["helper@example.com"]
