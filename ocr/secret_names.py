"""Which environment variables a provider may name as its secret.

A provider's `secret_env` is sent to its `base_url` as the bearer token. Whoever may edit
providers (`ocr.change_provider` in the admin, or the provider file) could otherwise
name the platform's own secrets (`SECRET_KEY`, `DATABASE_URL`, `STRIPE_SECRET_KEY`, …)
and point `base_url` at a server of theirs. These names are refused when a provider is
saved and never read when a request is sent.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")
PLATFORM_SECRETS = frozenset({"SECRET_KEY", "API_KEY_PEPPER"})
PLATFORM_PREFIXES = (
    "DJANGO_",
    "DATABASE",
    "REDIS",
    "STRIPE_",
    "AWS_",
    "EMAIL_",
    "POSTGRES",
    "PG",
    "SENTRY",
)


def secret_env_allowed(name: str) -> bool:
    upper = name.upper()
    return (
        bool(ENV_NAME.match(name))
        and upper not in PLATFORM_SECRETS
        and not upper.startswith(PLATFORM_PREFIXES)
    )


def secret_env_validate(name: str) -> None:
    """Model field validator: the same rule in the admin and the provider file."""
    if name and not secret_env_allowed(name):
        raise ValidationError(
            "Name an environment variable of the provider's own, such as MISTRAL_API_KEY; "
            "the platform's secrets (SECRET_KEY, API_KEY_PEPPER, DATABASE_*, REDIS_*, "
            "STRIPE_*, AWS_*, EMAIL_*, DJANGO_*) cannot be sent to a provider."
        )
