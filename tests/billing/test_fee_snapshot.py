"""Fee policies are read once per snapshot period per worker, and changes show after it."""

from billing.models import FeePolicy
from billing.pricing import fee_policy_for


def test_a_fee_change_is_seen_once_the_snapshot_ages_out(org_a, settings):
    settings.OCR_PROVIDER_CACHE_S = 60
    FeePolicy.objects.filter(organization__isnull=True).update(percent_bp=550)
    assert fee_policy_for(organization=org_a).percent_bp == 550
    FeePolicy.objects.create(organization=org_a, percent_bp=1000)
    assert fee_policy_for(organization=org_a).percent_bp == 550  # snapshot still young
    settings.OCR_PROVIDER_CACHE_S = 0
    assert fee_policy_for(organization=org_a).percent_bp == 1000
