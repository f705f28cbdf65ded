"""Named people for dashboard tests: org_a's owner, an admin and a member, and org_b's owner."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import Membership


def _person(org, email: str, role: str):
    user = get_user_model().objects.create_user(email, email, f"pw-{email}-123456")
    Membership.objects.create(organization=org, user=user, role=role)
    return user


@pytest.fixture
def owner_a(org_a):
    return org_a.memberships.get(role="owner").user


@pytest.fixture
def admin_a(org_a):
    return _person(org_a, "admin-a@example.com", "admin")


@pytest.fixture
def member_a(org_a):
    return _person(org_a, "member-a@example.com", "member")


@pytest.fixture
def owner_b(org_b):
    return org_b.memberships.get(role="owner").user


@pytest.fixture
def browser():
    """browser(user) -> a test Client signed in as `user`."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
