import uuid

from django.core.validators import MinValueValidator
from django.db import models

from accounts.models import Organization
from keys.models import ApiKey
from ocr.secret_names import secret_env_validate


class Provider(models.Model):
    """An OCR provider the operator configured. Secrets live in the environment only."""

    class Kind(models.TextChoices):
        LOCAL = "local"
        MISTRAL = "mistral"
        OPENAI_COMPATIBLE = "openai_compatible"
        CLOUDFLARE = "cloudflare"

    slug = models.SlugField(max_length=100, unique=True, help_text="The provider's id")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True)
    base_url = models.URLField(max_length=500, blank=True)
    account_id = models.CharField(max_length=200, blank=True)
    secret_env = models.CharField(
        max_length=200,
        blank=True,
        validators=[secret_env_validate],
        help_text="Name of the environment variable holding the secret",
    )
    timeout_s = models.FloatField(default=60.0)
    priority = models.IntegerField(default=100, help_text="Lower is tried first")
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "slug"]

    def __str__(self) -> str:
        return self.slug


class ProviderModel(models.Model):
    """A model a provider serves, with its price (micro-dollars)."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=200, help_text="Public model name clients ask for")
    upstream_model = models.CharField(max_length=200, blank=True)
    per_page_micros = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    per_request_micros = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    input_per_mtok_micros = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    output_per_mtok_micros = models.BigIntegerField(default=0, validators=[MinValueValidator(0)])
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["provider__priority", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="providermodel_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.provider.slug}"

    @property
    def upstream_name(self) -> str:
        return self.upstream_model or self.name


class StoredUpload(models.Model):
    """A file uploaded through the 003 dialect; `key` is `ocr/<org public id>/<filename>`."""

    key = models.CharField(max_length=400, unique=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    storage_name = models.CharField(max_length=500)
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class OcrFile(models.Model):
    """A file uploaded through Mistral's files API (`POST /v1/files`) for OCR.

    The id is the UUID clients pass back as `{type: "file", file_id}`; the bytes live in
    Django's storage under `files/<org public id>/<id>`. Visible to its tenant only.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255)
    storage_name = models.CharField(max_length=500)
    size = models.BigIntegerField()
    mimetype = models.CharField(max_length=100)
    purpose = models.CharField(max_length=40, default="ocr")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.filename} ({self.id})"
