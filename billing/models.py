"""Money: integer micro-dollars (1 USD = 1,000,000) everywhere."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from accounts.models import Organization
from keys.models import ApiKey


class CreditAccount(models.Model):
    """Cached balance of a tenant; always equal to the sum of its ledger entries."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="credit_account"
    )
    balance_micros = models.BigIntegerField(default=0)
    reserved_micros = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reserved_micros__gte=0), name="credit_reserved_nonneg"
            ),
            # The last line of defence: services never let a balance go below zero.
            models.CheckConstraint(
                condition=models.Q(balance_micros__gte=0), name="credit_balance_nonneg"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.balance_micros} µ$"


class LedgerEntry(models.Model):
    """Append-only record of every balance movement."""

    class Kind(models.TextChoices):
        TOPUP = "topup"
        CHARGE = "charge"
        REFUND = "refund"
        ADJUSTMENT = "adjustment"
        EXPIRY = "expiry"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="ledger")
    amount_micros = models.BigIntegerField()
    balance_after_micros = models.BigIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    usage_record = models.ForeignKey(
        "billing.UsageRecord", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    stripe_event = models.ForeignKey(
        "billing.StripeEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_micros} µ$ ({self.organization})"


class Reservation(models.Model):
    """Worst-case price held against balance and key limit while a provider runs."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        SETTLED = "settled"
        RELEASED = "released"

    request_id = models.CharField(max_length=40, unique=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount_micros = models.BigIntegerField()
    # The key's limit period the reservation was counted in (for release after a reset).
    key_period_start = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.amount_micros} µ$ ({self.status})"


class FeePolicy(models.Model):
    """Platform fee: a percentage (basis points) plus a fixed amount per request.

    The row with no organization is the platform default; a row per tenant overrides it.
    """

    organization = models.OneToOneField(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="fee_policy"
    )
    percent_bp = models.PositiveIntegerField(default=550, help_text="Basis points: 550 = 5.5%")
    # Never negative: a negative fee made every reservation of the tenant fail (a 500).
    fixed_micros = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])

    class Meta:
        verbose_name_plural = "fee policies"

    def __str__(self) -> str:
        who = self.organization or "platform default"
        return f"{who}: {self.percent_bp / 100}% + {self.fixed_micros} µ$"


class UsageRecord(models.Model):
    """One row per OCR request: what ran, what it cost, what it was charged."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    request_id = models.CharField(max_length=40, unique=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="usage"
    )
    dialect = models.CharField(max_length=20)
    model = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=100, blank=True)
    pages = models.PositiveIntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    provider_cost_micros = models.BigIntegerField(default=0)
    fee_micros = models.BigIntegerField(default=0)
    total_micros = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices)
    http_status = models.PositiveSmallIntegerField(default=200)
    error_code = models.CharField(max_length=60, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    upstream_latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "created_at"]),
            models.Index(fields=["api_key", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.model} {self.total_micros} µ$"


class StripeEvent(models.Model):
    """Each Stripe event handled once: its id is unique."""

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    livemode = models.BooleanField(default=False)
    payload = models.JSONField()
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.type})"


class RateLimitLock(models.Model):
    """One row per key: locking it serializes that key's rate-limit decisions in the
    database fallback (no REDIS_URL). Times are Unix milliseconds."""

    api_key_id = models.BigIntegerField(primary_key=True)
    touched_ms = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"rate-limit lock of key {self.api_key_id}"


class RateLimitHit(models.Model):
    """A request counted in the sliding one-minute window (database fallback)."""

    api_key_id = models.BigIntegerField()
    at_ms = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["api_key_id", "at_ms"])]

    def __str__(self) -> str:
        return f"key {self.api_key_id} at {self.at_ms}"


class RateLimitSlot(models.Model):
    """A request in flight (database fallback); it lapses at `expires_ms` if never freed."""

    token = models.CharField(max_length=32, primary_key=True)
    api_key_id = models.BigIntegerField()
    expires_ms = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["api_key_id", "expires_ms"])]

    def __str__(self) -> str:
        return f"slot {self.token} of key {self.api_key_id}"
