"""Limits on failed sign-ins (dashboard and admin), password-reset mails and sign-ups."""

from __future__ import annotations

import os
import threading
import time

import pytest
from django.contrib.auth.signals import user_login_failed
from django.core import mail
from django.core.cache import cache
from django.test import Client

from accounts.counters import counter_key
from accounts.throttle import client_network

OWNER = "owner-a@example.com"
RIGHT = "pw-a-123456"
REFUSAL = b"Too many failed sign-in attempts. Try again in 15 minutes."
CLIENT_ADDR = "198.51.100.20"  # a client on the internet: loopback is not limited per network


@pytest.fixture
def client():
    return Client(REMOTE_ADDR=CLIENT_ADDR)


def use_redis(settings) -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set: these cases need a real Redis")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "ocrgw",
            "OPTIONS": {"socket_timeout": 1.0, "socket_connect_timeout": 0.5},
        }
    }


@pytest.fixture(params=["redis", "file"])
def shared_cache(request, settings, tmp_path):
    """The production cache (Redis), and the file cache used without REDIS_URL."""
    if request.param == "redis":
        use_redis(settings)
    else:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
            }
        }
    return request.param


@pytest.fixture
def password_checks():
    """The number of passwords found wrong, through Django's own signal."""
    seen: list[str] = []

    def record(sender, credentials, **kwargs):
        seen.append(credentials.get("username"))

    user_login_failed.connect(record)
    yield seen
    user_login_failed.disconnect(record)


def sign_in(client, email, password, path="/login/", **extra):
    return client.post(path, {"username": email, "password": password}, **extra)


def test_the_sixth_attempt_is_refused_even_with_the_right_password(
    client, org_a, shared_cache, password_checks
):
    for _ in range(5):
        wrong = sign_in(client, OWNER, "wrong-guess")
        assert wrong.status_code == 200
        assert b"Please enter a correct" in wrong.content

    refused = sign_in(client, OWNER, RIGHT)

    assert refused.status_code == 429
    assert refused["Retry-After"] == "900"
    assert REFUSAL in refused.content
    assert len(password_checks) == 5  # the sixth password was never checked
    assert client.get("/dashboard/").status_code == 302  # not signed in


def test_an_unknown_address_is_refused_exactly_like_an_account(client, org_a, shared_cache):
    def answers(email):
        statuses, bodies = [], []
        for password in ["wrong-1", "wrong-2", "wrong-3", "wrong-4", "wrong-5", "sixth"]:
            response = sign_in(client, email, password)
            statuses.append(response.status_code)
            bodies.append(REFUSAL in response.content)
        return statuses, bodies

    assert (
        answers(OWNER) == answers("nobody@example.com") == ([200] * 5 + [429], [False] * 5 + [True])
    )


def test_every_spelling_of_an_address_counts_for_it(client, org_a, shared_cache):
    for typed in ["owner-a@example.com", "OWNER-A@example.com", " Owner-A@Example.COM "] * 2:
        last = sign_in(client, typed, "wrong-guess")

    assert last.status_code == 429


def test_a_successful_sign_in_clears_the_address_failures(client, org_a, shared_cache):
    for _ in range(4):
        sign_in(client, OWNER, "wrong-guess")
    assert sign_in(client, OWNER, RIGHT).status_code == 302
    client.post("/logout/")

    statuses = [sign_in(client, OWNER, "wrong-guess").status_code for _ in range(6)]

    assert statuses == [200] * 5 + [429]


def test_the_lock_ends_when_the_window_passes(client, org_a, shared_cache, settings):
    settings.AUTH_LOGIN_WINDOW_S = 1
    for _ in range(5):
        sign_in(client, OWNER, "wrong-guess")
    assert sign_in(client, OWNER, RIGHT).status_code == 429

    time.sleep(1.2)

    assert sign_in(client, OWNER, RIGHT).status_code == 302


def test_refused_attempts_do_not_prolong_the_lock(client, org_a, shared_cache, settings):
    settings.AUTH_LOGIN_WINDOW_S = 2
    for _ in range(5):
        sign_in(client, OWNER, "wrong-guess")
    time.sleep(1.2)
    assert sign_in(client, OWNER, RIGHT).status_code == 429

    time.sleep(1.0)  # 2.2 s after the last failure, 1 s after the refusal

    assert sign_in(client, OWNER, RIGHT).status_code == 302


def test_failures_are_limited_per_network_across_addresses(client, org_a, settings):
    settings.AUTH_LOGIN_FAILURES_PER_IP = 3
    for number in range(3):
        assert sign_in(client, f"guess-{number}@example.com", "x").status_code == 200

    assert sign_in(client, OWNER, RIGHT).status_code == 429
    # Another network is not held back, and a success there is no failure.
    assert sign_in(Client(), OWNER, RIGHT, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_a_successful_sign_in_does_not_count_against_the_network(client, org_a, settings):
    settings.AUTH_LOGIN_FAILURES_PER_IP = 2
    for _ in range(3):
        assert sign_in(client, OWNER, RIGHT).status_code == 302
        client.post("/logout/")

    assert sign_in(client, "guess@example.com", "x").status_code == 200
    assert sign_in(client, "guess@example.com", "x").status_code == 200
    assert sign_in(client, "guess@example.com", "x").status_code == 429


def test_a_limit_of_zero_is_off(client, org_a, settings):
    settings.AUTH_LOGIN_FAILURES_PER_ACCOUNT = 0
    for _ in range(7):
        sign_in(client, OWNER, "wrong-guess")

    assert sign_in(client, OWNER, RIGHT).status_code == 302


def test_the_counters_live_in_the_shared_cache(client, org_a, shared_cache):
    """Where every gunicorn worker (and, with Redis, every host) reads them."""
    for _ in range(3):
        sign_in(client, OWNER, "wrong-guess")

    assert cache.get(counter_key("login:account", OWNER)) == 3
    assert cache.get(counter_key("login:network", CLIENT_ADDR)) == 3


@pytest.mark.django_db(transaction=True)
def test_failures_at_once_never_pass_the_limit(settings, password_checks):
    """Twenty wrong passwords at the same moment: exactly five are checked. (Redis only:
    the file cache's increments are not atomic, docs/dashboard.md.)"""
    from django.db import connection

    from accounts.services import tenant_create

    use_redis(settings)
    tenant_create(slug="org-a", owner_email=OWNER, password=RIGHT)
    statuses: list[object] = []
    start = threading.Barrier(20)

    def attempt() -> None:
        client = Client()
        start.wait()
        try:
            statuses.append(sign_in(client, OWNER, "wrong-guess").status_code)
        except Exception as error:  # noqa: BLE001 - what the test is looking for
            statuses.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses, key=str) == [200] * 5 + [429] * 15, statuses
    assert len(password_checks) == 5
    assert cache.get(counter_key("login:account", OWNER)) == 5


def test_the_admin_sign_in_is_limited_with_the_dashboard(client, db, settings):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("ops@example.com", "ops@example.com", RIGHT)
    for _ in range(3):
        sign_in(client, "ops@example.com", "wrong-guess")
    for _ in range(2):
        assert sign_in(client, "ops@example.com", "wrong", "/admin/login/").status_code == 200

    refused = sign_in(client, "ops@example.com", RIGHT, "/admin/login/")

    assert refused.status_code == 429
    assert refused["Retry-After"] == "900"
    assert REFUSAL in refused.content
    assert client.get("/admin/").status_code == 302  # still not signed in


def test_an_unreachable_cache_limits_nothing_and_breaks_nothing(client, org_a, settings, caplog):
    """Redis down: failing open, so operators and customers can still sign in."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    for _ in range(7):
        assert sign_in(client, OWNER, "wrong-guess").status_code == 200
    assert sign_in(client, OWNER, RIGHT).status_code == 302
    client.post("/logout/")
    for _ in range(4):
        assert client.post("/password-reset/", {"email": OWNER}).status_code == 302
    assert len(mail.outbox) == 4
    signup = {
        "email": "new@example.com",
        "password1": "a-long-pass-42",
        "password2": "a-long-pass-42",
    }
    assert client.post("/signup/", signup).status_code == 302
    assert "auth limits: the shared cache is unavailable, not limiting" in caplog.text


def test_reset_mails_are_capped_per_address(client, org_a, shared_cache):
    answers = [client.post("/password-reset/", {"email": OWNER}) for _ in range(5)]
    unknown = [client.post("/password-reset/", {"email": "nobody@example.com"}) for _ in range(5)]

    assert len(mail.outbox) == 3
    for response in answers + unknown:  # the same neutral answer every time
        assert response.status_code == 302
        assert response["Location"] == "/password-reset/sent/"


def test_every_spelling_of_an_address_shares_its_reset_cap(client, org_a):
    for typed in ["owner-a@example.com", "OWNER-A@EXAMPLE.COM", "Owner-A@example.com ", OWNER]:
        client.post("/password-reset/", {"email": typed})

    assert len(mail.outbox) == 3


def test_reset_requests_are_capped_per_network(client, org_a, org_b, settings):
    settings.AUTH_PASSWORD_RESETS_PER_IP = 2
    client.post("/password-reset/", {"email": "nobody@example.com"})
    client.post("/password-reset/", {"email": OWNER})

    response = client.post("/password-reset/", {"email": "owner-b@example.com"})

    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [[OWNER]]
    other = Client().post(
        "/password-reset/", {"email": "owner-b@example.com"}, REMOTE_ADDR="203.0.113.9"
    )
    assert other.status_code == 302
    assert mail.outbox[-1].to == ["owner-b@example.com"]


def test_sign_ups_are_limited_per_network(client, db, settings):
    from django.contrib.auth import get_user_model

    settings.AUTH_SIGNUPS_PER_IP = 2

    def sign_up(email, browser=client, **extra):
        data = {"email": email, "password1": "a-long-pass-42", "password2": "a-long-pass-42"}
        return browser.post("/signup/", data, **extra)

    assert client.post("/signup/", {"email": "bad"}).status_code == 200  # not counted
    assert sign_up("one@example.com").status_code == 302
    client.post("/logout/")
    assert sign_up("one@example.com").status_code == 200  # "already exists" counts too
    refused = sign_up("two@example.com")

    assert refused.status_code == 429
    assert refused["Retry-After"] == "3600"
    assert b"Too many accounts were created from your network" in refused.content
    assert not get_user_model().objects.filter(username="two@example.com").exists()
    assert sign_up("two@example.com", Client(), REMOTE_ADDR="192.0.2.44").status_code == 302


@pytest.mark.parametrize(
    ("remote_addr", "network"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.5", "loopback"),
        ("", "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_clients_are_counted_per_address_and_ipv6_per_64(rf, remote_addr, network):
    assert client_network(rf.get("/", REMOTE_ADDR=remote_addr)) == network


def test_a_loopback_client_is_limited_per_address_only(db, settings):
    """The operator's own machine, or a proxy on this host in front of every client."""
    settings.AUTH_SIGNUPS_PER_IP = 1
    settings.AUTH_LOGIN_FAILURES_PER_IP = 1
    local = Client(REMOTE_ADDR="127.0.0.1")
    data = {"password1": "a-long-pass-42", "password2": "a-long-pass-42"}

    for number in range(3):
        assert (
            local.post("/signup/", {**data, "email": f"s{number}@example.com"}).status_code == 302
        )
        local.post("/logout/")
        assert sign_in(local, f"guess-{number}@example.com", "x").status_code == 200

    for _ in range(5):
        sign_in(local, "s0@example.com", "wrong")
    assert sign_in(local, "s0@example.com", "a-long-pass-42").status_code == 429


@pytest.mark.parametrize(
    ("remote_addr", "forwarded", "network"),
    [
        ("10.0.0.5", "203.0.113.7", "203.0.113.7"),
        # The left of the header is the client's to write: the right-most untrusted hop.
        ("10.0.0.5", "198.51.100.1, 203.0.113.7", "203.0.113.7"),
        ("10.0.0.5", "203.0.113.7, 10.0.0.9", "203.0.113.7"),
        ("10.0.0.5", "", "10.0.0.5"),
        ("10.0.0.5", "not-an-address", "10.0.0.5"),
        # Not from a trusted proxy: the header is anybody's and is ignored.
        ("192.0.2.80", "203.0.113.7", "192.0.2.80"),
    ],
)
def test_a_trusted_proxy_forwards_its_clients_address(
    rf, settings, remote_addr, forwarded, network
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    request = rf.get("/", REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_network(request) == network


def test_without_trusted_proxies_the_forwarded_header_is_ignored(rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert client_network(request) == "10.0.0.5"


def test_clients_behind_a_trusted_proxy_are_limited_apart(client, org_a, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.AUTH_LOGIN_FAILURES_PER_IP = 2
    proxy = Client(REMOTE_ADDR="10.0.0.5")
    for _ in range(2):
        sign_in(proxy, "guess@example.com", "x", HTTP_X_FORWARDED_FOR="203.0.113.7")

    refused = sign_in(proxy, OWNER, RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.7")
    other = sign_in(proxy, OWNER, RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.9")

    assert refused.status_code == 429
    assert other.status_code == 302


def test_an_operator_can_clear_a_lock(client, org_a, settings):
    from django.core.management import CommandError, call_command

    settings.AUTH_LOGIN_FAILURES_PER_IP = 6
    for _ in range(5):
        sign_in(client, OWNER, "wrong-guess")
    assert sign_in(client, OWNER, RIGHT).status_code == 429

    call_command("clear_sign_in_lock", " Owner-A@example.com")

    assert sign_in(client, OWNER, "wrong-again").status_code == 200  # the 6th on the network
    assert sign_in(client, OWNER, RIGHT).status_code == 429  # the network's limit now
    call_command("clear_sign_in_lock", "--network", CLIENT_ADDR)
    assert sign_in(client, OWNER, RIGHT).status_code == 302
    with pytest.raises(CommandError, match="Give an e-mail address"):
        call_command("clear_sign_in_lock")
