"""Providers as code: the JSON file of DESIGN.md §7, loaded into and dumped from the database.

`provider_config_load` creates or updates, by `id`, every provider the file lists and, by
`name`, each of its models; a model of a listed provider that the file no longer lists is
disabled (never deleted: the request log points at it). Providers the file does not list
are left alone. The whole file is validated before anything is written, and written in one
transaction. Prices are decimal strings in USD, stored as integer micro-dollars; a price
finer than a micro-dollar is refused rather than rounded. Secrets are never in the file,
only the names of the variables that hold them.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from ocr.models import Provider, ProviderModel
from ocr.secret_names import secret_env_allowed

MAX_PROVIDERS = 500
MAX_MODELS = 500
PRICE_FIELDS = {
    "per_page_usd": "per_page_micros",
    "per_request_usd": "per_request_micros",
    "input_per_mtok_usd": "input_per_mtok_micros",
    "output_per_mtok_usd": "output_per_mtok_micros",
}
PROVIDER_KEYS = {
    "id",
    "kind",
    "name",
    "base_url",
    "account_id",
    "secret_env",
    "timeout_s",
    "priority",
    "enabled",
    "models",
}
MODEL_KEYS = {"name", "upstream_model", "price", "enabled"}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}$")
_MICRO = Decimal("0.000001")


class ProviderConfigError(ValueError):
    """The file is not a valid provider configuration; `str()` says where and why."""


def _fail(where: str, message: str) -> None:
    raise ProviderConfigError(f"{where}: {message}")


def usd_str_to_micros(value: Any, *, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        _fail(where, f'a price is a decimal string in USD, such as "0.002", not {value!r}')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        _fail(where, f"{value!r} is not a decimal number")
    if not amount.is_finite() or amount < 0:
        _fail(where, f"{value!r} must be a non-negative amount")
    if amount != amount.quantize(_MICRO):
        _fail(where, f"{value!r} is finer than a micro-dollar (6 decimal places)")
    return int(amount * 1_000_000)


def micros_to_usd_str(micros: int) -> str:
    """2000 -> "0.002", 0 -> "0", 10_000_000 -> "10"."""
    return format((Decimal(micros) / 1_000_000).normalize(), "f")


def _validated_model(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        _fail(where, "each model is an object")
    unknown = set(raw) - MODEL_KEYS
    if unknown:
        _fail(where, f"unknown field(s) {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        _fail(where, "name is required (a string of at most 200 characters)")
    upstream = raw.get("upstream_model", name)
    if not isinstance(upstream, str) or len(upstream) > 200:
        _fail(where, "upstream_model is a string of at most 200 characters")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        _fail(where, "enabled is true or false")
    price = raw.get("price", {})
    if not isinstance(price, dict):
        _fail(where, "price is an object")
    unknown = set(price) - set(PRICE_FIELDS)
    if unknown:
        _fail(f"{where}.price", f"unknown field(s) {sorted(unknown)}")
    fields = {
        column: usd_str_to_micros(price.get(key, "0"), where=f"{where}.price.{key}")
        for key, column in PRICE_FIELDS.items()
    }
    # Stored empty when it equals the name, so renaming keeps the default meaning.
    fields["upstream_model"] = "" if upstream in ("", name) else upstream
    fields["enabled"] = enabled
    return {"name": name, "fields": fields}


def _validated_provider(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        _fail(where, "each provider is an object")
    unknown = set(raw) - PROVIDER_KEYS
    if unknown:
        _fail(where, f"unknown field(s) {sorted(unknown)}; secrets never go in this file")
    slug = raw.get("id")
    if not isinstance(slug, str) or not _SLUG.match(slug):
        _fail(where, "id is required: lower-case letters, digits, '-' and '_'")
    where = f"{where} ({slug})"
    kind = raw.get("kind")
    if kind not in Provider.Kind.values:
        _fail(where, f"kind must be one of {sorted(Provider.Kind.values)}")
    base_url = raw.get("base_url", "")
    if not isinstance(base_url, str) or len(base_url) > 500:
        _fail(where, "base_url is a string")
    if kind != "local" and not re.match(r"^https?://[^/\s]+", base_url):
        _fail(where, "base_url is required: an http(s) URL")
    account_id = raw.get("account_id", "")
    if not isinstance(account_id, str) or len(account_id) > 200:
        _fail(where, "account_id is a string")
    if kind == "cloudflare" and not account_id:
        _fail(where, "account_id is required for a cloudflare provider")
    secret_env = raw.get("secret_env", "")
    if not isinstance(secret_env, str) or (secret_env and not _ENV_NAME.match(secret_env)):
        _fail(where, "secret_env is the NAME of an environment variable, such as MISTRAL_API_KEY")
    if secret_env and not secret_env_allowed(secret_env):
        _fail(where, f"secret_env {secret_env!r} is one of the platform's own secrets")
    timeout_s = raw.get("timeout_s", 60)
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float | Decimal):
        _fail(where, "timeout_s is a number of seconds")
    if not 0 < float(timeout_s) <= 3600:
        _fail(where, "timeout_s must be between 0 and 3600 seconds")
    priority = raw.get("priority", 100)
    if isinstance(priority, bool) or not isinstance(priority, int):
        _fail(where, "priority is an integer (lower is tried first)")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        _fail(where, "enabled is true or false")
    name = raw.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        _fail(where, "name is a string")
    models = raw.get("models", [])
    if not isinstance(models, list) or len(models) > MAX_MODELS:
        _fail(where, f"models is a list of at most {MAX_MODELS}")
    validated = [_validated_model(m, f"{where}.models[{i}]") for i, m in enumerate(models)]
    names = [m["name"] for m in validated]
    if len(set(names)) != len(names):
        _fail(where, "a model name appears twice")
    return {
        "slug": slug,
        "fields": {
            "kind": kind,
            "name": name,
            "base_url": base_url,
            "account_id": account_id,
            "secret_env": secret_env,
            "timeout_s": float(timeout_s),
            "priority": priority,
            "enabled": enabled,
        },
        "models": validated,
    }


def provider_config_validate(*, data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or set(data) != {"providers"}:
        raise ProviderConfigError('the file is an object with one field, "providers"')
    providers = data["providers"]
    if not isinstance(providers, list) or len(providers) > MAX_PROVIDERS:
        raise ProviderConfigError(f'"providers" is a list of at most {MAX_PROVIDERS}')
    validated = [_validated_provider(p, f"providers[{i}]") for i, p in enumerate(providers)]
    slugs = [p["slug"] for p in validated]
    if len(set(slugs)) != len(slugs):
        raise ProviderConfigError("a provider id appears twice")
    return validated


def _upsert(model_cls, lookup: dict[str, Any], fields: dict[str, Any]) -> tuple[Any, str]:
    row = model_cls.objects.filter(**lookup).first()
    if row is None:
        return model_cls.objects.create(**lookup, **fields), "created"
    changed = [name for name, value in fields.items() if getattr(row, name) != value]
    if not changed:
        return row, "unchanged"
    for name in changed:
        setattr(row, name, fields[name])
    row.save()
    return row, "updated"


@transaction.atomic
def provider_config_load(*, data: Any) -> list[str]:
    """Apply the file; returns one line per provider and model saying what happened."""
    report = []
    for entry in provider_config_validate(data=data):
        provider, outcome = _upsert(Provider, {"slug": entry["slug"]}, entry["fields"])
        report.append(f"provider {provider.slug}: {outcome}")
        listed = []
        for model in entry["models"]:
            row, outcome = _upsert(
                ProviderModel, {"provider": provider, "name": model["name"]}, model["fields"]
            )
            listed.append(row.pk)
            report.append(f"  model {row.name}: {outcome}")
        for row in provider.models.exclude(pk__in=listed).filter(enabled=True):
            row.enabled = False
            row.save(update_fields=["enabled"])
            report.append(f"  model {row.name}: disabled (not in the file)")
    return report


def provider_config_dump() -> dict[str, Any]:
    providers = []
    for provider in Provider.objects.order_by("priority", "slug").prefetch_related("models"):
        entry: dict[str, Any] = {"id": provider.slug, "kind": provider.kind}
        if provider.name:
            entry["name"] = provider.name
        entry["base_url"] = provider.base_url
        if provider.account_id:
            entry["account_id"] = provider.account_id
        timeout = provider.timeout_s
        entry["secret_env"] = provider.secret_env
        entry["timeout_s"] = int(timeout) if float(timeout).is_integer() else timeout
        entry["priority"] = provider.priority
        entry["enabled"] = provider.enabled
        entry["models"] = []
        for model in sorted(provider.models.all(), key=lambda m: m.name):
            item: dict[str, Any] = {"name": model.name, "upstream_model": model.upstream_name}
            if not model.enabled:
                item["enabled"] = False
            item["price"] = {
                key: micros_to_usd_str(getattr(model, column))
                for key, column in PRICE_FIELDS.items()
            }
            entry["models"].append(item)
        providers.append(entry)
    return {"providers": providers}
