"""load_providers / dump_providers: the DESIGN.md §7 file format, idempotent, by id."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from config.api import ApiError
from ocr.models import Provider, ProviderModel
from ocr.routing import route_candidates

EXAMPLE = {
    "providers": [
        {
            "id": "mistral-eu",
            "kind": "mistral",
            "base_url": "https://api.mistral.ai",
            "secret_env": "MISTRAL_API_KEY",
            "timeout_s": 60,
            "priority": 10,
            "enabled": True,
            "models": [
                {
                    "name": "mistral-ocr-latest",
                    "upstream_model": "mistral-ocr-latest",
                    "price": {
                        "per_page_usd": "0.002",
                        "per_request_usd": "0",
                        "input_per_mtok_usd": "0",
                        "output_per_mtok_usd": "0",
                    },
                }
            ],
        },
        {
            "id": "cf",
            "kind": "cloudflare",
            "base_url": "https://api.cloudflare.com/client/v4",
            "account_id": "0123456789abcdef",
            "secret_env": "CF_API_TOKEN",
            "priority": 20,
            "models": [{"name": "cf-tomarkdown", "price": {"per_request_usd": "0.0005"}}],
        },
        {
            "id": "openrouter",
            "kind": "openai_compatible",
            "base_url": "https://openrouter.ai/api/v1",
            "secret_env": "OPENROUTER_API_KEY",
            "timeout_s": 90.5,
            "priority": 30,
            "models": [
                {
                    "name": "gemini-flash",
                    "upstream_model": "google/gemini-2.5-flash",
                    "price": {"input_per_mtok_usd": "0.30", "output_per_mtok_usd": "2.5"},
                }
            ],
        },
    ]
}


def load(data, *, tmp_path) -> list[str]:
    out = io.StringIO()
    path = tmp_path / "providers.json"
    path.write_text(json.dumps(data))
    call_command("load_providers", str(path), stdout=out)
    return out.getvalue().splitlines()


def dump() -> dict:
    out = io.StringIO()
    call_command("dump_providers", stdout=out)
    return json.loads(out.getvalue())


def test_it_creates_providers_models_and_prices(db, tmp_path):
    report = load(EXAMPLE, tmp_path=tmp_path)

    assert "provider mistral-eu: created" in report
    mistral = Provider.objects.get(slug="mistral-eu")
    assert (mistral.kind, mistral.secret_env, mistral.timeout_s, mistral.priority) == (
        "mistral",
        "MISTRAL_API_KEY",
        60.0,
        10,
    )
    assert ProviderModel.objects.get(provider=mistral).per_page_micros == 2000
    cf_model = ProviderModel.objects.get(provider__slug="cf")
    assert cf_model.per_request_micros == 500
    assert cf_model.upstream_name == "cf-tomarkdown"  # defaults to the name
    gemini = ProviderModel.objects.get(name="gemini-flash")
    assert (gemini.input_per_mtok_micros, gemini.output_per_mtok_micros) == (300_000, 2_500_000)
    assert gemini.upstream_model == "google/gemini-2.5-flash"


def test_loading_twice_changes_nothing(db, tmp_path):
    load(EXAMPLE, tmp_path=tmp_path)
    before = dump()

    report = load(EXAMPLE, tmp_path=tmp_path)

    assert all(line.endswith("unchanged") for line in report), report
    assert dump() == before
    assert Provider.objects.filter(slug__in=["mistral-eu", "cf", "openrouter"]).count() == 3


def test_dump_prints_the_same_format_and_loads_back(db, tmp_path, monkeypatch):
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-very-secret-value")
    load(EXAMPLE, tmp_path=tmp_path)

    dumped = dump()

    by_id = {p["id"]: p for p in dumped["providers"]}
    assert by_id["mistral-eu"] == EXAMPLE["providers"][0]  # exactly the §7 example
    assert by_id["cf"]["models"][0] == {
        "name": "cf-tomarkdown",
        "upstream_model": "cf-tomarkdown",
        "price": {
            "per_page_usd": "0",
            "per_request_usd": "0.0005",
            "input_per_mtok_usd": "0",
            "output_per_mtok_usd": "0",
        },
    }
    assert by_id["cf"]["account_id"] == "0123456789abcdef"
    assert by_id["openrouter"]["timeout_s"] == 90.5
    assert by_id["openrouter"]["models"][0]["price"]["input_per_mtok_usd"] == "0.3"
    assert "sk-very-secret-value" not in json.dumps(dumped)
    # The dump is a valid input: loading it back changes nothing.
    assert all(line.endswith("unchanged") for line in load(dumped, tmp_path=tmp_path))


def test_it_updates_by_id_and_disables_models_no_longer_listed(db, tmp_path):
    load(EXAMPLE, tmp_path=tmp_path)
    changed = json.loads(json.dumps(EXAMPLE))
    changed["providers"][0]["priority"] = 5
    changed["providers"][0]["models"] = [
        {"name": "mistral-ocr-2512", "price": {"per_page_usd": "0.001"}}
    ]

    report = load({"providers": [changed["providers"][0]]}, tmp_path=tmp_path)

    assert report == [
        "provider mistral-eu: updated",
        "  model mistral-ocr-2512: created",
        "  model mistral-ocr-latest: disabled (not in the file)",
    ]
    assert Provider.objects.get(slug="mistral-eu").priority == 5
    assert not ProviderModel.objects.get(name="mistral-ocr-latest").enabled
    assert Provider.objects.filter(slug="cf").exists()  # not listed: left alone


def test_a_loaded_provider_is_routed_at_once(db, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    load(EXAMPLE, tmp_path=tmp_path)

    (candidate,) = route_candidates(model="gemini-flash", provider_id=None)

    assert candidate.provider.slug == "openrouter"
    # Without its secret variable a provider is not offered (MISTRAL_API_KEY is unset).
    with pytest.raises(ApiError) as caught:
        route_candidates(model=None, provider_id="mistral-eu")
    assert caught.value.code == "invalid_model"
    assert "mistral-eu" not in models_served_by()


def models_served_by() -> set[str]:
    from ocr.views_models import models_served

    return {row.provider.slug for row in models_served()}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"api_key": "sk-live-123"}, "unknown field(s) ['api_key']"),
        ({"secret_env": "sk-live-123"}, "secret_env is the NAME"),
        ({"secret_env": "SECRET_KEY"}, "one of the platform's own secrets"),
        ({"secret_env": "STRIPE_SECRET_KEY"}, "one of the platform's own secrets"),
        ({"secret_env": "database_url"}, "one of the platform's own secrets"),
        ({"kind": "azure"}, "kind must be one of"),
        ({"id": "Bad Id"}, "id is required"),
        ({"base_url": "ftp://x"}, "base_url is required"),
        ({"timeout_s": 0}, "timeout_s must be between"),
        ({"priority": "high"}, "priority is an integer"),
    ],
)
def test_it_refuses_an_invalid_provider(db, tmp_path, change, message):
    bad = {**EXAMPLE["providers"][0], **change}

    with pytest.raises(CommandError) as caught:
        load({"providers": [bad]}, tmp_path=tmp_path)

    assert message in str(caught.value)


@pytest.mark.parametrize(
    "price, message",
    [
        ({"per_page_usd": "0.0000001"}, "finer than a micro-dollar"),
        ({"per_page_usd": "-1"}, "non-negative"),
        ({"per_page_usd": "cheap"}, "not a decimal number"),
        ({"per_page_usd": True}, "decimal string"),
        ({"per_pg_usd": "1"}, "unknown field(s) ['per_pg_usd']"),
    ],
)
def test_it_refuses_an_invalid_price(db, tmp_path, price, message):
    bad = json.loads(json.dumps(EXAMPLE["providers"][0]))
    bad["models"][0]["price"] = price

    with pytest.raises(CommandError) as caught:
        load({"providers": [bad]}, tmp_path=tmp_path)

    assert message in str(caught.value)
    assert "models[0].price" in str(caught.value)


def test_a_json_number_price_is_read_exactly(db, tmp_path):
    path = tmp_path / "providers.json"
    text = json.dumps(EXAMPLE).replace('"per_page_usd": "0.002"', '"per_page_usd": 0.000003')
    path.write_text(text)

    call_command("load_providers", str(path), stdout=io.StringIO())

    assert ProviderModel.objects.get(name="mistral-ocr-latest").per_page_micros == 3


def test_an_invalid_file_writes_nothing(db, tmp_path):
    bad = {**EXAMPLE["providers"][1], "account_id": ""}

    with pytest.raises(CommandError) as caught:
        load({"providers": [EXAMPLE["providers"][0], bad]}, tmp_path=tmp_path)

    assert "account_id is required" in str(caught.value)
    assert not Provider.objects.filter(slug="mistral-eu").exists()


def test_it_refuses_a_missing_file_and_bad_json(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("load_providers", str(tmp_path / "nope.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("load_providers", str(tmp_path / "bad.json"))
    (tmp_path / "latin1.json").write_bytes('{"providers": ["é"]}'.encode("latin-1"))
    with pytest.raises(CommandError, match="not valid JSON"):  # was a UnicodeDecodeError
        call_command("load_providers", str(tmp_path / "latin1.json"))


def test_a_row_naming_a_platform_secret_never_sends_it(db, monkeypatch):
    """A provider saved before the rule, or written straight into the table, naming
    STRIPE_SECRET_KEY: the secret is never read, the provider is unavailable, and the
    admin form refuses the name."""
    from django.core.exceptions import ValidationError

    from ocr.providers import client_for

    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_do_not_send")
    monkeypatch.setenv("ACME_OCR_KEY", "acme-secret")
    leak = Provider.objects.create(
        slug="leak",
        kind="openai_compatible",
        base_url="http://127.0.0.1:9/v1",
        secret_env="STRIPE_SECRET_KEY",
    )
    fine = Provider.objects.create(
        slug="fine",
        kind="openai_compatible",
        base_url="http://127.0.0.1:9/v1",
        secret_env="ACME_OCR_KEY",
    )

    assert client_for(leak).secret() == "" and not client_for(leak).available()
    assert client_for(fine).secret() == "acme-secret" and client_for(fine).available()
    with pytest.raises(ValidationError):
        leak.full_clean()
    fine.full_clean()
