"""Small helpers shared by the billing tests."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from billing.models import CreditAccount
from keys.models import ApiKey


def account_state(organization) -> tuple[int, int]:
    account = CreditAccount.objects.get(organization=organization)
    return account.balance_micros, account.reserved_micros


def key_state(key: ApiKey) -> tuple[int, int, int]:
    key.refresh_from_db()
    return key.period_usage_micros, key.period_reserved_micros, key.total_usage_micros


def assert_ledger_clean() -> None:
    call_command("check_ledger", stdout=open("/dev/null", "w"))  # raises on a difference


USAGE = {
    "dialect": "000",
    "model": "local/rapidocr",
    "provider": "local",
    "pages": 1,
    "latency_ms": 12,
    "http_status": 200,
}


# Real commits that other connections and processes see. The flush after such a test
# also empties rows seeded by data migrations (the local provider, the default fee);
# serialized rollback puts them back first, for this test and for later ones.
SEEDED_TRANSACTIONS = pytest.mark.django_db(transaction=True, serialized_rollback=True)
