from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.ids import public_id
from accounts.models import Organization


def key_public_id() -> str:
    return public_id("key_")


# Bounds of a key's settings (keys/services.py checks them for every caller).
LIMIT_MAX_MICROS = 1_000_000_000 * 1_000_000
RPM_MAX = 1_000_000
IN_FLIGHT_MAX = 10_000


class ApiKey(models.Model):
    """An API (`sk-ar-`) or management (`ak_`) key. Only an HMAC of the secret is stored."""

    class Kind(models.TextChoices):
        API = "api"
        MANAGEMENT = "management"

    class LimitReset(models.TextChoices):
        NEVER = "never"
        DAILY = "daily"
        WEEKLY = "weekly"
        MONTHLY = "monthly"

    public_id = models.CharField(max_length=40, unique=True, default=key_public_id, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.API)
    scopes = models.JSONField(default=list, blank=True)
    # First characters of the random part: unique, indexed, the one lookup per request.
    lookup_prefix = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    label = models.CharField(max_length=40, editable=False)

    disabled = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Spend limit for the current period, in micro-dollars (null: no limit).
    limit_micros = models.BigIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(LIMIT_MAX_MICROS)],
    )
    limit_reset = models.CharField(
        max_length=8, choices=LimitReset.choices, default=LimitReset.NEVER
    )
    period_start = models.DateTimeField(null=True, blank=True)
    period_usage_micros = models.BigIntegerField(default=0)
    period_reserved_micros = models.BigIntegerField(default=0)
    total_usage_micros = models.BigIntegerField(default=0)

    # The admin checks what the services check (keys/services.py _validate_settings).
    rate_limit_rpm = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(RPM_MAX)]
    )
    max_in_flight = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(IN_FLIGHT_MAX)],
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_reserved_micros__gte=0), name="apikey_reserved_nonneg"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.name})" if self.name else self.label

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
