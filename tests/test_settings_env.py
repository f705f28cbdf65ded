"""Settings from the environment and from a `.env` copied from `.env.example`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import environ
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _settings(env: dict[str, str], *names: str) -> list[str]:
    """The named settings as a fresh process sees them under `env`."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        f"print(*(repr(getattr(s, n)) for n in {names!r}), sep='\\n')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines()


def test_every_value_of_the_example_is_read_without_its_comment(monkeypatch):
    """django-environ keeps what follows a value, '# comment' included: a copied example
    had API_KEY_CACHE, DATABASE_PREPARED_STATEMENTS and OCR_WARM_ON_START off and a
    pepper ending in a sentence."""
    read: dict[str, str] = {}
    monkeypatch.setattr(environ.Env, "ENVIRON", read)
    environ.Env.read_env(ROOT / ".env.example", overwrite=True)

    assert read["API_KEY_CACHE"] == "true"
    assert read["OCR_PROVIDER_HEALTH_CACHE_S"] == "1"
    assert [name for name, value in read.items() if "#" in value or value != value.strip()] == []


def test_an_empty_path_in_dot_env_is_the_default_not_the_working_directory():
    media_root, cache = _settings(
        {"MEDIA_ROOT": "", "FILE_CACHE_DIR": "", "REDIS_URL": ""},
        "MEDIA_ROOT",
        "CACHES",
    )
    assert media_root == repr(ROOT / "var" / "media")
    assert repr(str(ROOT / "var" / "cache")) in cache


def test_empty_values_are_the_defaults_and_numbers_are_read_strictly():
    assert _settings(
        {"OCR_PAGE_TIMEOUT_S": "", "OCR_MAX_PAGES": " ", "SECRET_KEY": "", "DEBUG": ""},
        "OCR_PAGE_TIMEOUT_S",
        "OCR_MAX_PAGES",
        "SECRET_KEY",
        "DEBUG",
    ) == ["60.0", "1000", repr("dev-insecure-secret-key-change-me"), "False"]
    assert _settings(
        {"OCR_PAGE_TIMEOUT_S": "1e3", "OCR_MAX_PAGES": " 12 "},
        "OCR_PAGE_TIMEOUT_S",
        "OCR_MAX_PAGES",
    ) == [
        "1000.0",
        "12",
    ]
    for name, value in (
        ("OCR_PAGE_TIMEOUT_S", "nan"),
        ("OCR_MAX_PAGES", "1e3"),
        ("OCR_PAGE_TIMEOUT_S", "1,5"),
    ):
        result = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", name: value},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert f"ImproperlyConfigured: {name} must be" in result.stderr, result.stderr[-500:]


def test_trusted_proxies_are_read_and_a_wrong_one_stops_the_start():
    assert _settings({"TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.4"}, "TRUSTED_PROXIES") == [
        "['10.0.0.0/8', '192.0.2.4']"
    ]
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "TRUSTED_PROXIES": "10.0.0.300",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured: TRUSTED_PROXIES" in result.stderr


def test_a_redis_that_hangs_costs_the_shared_cache_a_second_not_five():
    """A listening socket that never answers, as a Redis stopped with SIGSTOP or behind a
    partition: the cache call gives up within its timeout."""
    import socket

    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)  # the kernel completes the handshakes; nobody ever reads
        url = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        code = (
            "import time, django; django.setup(); from django.core.cache import cache\n"
            "started = time.monotonic()\n"
            "try:\n    cache.get('x')\nexcept Exception:\n    pass\n"
            "print(time.monotonic() - started)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "REDIS_URL": url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout) < 3


def test_a_postgresql_server_that_never_answers_is_given_up_in_time():
    """A server that accepts and then says nothing (hung, or a dead network path): the
    connection attempt fails after DATABASE_CONNECT_TIMEOUT instead of waiting for ever."""
    import socket

    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        url = f"postgres://nobody@127.0.0.1:{hung.getsockname()[1]}/none"
        code = (
            "import time, django; django.setup(); from django.db import connection\n"
            "started = time.monotonic()\n"
            "try:\n    connection.ensure_connection()\nexcept Exception as error:\n"
            "    print(type(error).__name__)\n"
            "print(time.monotonic() - started)"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DATABASE_URL": url,
                "DATABASE_CONNECT_TIMEOUT": "2",
            },
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    error, elapsed = result.stdout.split()
    assert error == "OperationalError"
    assert float(elapsed) < 10


def test_a_sweep_interval_that_is_not_a_number_of_seconds_stops_the_start():
    assert _settings({"RESERVATION_SWEEP_INTERVAL_S": "0"}, "RESERVATION_SWEEP_INTERVAL_S") == [
        "0.0"
    ]
    for value in ("-1", "100000"):
        result = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()"],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "RESERVATION_SWEEP_INTERVAL_S": value,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert "ImproperlyConfigured: RESERVATION_SWEEP_INTERVAL_S" in result.stderr


def _start(env: dict[str, str]) -> subprocess.CompletedProcess:
    """Load the settings in a fresh process under `env`, without this process's secrets
    (a variable set to None is left out)."""
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "API_KEY_PEPPER")}
    full = {**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={k: v for k, v in full.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )


OWN_KEY, OWN_PEPPER = "k-" + "x" * 48, "p-" + "y" * 48


@pytest.mark.parametrize(
    ("secrets", "refused"),
    [
        ({}, "SECRET_KEY"),  # neither set: the repository's defaults
        ({"SECRET_KEY": OWN_KEY}, "API_KEY_PEPPER"),
        ({"SECRET_KEY": "change-me", "API_KEY_PEPPER": OWN_PEPPER}, "SECRET_KEY"),  # .env.example
        ({"SECRET_KEY": OWN_KEY, "API_KEY_PEPPER": "change-me-too"}, "API_KEY_PEPPER"),
        ({"SECRET_KEY": OWN_KEY, "API_KEY_PEPPER": " "}, "API_KEY_PEPPER"),
        (
            {"SECRET_KEY": "dev-insecure-secret-key-change-me", "API_KEY_PEPPER": OWN_PEPPER},
            "SECRET_KEY",
        ),
    ],
)
def test_https_only_refuses_to_start_with_a_public_secret(secrets, refused):
    """An auditor forged a signed file URL with the repository's default SECRET_KEY on a
    server with HTTPS_ONLY=true."""
    result = _start({"HTTPS_ONLY": "true", **secrets})

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {refused} is unset, empty or a public default" in result.stderr
    assert OWN_KEY not in result.stderr and OWN_PEPPER not in result.stderr


def test_https_only_starts_with_secrets_of_its_own():
    result = _start({"HTTPS_ONLY": "true", "SECRET_KEY": OWN_KEY, "API_KEY_PEPPER": OWN_PEPPER})
    assert result.returncode == 0, result.stderr[-2000:]


def test_without_https_only_the_defaults_still_start_make_run():
    assert _start({"HTTPS_ONLY": None}).returncode == 0
