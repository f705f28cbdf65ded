"""Serializers of `GET /api/v1/credits` and `GET /api/v1/usage`. USD as decimal strings."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers

from billing.money import micros_to_usd_str
from billing.selectors import CreditsSummary


class InstantField(serializers.Field):
    """An ISO 8601 date-time (naive means UTC) or a date, which means 00:00 UTC that day,
    or with `end_of_day` the end of it (so `to=2026-11-22` includes the 22nd)."""

    default_error_messages = {"invalid": "Use an ISO 8601 date or date-time."}

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 40:
            self.fail("invalid")
        text = data.strip()
        if len(text) == 10:  # a bare date (parse_datetime would read it as midnight)
            try:
                day = parse_date(text)
            except ValueError:
                day = None
            if day is None:
                self.fail("invalid")
            start = datetime.combine(day, time(0), tzinfo=UTC)
            if not self.end_of_day:
                return start
            try:
                return start + timedelta(days=1)
            except OverflowError:  # 9999-12-31 has no end within datetime's range
                self.fail("invalid")
        # A '+' of a UTC offset arrives as a space when the client did not encode it.
        for candidate in (text, text[:19] + text[19:].replace(" ", "+")):
            try:
                moment = parse_datetime(candidate)
            except ValueError:
                moment = None
            if moment is not None:
                return self._in_range(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
        self.fail("invalid")

    def _in_range(self, moment: datetime) -> datetime:
        """The instant, if it exists in UTC (9999-12-31T23:00-05:00 or 0001-01-01T00:00+01:00
        does not: it was a 500 once it reached the database)."""
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError):
            self.fail("invalid")

    def to_representation(self, value):
        return value.isoformat()


class UsageQuerySerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64, required=False)
    model = serializers.CharField(max_length=200, required=False)
    cursor = serializers.CharField(max_length=64, required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=200, default=50)

    def get_fields(self):
        # `from` is a Python keyword: declared here instead of as a class attribute.
        fields = super().get_fields()
        fields["from"] = InstantField(required=False, help_text="Inclusive; date or date-time.")
        fields["to"] = InstantField(
            required=False, end_of_day=True, help_text="Exclusive date-time, or a whole date."
        )
        return fields

    def validate(self, attrs):
        if "from" in attrs and "to" in attrs and attrs["from"] >= attrs["to"]:
            raise serializers.ValidationError({"to": ["'to' must be after 'from'."]})
        return attrs

    def to_selector(self) -> dict:
        data = self.validated_data
        return {
            "date_from": data.get("from"),
            "date_to": data.get("to"),
            "key_id": data.get("key"),
            "model": data.get("model"),
            "cursor": data.get("cursor"),
            "page_size": data["page_size"],
        }


class CreditsSerializer(serializers.Serializer):
    total_credits = serializers.CharField(help_text="USD ever added (top-ups, adjustments).")
    total_usage = serializers.CharField(help_text="USD ever charged for requests.")
    balance = serializers.CharField(help_text="USD: total_credits - total_usage.")
    reserved = serializers.CharField(help_text="USD held by requests in flight.")
    available = serializers.CharField(help_text="USD: balance - reserved.")

    def to_representation(self, summary: CreditsSummary) -> dict:
        return {
            "total_credits": micros_to_usd_str(summary.total_credits_micros),
            "total_usage": micros_to_usd_str(summary.total_usage_micros),
            "balance": micros_to_usd_str(summary.balance_micros),
            "reserved": micros_to_usd_str(summary.reserved_micros),
            "available": micros_to_usd_str(summary.available_micros),
        }


class UsageRecordSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The request id (X-Request-Id).")
    created_at = serializers.DateTimeField()
    key_id = serializers.CharField(allow_null=True)
    key_label = serializers.CharField(allow_null=True)
    dialect = serializers.CharField()
    model = serializers.CharField()
    provider = serializers.CharField()
    status = serializers.ChoiceField(choices=["succeeded", "failed"])
    http_status = serializers.IntegerField()
    error_code = serializers.CharField(allow_null=True)
    pages = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    provider_cost_usd = serializers.CharField()
    fee_usd = serializers.CharField()
    total_usd = serializers.CharField()
    latency_ms = serializers.IntegerField()
    upstream_latency_ms = serializers.IntegerField()

    def to_representation(self, record) -> dict:
        key = record.api_key
        return {
            "id": record.request_id,
            "created_at": serializers.DateTimeField().to_representation(record.created_at),
            "key_id": key.public_id if key else None,
            "key_label": key.label if key else None,
            "dialect": record.dialect,
            "model": record.model,
            "provider": record.provider,
            "status": record.status,
            "http_status": record.http_status,
            "error_code": record.error_code or None,
            "pages": record.pages,
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "provider_cost_usd": micros_to_usd_str(record.provider_cost_micros),
            "fee_usd": micros_to_usd_str(record.fee_micros),
            "total_usd": micros_to_usd_str(record.total_micros),
            "latency_ms": record.latency_ms,
            "upstream_latency_ms": record.upstream_latency_ms,
        }


class CreditsEnvelopeSerializer(serializers.Serializer):
    data = CreditsSerializer()


class UsageListEnvelopeSerializer(serializers.Serializer):
    data = UsageRecordSerializer(many=True)
    next = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for more.")
