from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.text import slugify

from accounts.ids import random_base62
from accounts.models import Membership, Organization
from billing.models import CreditAccount
from config.api import ApiError

User = get_user_model()


def organization_create(
    *, slug: str, name: str = "", owner=None, personal: bool = False
) -> Organization:
    slug = slugify(slug)
    if not slug:
        raise ApiError(400, "invalid_request", "The organization slug is empty.")
    if Organization.objects.filter(slug=slug).exists():
        raise ApiError(409, "conflict", f"Organization '{slug}' already exists.")
    with transaction.atomic():
        org = Organization.objects.create(slug=slug, name=name or slug, personal=personal)
        CreditAccount.objects.create(organization=org)
        if owner is not None:
            Membership.objects.create(organization=org, user=owner, role=Membership.Role.OWNER)
    return org


def user_create(*, email: str, password: str | None) -> User:
    email = User.objects.normalize_email(email).strip()
    if not email or "@" not in email:
        raise ApiError(400, "invalid_request", "A valid e-mail address is required.")
    if User.objects.filter(username__iexact=email).exists():
        raise ApiError(409, "conflict", "An account with this e-mail already exists.")
    user = User(username=email, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


def user_signup(*, email: str, password: str) -> tuple[User, Organization]:
    """A new user with a personal organization they own."""
    with transaction.atomic():
        user = user_create(email=email, password=password)
        base = slugify(email.split("@")[0])[:40] or "org"
        slug = base
        while Organization.objects.filter(slug=slug).exists():
            slug = f"{base}-{random_base62(6).lower()}"
        org = organization_create(slug=slug, name=email, owner=user, personal=True)
    return user, org


def tenant_create(*, slug: str, owner_email: str, password: str | None = None) -> Organization:
    """Operator path: an organization and its owner (created when new)."""
    with transaction.atomic():
        user = User.objects.filter(username__iexact=owner_email).first()
        if user is None:
            user = user_create(email=owner_email, password=password)
        return organization_create(slug=slug, name=slug, owner=user)
