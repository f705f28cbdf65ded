"""Dashboard forms. They validate input only; views hand the cleaned data to one service."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils import timezone

from accounts.models import Membership
from accounts.throttle import (
    TOO_MANY_ATTEMPTS,
    login_attempt_begin,
    login_attempt_succeeded,
    login_refusal_message,
    password_reset_allowed,
)
from keys.models import ApiKey
from keys.scopes import ALLOWED_SCOPES

User = get_user_model()

SCOPE_CHOICES = sorted({(s, s) for scopes in ALLOWED_SCOPES.values() for s in scopes})
MAX_TOPUP_USD = Decimal("10000")
# Filter dates outside this range are typos; they would also overflow date arithmetic.
USAGE_FIRST_DAY = date(2000, 1, 1)
USAGE_LAST_DAY = date(2100, 1, 1)


class SignupForm(forms.Form):
    email = forms.EmailField(label="E-mail", max_length=150)
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        elif data.get("password1"):
            try:
                # An unsaved user with the address: the password may not resemble it.
                email = (data.get("email") or "").lower()
                candidate = User(username=email, email=email)
                password_validation.validate_password(data["password1"], user=candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class LimitedSignInMixin:
    """Failed sign-ins are limited per address and per network (accounts/throttle.py):
    past the limit the password is not checked. For AuthenticationForm and subclasses."""

    def clean(self):
        email = self.cleaned_data.get("username")
        if email is None or not self.cleaned_data.get("password"):
            return super().clean()
        attempt = login_attempt_begin(email=email, request=self.request)
        if attempt is None:
            raise forms.ValidationError(login_refusal_message(), code=TOO_MANY_ATTEMPTS)
        data = super().clean()  # a wrong password raises: the attempt stays counted
        login_attempt_succeeded(attempt)
        return data


class EmailAuthenticationForm(LimitedSignInMixin, AuthenticationForm):
    username = forms.CharField(label="E-mail", max_length=150)


class LimitedAdminAuthenticationForm(LimitedSignInMixin, AdminAuthenticationForm):
    """The operator admin's sign-in, under the same counters as the dashboard's."""


class AccountPasswordResetForm(PasswordResetForm):
    """Django's reset, also for an account that has no password yet: an owner made by
    `create_tenant` without `--password` chooses theirs this way (Django skips accounts
    without a usable password, which left them no way in). Inactive accounts still get
    nothing, and the answer is the same whether or not a mail was sent."""

    def get_users(self, email):
        lowered = email.casefold()
        return (
            user
            for user in User._default_manager.filter(email__iexact=email, is_active=True)
            if (user.email or "").casefold() == lowered
        )

    def save(self, **kwargs):
        # Past the limit per address or network no mail goes out; the page is the same.
        if password_reset_allowed(email=self.cleaned_data["email"], request=kwargs.get("request")):
            super().save(**kwargs)


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=200)

    def clean_name(self):
        name = self.cleaned_data["name"]
        if any(not character.isprintable() for character in name):
            raise forms.ValidationError("Use letters, digits, spaces and punctuation only.")
        return name


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class _KeyLimitsForm(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    limit_usd = forms.DecimalField(
        label="Spend limit (USD)", required=False, min_value=0, decimal_places=6, max_digits=14
    )
    limit_reset = forms.ChoiceField(choices=ApiKey.LimitReset.choices, initial="never")
    rate_limit_rpm = forms.IntegerField(
        label="Requests per minute", required=False, min_value=1, max_value=1_000_000
    )
    max_in_flight = forms.IntegerField(
        label="Max requests in flight", required=False, min_value=1, max_value=10_000
    )
    expires_at = forms.DateTimeField(
        label="Expires (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )


class KeyCreateForm(_KeyLimitsForm):
    field_order = ["kind", "name", "scopes"]
    kind = forms.ChoiceField(
        choices=[
            ("api", "API key (sk-ar-…): calls the OCR endpoints"),
            ("management", "Management key (ak_…): manages keys, reads credits and usage"),
        ],
        initial="api",
    )
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave empty for the kind's defaults (API: ocr, key:read; management: all "
        "but ocr).",
    )

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        scopes = data.get("scopes") or []
        if kind in ALLOWED_SCOPES and set(scopes) - ALLOWED_SCOPES[kind]:
            bad = sorted(set(scopes) - ALLOWED_SCOPES[kind])
            self.add_error("scopes", f"Not allowed on a {kind} key: {', '.join(bad)}")
        expires_at = data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            # As the management API refuses it: a new key already expired is a mistake.
            self.add_error("expires_at", "The expiry must be in the future.")
        return data


class KeyEditForm(_KeyLimitsForm):
    pass


class BuyCreditsForm(forms.Form):
    amount_usd = forms.DecimalField(
        label="Amount (USD)", decimal_places=2, max_digits=8, max_value=MAX_TOPUP_USD
    )
    # One random value per rendered form: a double submit reuses the same Checkout Session.
    attempt = forms.CharField(widget=forms.HiddenInput, max_length=40)

    def clean_amount_usd(self):
        amount = self.cleaned_data["amount_usd"]
        minimum = Decimal(settings.STRIPE_MIN_TOPUP_USD)
        if amount < minimum:
            raise forms.ValidationError(f"The minimum top-up is ${minimum}.")
        return amount


class UsageFilterForm(forms.Form):
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    key = forms.ChoiceField(required=False)
    model = forms.CharField(required=False, max_length=200)
    status = forms.ChoiceField(
        required=False, choices=[("", "any"), ("succeeded", "succeeded"), ("failed", "failed")]
    )

    def clean(self):
        data = super().clean()
        for name in ("date_from", "date_to"):
            day = data.get(name)
            if day is not None and not USAGE_FIRST_DAY <= day <= USAGE_LAST_DAY:
                self.add_error(name, "Pick a date between 2000 and 2100.")
        return data

    def __init__(self, *args, keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [("", "any key")] + [
            (k.public_id, f"{k.name or 'unnamed'} ({k.label})") for k in keys
        ]


class PlaygroundForm(forms.Form):
    file = forms.FileField(help_text="An image (PNG, JPEG, GIF, WebP, BMP, TIFF) or a PDF.")
    model = forms.ChoiceField(required=False)

    def __init__(self, *args, models=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [(m, m) for m in models]
