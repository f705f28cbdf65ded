"""The operator commands print only what they say, so scripts can capture it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import Membership, Organization
from keys.models import ApiKey
from keys.selectors import api_key_authenticate

ROOT = Path(__file__).resolve().parents[2]
SECRET_LINE = re.compile(r"^(sk-ar-|ak_)[0-9A-Za-z]{38}\n$")


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # Set-up speed only: these tests check that a password is set, not how it is hashed.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_tenant_prints_the_public_id_alone(db):
    out, err = run(
        "create_tenant", "acme", "--owner-email", "boss@acme.test", "--password", "s3cret-pw!"
    )
    org = Organization.objects.get(slug="acme")
    assert out == f"{org.public_id}\n"
    assert err == ""
    owner = get_user_model().objects.get(email="boss@acme.test")
    assert owner.check_password("s3cret-pw!")
    membership = Membership.objects.get(organization=org, user=owner)
    assert membership.role == Membership.Role.OWNER


def test_create_tenant_without_a_password_leaves_the_owner_without_one(db):
    run("create_tenant", "acme", "--owner-email", "boss@acme.test")
    assert not get_user_model().objects.get(email="boss@acme.test").has_usable_password()


def test_create_tenant_reuses_an_existing_owner(db):
    run("create_tenant", "one", "--owner-email", "boss@acme.test")
    run("create_tenant", "two", "--owner-email", "BOSS@acme.test")
    owner = get_user_model().objects.get(email="boss@acme.test")
    assert set(owner.memberships.values_list("organization__slug", flat=True)) == {"one", "two"}


@pytest.mark.parametrize(
    "args",
    [
        ["create_tenant", "acme", "--owner-email", "not-an-email"],
        ["create_tenant", "!!!", "--owner-email", "x@acme.test"],
        ["create_tenant", "acme"],
    ],
)
def test_create_tenant_refuses_bad_input(args, db):
    with pytest.raises(CommandError):
        run(*args)
    assert not Organization.objects.exists()


@pytest.mark.parametrize(
    ("slug", "suggestion"), [("Acme Inc", "acme-inc"), ("ACME", "acme"), ("acmé", "acme")]
)
def test_create_tenant_refuses_a_slug_it_would_have_to_change(slug, suggestion, db):
    """create_key and add_credits find the tenant by the slug as typed: stored changed,
    the tenant was 'No organization' to both."""
    with pytest.raises(CommandError, match=f"not a slug.*'{suggestion}'"):
        run("create_tenant", slug, "--owner-email", "x@acme.test")
    assert not Organization.objects.exists()


def test_create_tenant_refuses_a_slug_longer_than_its_column(db):
    with pytest.raises(CommandError, match="longer than 60"):
        run("create_tenant", "x" * 61, "--owner-email", "x@acme.test")
    assert not Organization.objects.exists()
    run("create_tenant", "x" * 60, "--owner-email", "x@acme.test")


def test_create_tenant_refuses_a_taken_slug(db):
    run("create_tenant", "acme", "--owner-email", "a@acme.test")
    with pytest.raises(CommandError, match="already exists"):
        run("create_tenant", "acme", "--owner-email", "b@acme.test")


def test_create_key_prints_the_secret_alone_and_it_works(org_a):
    out, err = run("create_key", "org-a")
    assert SECRET_LINE.match(out), out
    assert err == ""
    secret = out.strip()
    assert secret.startswith("sk-ar-")
    key = api_key_authenticate(secret=secret)
    assert key.organization == org_a
    assert key.kind == "api"


def test_create_key_with_every_option(org_a, client_for):
    out, _ = run(
        "create_key", "org-a", "--kind", "management", "--name", "ops", "--limit-usd", "2.5",
        "--rpm", "30",
    )  # fmt: skip
    secret = out.strip()
    assert secret.startswith("ak_")
    key = ApiKey.objects.get(organization=org_a, name="ops")
    assert (key.kind, key.limit_micros, key.rate_limit_rpm) == ("management", 2_500_000, 30)
    response = client_for(secret).get("/api/v1/keys")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "args",
    [
        ["create_key", "no-such-tenant"],
        ["create_key", "org-a", "--limit-usd", "abc"],
        ["create_key", "org-a", "--limit-usd", "-1"],
        ["create_key", "org-a", "--limit-usd", "NaN"],
        ["create_key", "org-a", "--rpm", "0"],
        ["create_key", "org-a", "--rpm", "many"],
        ["create_key", "org-a", "--kind", "root"],
    ],
)
def test_create_key_refuses_bad_input(args, org_a):
    with pytest.raises(CommandError):
        run(*args)
    assert not ApiKey.objects.exists()


def test_the_commands_work_from_a_shell_script(tmp_path):
    """End to end in fresh processes, as an operator's script would run them."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'ops.sqlite3'}",
        "FILE_CACHE_DIR": str(tmp_path / "cache"),
        "LOG_LEVEL": "DEBUG",
    }

    def manage(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    manage("migrate", "--noinput")
    tenant = manage("create_tenant", "acme", "--owner-email", "ops@acme.test")
    assert re.fullmatch(r"org_[0-9A-Za-z]{16}\n", tenant.stdout), tenant.stdout
    created = manage("create_key", "acme", "--name", "script")
    assert SECRET_LINE.match(created.stdout), created.stdout
    secret = created.stdout.strip()
    assert secret not in created.stderr
    check = manage(
        "shell",
        "--no-imports",
        "-c",
        "import sys; from keys.selectors import api_key_authenticate; "
        "print(api_key_authenticate(secret=sys.stdin.read().strip()).organization.slug)",
        stdin=secret,
    )
    assert check.stdout.strip() == "acme"


def test_bootstrap_demo_prints_the_demo_once_and_then_nothing(db):
    out, _ = run("bootstrap_demo")
    secret = re.search(r"API key: +(\S+)", out).group(1)
    assert api_key_authenticate(secret=secret).organization.slug == "demo"

    assert run("bootstrap_demo") == ("", "")
    assert Organization.objects.count() == 1
    assert get_user_model().objects.count() == 1


def test_bootstrap_demo_cut_short_leaves_nothing_and_runs_again(db, monkeypatch):
    """Else the superuser stays, its password never shown, and no later run makes the
    demo."""

    def fail(**kwargs):
        raise RuntimeError("cut short")

    monkeypatch.setattr("accounts.management.commands.bootstrap_demo.api_key_create", fail)
    with pytest.raises(RuntimeError):
        run("bootstrap_demo")
    assert not get_user_model().objects.exists()
    monkeypatch.undo()

    out, _ = run("bootstrap_demo")
    assert "API key:" in out


def test_create_key_with_redis_down_prints_the_secret_and_one_line_of_warning():
    """The key epoch cannot be replaced: a warning, one line per attempt, no traceback
    (and one line from the Redis breaker, config/redis_breaker.py)."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"REDIS_URL": "redis://127.0.0.1:1/0", "DATABASE_URL": "sqlite:///:memory:"}
    script = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "call_command('create_tenant', 'acme', '--owner-email', 'a@acme.test', stdout=open('/dev/null', 'w'))\n"
        "call_command('create_key', 'acme')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert SECRET_LINE.match(result.stdout)
    assert "Traceback" not in result.stderr
    breaker, *epoch = result.stderr.splitlines()
    assert breaker.startswith("Redis at 127.0.0.1:1/0 failed (Error 111 connecting")
    assert epoch and all("key epoch" in line for line in epoch)
