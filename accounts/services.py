from __future__ import annotations

import hashlib
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.ids import random_base62
from accounts.models import Invitation, Membership, Organization
from billing.models import CreditAccount
from config.api import ApiError

User = get_user_model()


def organization_create(
    *, slug: str, name: str = "", owner=None, personal: bool = False
) -> Organization:
    slug = slugify(slug)
    if not slug:
        raise ApiError(400, "invalid_request", "The organization slug is empty.")
    max_length = Organization._meta.get_field("slug").max_length
    if len(slug) > max_length:  # else a DataError from PostgreSQL, a traceback
        raise ApiError(
            400, "invalid_request", f"The organization slug is longer than {max_length} characters."
        )
    if Organization.objects.filter(slug=slug).exists():
        raise ApiError(409, "conflict", f"Organization '{slug}' already exists.")
    with transaction.atomic():
        org = Organization.objects.create(slug=slug, name=name or slug, personal=personal)
        CreditAccount.objects.create(organization=org)
        if owner is not None:
            Membership.objects.create(organization=org, user=owner, role=Membership.Role.OWNER)
    return org


EMAIL_MAX_LENGTH = 150  # auth_user.username


def user_by_email(typed: str) -> User | None:
    """The account of an address as typed, whatever its case. Accounts are kept under
    Python's lower case of the address; PostgreSQL's own case mapping (`iexact`)
    differs for a few letters (the Kelvin sign, 'İ', the long s), so it only finds
    candidates, among which the one whose lower case is the typed one's is kept (and
    an account made before addresses were kept in lower case is still found)."""
    lowered = typed.strip().lower()
    exact = User.objects.filter(username=lowered).first()
    if exact is not None:
        return exact
    for candidate in User.objects.filter(username__iexact=typed.strip()).order_by("id"):
        if candidate.username.lower() == lowered:
            return candidate
    return None


def user_create(*, email: str, password: str | None) -> User:
    # One account per mailbox: the address is kept in lower case, so two sign-ups racing
    # with 'Ann@X.com' and 'ann@x.com' meet on the username's unique index.
    email = User.objects.normalize_email(email).strip().lower()
    if not email or "@" not in email:
        raise ApiError(400, "invalid_request", "A valid e-mail address is required.")
    if len(email) > EMAIL_MAX_LENGTH:  # lower() may lengthen it: 'İ' is 'i' + a dot
        raise ApiError(400, "invalid_request", "The e-mail address is too long.")
    taken = ApiError(409, "conflict", "An account with this e-mail already exists.")
    if user_by_email(email) is not None:
        raise taken
    user = User(username=email, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same address signed up a moment ago
        raise taken from None
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
    """Operator path: an organization and its owner (created when new).

    The slug is taken as typed or refused, never changed: the commands that follow
    (create_key, add_credits) find the tenant by the slug the operator typed, and
    'Acme Inc' silently stored as 'acme-inc' was 'No organization' to each of them."""
    if slug.strip() and slugify(slug) != slug:
        suggestion = slugify(slug)
        raise ApiError(
            400,
            "invalid_request",
            f"{slug!r} is not a slug: use lower-case letters, digits, hyphens and underscores"
            + (f" (such as {suggestion!r})." if suggestion else "."),
        )
    with transaction.atomic():
        user = user_by_email(owner_email)
        if user is None:
            user = user_create(email=owner_email, password=password)
        return organization_create(slug=slug, name=slug, owner=user)


# --- Members and invitations (dashboard) -------------------------------------------

INVITATION_TTL = timedelta(days=7)
MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(
    *, organization: Organization, email: str, role: str, invited_by
) -> tuple[Invitation, str]:
    """A pending invitation and its token (only the hash is kept; the link is mailed once)."""
    email = User.objects.normalize_email(email).strip().lower()
    if not email or "@" not in email:
        raise ApiError(400, "invalid_request", "A valid e-mail address is required.")
    if role not in Membership.Role.values:
        raise ApiError(400, "invalid_request", "Unknown role.")
    inviter = Membership.objects.filter(organization=organization, user=invited_by).first()
    if inviter is None or inviter.role not in MANAGER_ROLES:
        raise ApiError(403, "forbidden", "Only owners and admins invite members.")
    if role == Membership.Role.OWNER and inviter.role != Membership.Role.OWNER:
        # Else an admin could invite a second account of theirs as owner, then remove
        # the owners: the same rule as changing a role (_check_can_manage).
        raise ApiError(403, "forbidden", "Only an owner can invite an owner.")
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ApiError(409, "conflict", f"{email} is already a member.")
    # One live invitation per address: a new one replaces the pending one (its link dies).
    Invitation.objects.filter(
        organization=organization,
        email=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    ).update(revoked_at=timezone.now())
    token = random_base62(40)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_hash=invitation_token_hash(token),
        invited_by=invited_by,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    return invitation, token


def invitation_email_send(*, invitation: Invitation, accept_url: str) -> None:
    inviter = invitation.invited_by.email if invitation.invited_by else "Someone"
    # A header is one line: a name with a line break (typed in the admin, say) made
    # send_mail raise BadHeaderError, a 500 after the invitation had been saved.
    name = " ".join(invitation.organization.name.split())
    send_mail(
        subject=f"You are invited to {name} on OCR Gateway",
        message=(
            f"{inviter} invited you to join {invitation.organization.name} as "
            f"{invitation.role}.\n\nAccept within 7 days: {accept_url}\n"
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )


def invitation_accept(*, invitation: Invitation, user) -> Membership:
    """Join the organization; the invitation is used once, by the address it was sent to."""
    if invitation.revoked_at is not None or invitation.accepted_at is not None:
        raise ApiError(410, "invitation_used", "This invitation is no longer valid.")
    if invitation.expires_at <= timezone.now():
        raise ApiError(410, "invitation_expired", "This invitation has expired.")
    if (user.email or "").lower() != invitation.email.lower():
        raise ApiError(
            403, "invitation_wrong_user", f"This invitation was sent to {invitation.email}."
        )
    with transaction.atomic():
        # The conditional UPDATE is the lock: two clicks accept once.
        claimed = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
            accepted_at=timezone.now(), accepted_by=user
        )
        if not claimed:
            raise ApiError(410, "invitation_used", "This invitation is no longer valid.")
        membership, _ = Membership.objects.get_or_create(
            organization=invitation.organization, user=user, defaults={"role": invitation.role}
        )
    return membership


def invitation_revoke(*, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def _check_can_manage(*, actor: Membership, target: Membership, new_role: str | None) -> None:
    if actor.role not in MANAGER_ROLES:
        raise ApiError(403, "forbidden", "Only owners and admins manage members.")
    if actor.role != Membership.Role.OWNER and (
        target.role == Membership.Role.OWNER or new_role == Membership.Role.OWNER
    ):
        raise ApiError(403, "forbidden", "Only an owner can change an owner.")


def _ensure_owner_remains(*, target: Membership) -> None:
    if target.role != Membership.Role.OWNER:
        return
    owners = Membership.objects.select_for_update().filter(
        organization_id=target.organization_id, role=Membership.Role.OWNER
    )
    if len(owners) <= 1:
        raise ApiError(409, "last_owner", "An organization keeps at least one owner.")


def _invitations_revoke_beyond(*, membership: Membership, role: str | None) -> None:
    """Pending invitations this member sent that `role` (None: removed) could not send.
    Else a member removed or demoted (an admin who invited a second account of theirs)
    came back through the link, with the role of the invitation."""
    sent = Invitation.objects.filter(
        organization_id=membership.organization_id,
        invited_by_id=membership.user_id,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    )
    if role == Membership.Role.ADMIN:
        sent = sent.filter(role=Membership.Role.OWNER)
    elif role == Membership.Role.OWNER:
        return
    sent.update(revoked_at=timezone.now())


def membership_role_set(*, actor: Membership, membership: Membership, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise ApiError(400, "invalid_request", "Unknown role.")
    _check_can_manage(actor=actor, target=membership, new_role=role)
    with transaction.atomic():
        if role != Membership.Role.OWNER:
            _ensure_owner_remains(target=membership)
        membership.role = role
        membership.save(update_fields=["role"])
        _invitations_revoke_beyond(membership=membership, role=role)
    return membership


def membership_remove(*, actor: Membership, membership: Membership) -> None:
    if actor.pk != membership.pk:  # leaving needs no rights, removing others does
        _check_can_manage(actor=actor, target=membership, new_role=None)
    with transaction.atomic():
        _ensure_owner_remains(target=membership)
        _invitations_revoke_beyond(membership=membership, role=None)
        membership.delete()
