import pytest

from billing.models import FeePolicy
from billing.pricing import (
    Price,
    fee_policy_for,
    price_actual,
    price_worst_case,
    upstream_cost_compare,
)
from ocr.models import Provider, ProviderModel


@pytest.fixture
def token_model(db):
    provider = Provider.objects.create(slug="tok", kind="openai_compatible")
    return ProviderModel.objects.create(
        provider=provider,
        name="tok/vision",
        per_page_micros=0,
        per_request_micros=100,
        input_per_mtok_micros=150_000,  # $0.15 per 1M input tokens
        output_per_mtok_micros=600_000,  # $0.60 per 1M output tokens
    )


def test_it_prices_pages_with_the_platform_fee(org_a):
    model = ProviderModel.objects.get(name="local/rapidocr")  # seeded: $0.001 per page
    price = price_worst_case(model=model, pages=3, organization=org_a)
    # 3 × 1,000 µ$ = 3,000; 5.5 % of it = 165.
    assert price == Price(provider_cost_micros=3_000, fee_micros=165, total_micros=3_165)
    actual = price_actual(
        model=model,
        pages=2,
        input_tokens=0,
        output_tokens=0,
        organization=org_a,
    )
    assert actual == Price(2_000, 110, 2_110)


def test_it_rounds_the_fee_up(org_a):
    model = ProviderModel.objects.get(name="local/tesseract")  # $0.0005 per page
    price = price_worst_case(model=model, pages=1, organization=org_a)
    # 5.5 % of 500 = 27.5 -> 28: a started micro-dollar is charged.
    assert price == Price(500, 28, 528)


def test_it_caps_token_priced_models_from_pages(org_a, token_model):
    worst = price_worst_case(model=token_model, pages=2, organization=org_a)
    # 16,000 input tokens at 0.15 µ$/token = 2,400; 16,000 output at 0.6 = 9,600; + 100.
    assert worst.provider_cost_micros == 2_400 + 9_600 + 100
    actual = price_actual(
        model=token_model,
        pages=2,
        input_tokens=1_001,
        output_tokens=333,
        organization=org_a,
    )
    # ceil(1001 × 0.15) = 151; ceil(333 × 0.6) = 200; + 100 per request.
    assert actual.provider_cost_micros == 451
    assert actual.total_micros == 451 + 25
    assert actual.total_micros < worst.total_micros


def test_an_upstreams_own_cost_is_logged_when_above_the_list_never_charged(token_model, caplog):
    upstream_cost_compare(model=token_model, priced_micros=451, reported_micros=451)
    upstream_cost_compare(model=token_model, priced_micros=451, reported_micros=None)
    assert caplog.text == ""

    upstream_cost_compare(model=token_model, priced_micros=451, reported_micros=1_234)
    assert "reported a cost of 1234 micro-USD, the price list 451" in caplog.text


def test_it_uses_the_tenant_override(org_a, org_b):
    FeePolicy.objects.create(organization=org_a, percent_bp=1000, fixed_micros=50)
    model = ProviderModel.objects.get(name="local/rapidocr")
    assert price_worst_case(model=model, pages=1, organization=org_a) == Price(1_000, 150, 1_150)
    assert price_worst_case(model=model, pages=1, organization=org_b) == Price(1_000, 55, 1_055)
    assert fee_policy_for(organization=org_a).percent_bp == 1000


def test_it_falls_back_to_the_default_fee(org_a):
    FeePolicy.objects.all().delete()
    policy = fee_policy_for(organization=org_a)
    assert (policy.percent_bp, policy.fixed_micros, policy.pk) == (550, 0, None)


def test_it_refuses_negative_counts(org_a):
    model = ProviderModel.objects.get(name="local/rapidocr")
    with pytest.raises(ValueError):
        price_worst_case(model=model, pages=-1, organization=org_a)
    with pytest.raises(ValueError):
        price_actual(
            model=model,
            pages=1,
            input_tokens=-5,
            output_tokens=0,
            organization=org_a,
        )
