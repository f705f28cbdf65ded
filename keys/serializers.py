"""Input and output serializers of the key management API.

Input is strict: a field of the wrong JSON type is refused rather than coerced (DRF
would turn `"name": 5` into "5" and `"disabled": "yes"` into True), unknown fields are
refused so a typo such as `limit_rest` is not silently ignored, and every string and
list has a cap. Money is USD: accepted as a JSON number or a decimal string with at most
6 decimal places, always answered as a decimal string ("12.500000").
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers

from billing.money import micros_to_usd_str, usd_to_micros
from keys import scopes as key_scopes
from keys.models import ApiKey
from keys.selectors import api_key_rate_limit, api_key_spend
from keys.services import IN_FLIGHT_MAX, NAME_MAX_LENGTH, RPM_MAX

LIMIT_MAX_USD = Decimal(1_000_000_000)
ALL_SCOPES = sorted(key_scopes.ALLOWED_SCOPES["api"] | key_scopes.ALLOWED_SCOPES["management"])


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class UsdField(serializers.DecimalField):
    """USD in, micro-dollars out. Accepts a JSON number or a decimal string."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 16)
        kwargs.setdefault("decimal_places", 6)
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_value", LIMIT_MAX_USD)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            self.fail("invalid")
        if isinstance(data, str) and not data.isascii():
            self.fail("invalid")  # Decimal() reads full-width and other digits: not USD text
        return usd_to_micros(super().to_internal_value(data))


class StrictDateTimeField(serializers.DateTimeField):
    """An ISO 8601 string and nothing around it (a trailing NUL passed the parser)."""

    def to_internal_value(self, value):
        if not isinstance(value, str) or not value.isascii() or not value.isprintable():
            self.fail("invalid", format="ISO 8601")
        return super().to_internal_value(value)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown[:20]}
                )
        return super().to_internal_value(data)


class KeySettingsInputSerializer(StrictSerializer):
    """Every field is optional: create falls back to defaults, update changes what is sent."""

    name = StrictCharField(max_length=NAME_MAX_LENGTH, allow_blank=True, required=False)
    disabled = StrictBooleanField(required=False)
    limit = UsdField(
        allow_null=True, required=False, help_text="Spend limit per period in USD; null: none."
    )
    limit_reset = serializers.ChoiceField(choices=ApiKey.LimitReset.values, required=False)
    rate_limit_rpm = StrictIntegerField(
        min_value=1, max_value=RPM_MAX, allow_null=True, required=False
    )
    max_in_flight = StrictIntegerField(
        min_value=1, max_value=IN_FLIGHT_MAX, allow_null=True, required=False
    )
    expires_at = StrictDateTimeField(allow_null=True, required=False)

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("expires_at must be in the future.")
        return value

    def to_service(self) -> dict:
        """validated_data with the model's field names (limit -> limit_micros)."""
        data = dict(self.validated_data)
        if "limit" in data:
            data["limit_micros"] = data.pop("limit")
        return data


class KeyCreateInputSerializer(KeySettingsInputSerializer):
    kind = serializers.ChoiceField(choices=ApiKey.Kind.values, default=ApiKey.Kind.API)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ALL_SCOPES),
        min_length=1,
        max_length=len(ALL_SCOPES),
        allow_empty=False,
        required=False,
        help_text="Defaults to every scope of the key's kind.",
    )

    def validate(self, attrs):
        kind = attrs.get("kind", ApiKey.Kind.API)
        wrong = sorted(set(attrs.get("scopes", [])) - key_scopes.ALLOWED_SCOPES[kind])
        if wrong:
            raise serializers.ValidationError({"scopes": [f"Not valid for a {kind} key: {wrong}"]})
        return attrs


class KeyUpdateInputSerializer(KeySettingsInputSerializer):
    pass


class KeyListQuerySerializer(serializers.Serializer):
    # Not strict: unrelated query parameters (cache busters) are harmless here.
    cursor = StrictCharField(max_length=64, required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=100, default=50)
    include_revoked = serializers.BooleanField(default=False)


class RateLimitSerializer(serializers.Serializer):
    rpm = serializers.IntegerField(help_text="Requests per minute in force.")
    max_in_flight = serializers.IntegerField(help_text="Concurrent requests in force.")


class KeyOutputSerializer(serializers.Serializer):
    """A key as every endpoint shows it. Never the secret, never the hash."""

    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    label = serializers.CharField(help_text="Masked key, e.g. 'sk-ar-3f9A…x2Qe'.")
    kind = serializers.ChoiceField(choices=ApiKey.Kind.values)
    scopes = serializers.ListField(child=serializers.CharField())
    disabled = serializers.BooleanField()
    limit = serializers.CharField(allow_null=True, help_text="USD decimal string or null.")
    limit_reset = serializers.ChoiceField(choices=ApiKey.LimitReset.values)
    limit_remaining = serializers.CharField(allow_null=True, help_text="USD; null: no limit.")
    usage = serializers.CharField(help_text="USD spent in the current limit period.")
    usage_total = serializers.CharField(help_text="USD spent since creation.")
    rate_limit = RateLimitSerializer()
    rate_limit_rpm = serializers.IntegerField(allow_null=True, help_text="Own setting or null.")
    max_in_flight = serializers.IntegerField(allow_null=True, help_text="Own setting or null.")
    expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, key: ApiKey) -> dict:
        spend = api_key_spend(key=key)
        rate = api_key_rate_limit(key=key)

        def usd(micros):
            return None if micros is None else micros_to_usd_str(micros)

        def when(value):
            return None if value is None else serializers.DateTimeField().to_representation(value)

        return {
            "id": key.public_id,
            "name": key.name,
            "label": key.label,
            "kind": key.kind,
            "scopes": list(key.scopes or []),
            "disabled": key.disabled,
            "limit": usd(key.limit_micros),
            "limit_reset": key.limit_reset,
            "limit_remaining": usd(spend.limit_remaining_micros),
            "usage": usd(spend.period_usage_micros),
            "usage_total": usd(spend.total_usage_micros),
            "rate_limit": {"rpm": rate.rpm, "max_in_flight": rate.max_in_flight},
            "rate_limit_rpm": key.rate_limit_rpm,
            "max_in_flight": key.max_in_flight,
            "expires_at": when(key.expires_at),
            "created_at": when(key.created_at),
            "last_used_at": when(key.last_used_at),
            "revoked_at": when(key.revoked_at),
        }


# Envelopes, declared for the OpenAPI schema.
class KeyEnvelopeSerializer(serializers.Serializer):
    data = KeyOutputSerializer()


class KeyCreatedEnvelopeSerializer(serializers.Serializer):
    data = KeyOutputSerializer()
    key = serializers.CharField(help_text="The secret. Shown in this response only.")


class KeyListEnvelopeSerializer(serializers.Serializer):
    data = KeyOutputSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Cursor for the next page.")


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField(required=False)


class ErrorEnvelopeSerializer(serializers.Serializer):
    error = ErrorBodySerializer()
