"""The secret leaves the server once, in the create response, and is kept nowhere."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from keys import crypto


def hidden_part(secret: str) -> str:
    """The random characters that are in neither the lookup prefix nor the label."""
    prefix = crypto.API_PREFIX if secret.startswith(crypto.API_PREFIX) else crypto.MANAGEMENT_PREFIX
    return secret[len(prefix) + crypto.LOOKUP_LENGTH : -crypto.CHECKSUM_LENGTH]


@pytest.fixture
def sql_logged():
    """Log every SQL statement with its parameters, as DEBUG=True would."""
    previous = connection.force_debug_cursor
    connection.force_debug_cursor = True
    yield
    connection.force_debug_cursor = previous


def create_and_use(management_key, client_for, kind: str) -> str:
    response = client_for(management_key[1]).post(
        "/api/v1/keys", {"name": "leak check", "kind": kind}, format="json"
    )
    assert response.status_code == 201
    secret = response.json()["key"]
    assert client_for(secret).get("/api/v1/key").status_code == 200
    # A failed use too: error paths log more than happy ones.
    broken = secret[:-1] + ("0" if secret[-1] != "0" else "1")
    assert client_for(broken).get("/api/v1/key").status_code == 401
    return secret


@pytest.mark.parametrize("kind", ["api", "management"])
def test_the_secret_is_in_no_log_line(kind, management_key, client_for, caplog, sql_logged):
    caplog.set_level(logging.DEBUG)
    for name in ("django", "django.db.backends", "django.request", "keys"):
        caplog.set_level(logging.DEBUG, logger=name)
    secret = create_and_use(management_key, client_for, kind)
    lines = [record.getMessage() for record in caplog.records]
    lines += [str(record.args) for record in caplog.records]
    assert any("INSERT INTO" in line for line in lines), "SQL was not captured"
    assert any("Unauthorized" in line for line in lines), "request errors were not captured"
    for line in lines:
        assert secret not in line
        assert hidden_part(secret) not in line
    assert secret not in caplog.text


@pytest.mark.parametrize("kind", ["api", "management"])
def test_the_secret_is_in_no_database_column(kind, management_key, client_for):
    secret = create_and_use(management_key, client_for, kind)
    hidden = hidden_part(secret)
    scanned = 0
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    text = (
                        value.decode(errors="replace") if isinstance(value, bytes) else str(value)
                    )
                    assert secret not in text, table
                    assert hidden not in text, table
                    scanned += 1
    assert scanned > 50  # the scan did read the key rows and more
    # The row is there; only its hash and masked label are.
    from keys.models import ApiKey

    row = ApiKey.objects.get(lookup_prefix=crypto.parse(secret).lookup_prefix)
    assert row.secret_hash == crypto.hash_key(secret)
    assert row.label == crypto.mask(secret)
