"""Limits on the dashboard's sign-in, password reset and sign-up (brute force, mail floods).

- Sign-in (the dashboard's and the admin's): failures per address and per client
  network. Past the limit an attempt is refused before the password is checked, with a
  form error and 429, the same for an address with no account; a sign-in that succeeds
  clears its address's failures and does not count for the network.
- Password reset: requests per address and per network; past the limit the page
  answers as always and no mail is sent.
- Sign-up: submissions per network.

The client is REMOTE_ADDR, or, when that is one of `TRUSTED_PROXIES`, the right-most
X-Forwarded-For address that is not (the left of the header is the client's to write). A
loopback client is not limited per network, only per address: it is the operator's own
machine, or a proxy on the same host in front of every client, whose network limit would
lock everyone out at once (docs/dashboard.md). IPv6 clients are counted per /64, the block one
subscriber usually holds. Counting is in accounts/counters.py.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import NON_FIELD_ERRORS

from accounts.counters import Attempt, Limit, attempt_take, counter_key

TOO_MANY_ATTEMPTS = "too_many_attempts"
ACCOUNT_SCOPE = "login:account"
NETWORK_SCOPE = "login:network"
LOOPBACK = "loopback"


def client_address(request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's address: REMOTE_ADDR, unless a trusted proxy forwarded the request."""
    try:
        address = ipaddress.ip_address((request.META.get("REMOTE_ADDR") or "").strip())
    except (AttributeError, ValueError):
        return None
    proxies = _trusted_proxies()
    if not any(address in network for network in proxies):
        return address
    hops = (request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",")
    for hop in reversed(hops):
        try:
            forwarded = ipaddress.ip_address(hop.strip())
        except ValueError:
            return address  # a hop that is no address: nothing left of it can be trusted
        if not any(forwarded in network for network in proxies):
            return forwarded
        address = forwarded
    return address


def _trusted_proxies() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in settings.TRUSTED_PROXIES]


def client_network(request) -> str:
    parsed = client_address(request) if request is not None else None
    if parsed is None:
        return "unknown"
    if parsed.version == 6 and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    if parsed.is_loopback:
        return LOOPBACK
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _per_network(limit: Limit, request) -> list[tuple[Limit, str]]:
    """The network's limit on this request's client, none for a loopback client."""
    network = client_network(request)
    return [] if network == LOOPBACK else [(limit, network)]


def normalised_email(typed: str) -> str:
    # As accounts.services.user_by_email finds accounts: every spelling of one account's
    # address shares a counter.
    return typed.strip().lower()


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def _login_window() -> int:
    return settings.AUTH_LOGIN_WINDOW_S


def login_attempt_begin(*, email: str, request) -> Attempt | None:
    """Count a sign-in attempt before its password is checked; None: refuse it."""
    window = _login_window()
    network = Limit(NETWORK_SCOPE, settings.AUTH_LOGIN_FAILURES_PER_IP, window)
    account = Limit(ACCOUNT_SCOPE, settings.AUTH_LOGIN_FAILURES_PER_ACCOUNT, window)
    return attempt_take([*_per_network(network, request), (account, normalised_email(email))])


def login_attempt_succeeded(attempt: Attempt) -> None:
    attempt.undo()
    attempt.clear(ACCOUNT_SCOPE)


def login_failures_clear(*, email: str = "", network: str = "") -> None:
    """Forget the failed sign-ins of an address and/or a client network (an operator's
    `clear_sign_in_lock`); raises when the cache cannot be reached."""
    keys = []
    if email:
        keys.append(counter_key(ACCOUNT_SCOPE, normalised_email(email)))
    if network:
        keys.append(counter_key(NETWORK_SCOPE, network))
    cache.delete_many(keys)


def login_refusal_message() -> str:
    minutes = _minutes(_login_window())
    return f"Too many failed sign-in attempts. Try again in {minutes} minutes."


def password_reset_allowed(*, email: str, request) -> bool:
    window = settings.AUTH_PASSWORD_RESET_WINDOW_S
    network = Limit("reset:network", settings.AUTH_PASSWORD_RESETS_PER_IP, window)
    address = Limit("reset:email", settings.AUTH_PASSWORD_RESETS_PER_EMAIL, window)
    counted = [*_per_network(network, request), (address, normalised_email(email))]
    return attempt_take(counted) is not None


def signup_allowed(*, request) -> bool:
    limit = Limit("signup:network", settings.AUTH_SIGNUPS_PER_IP, settings.AUTH_SIGNUP_WINDOW_S)
    return attempt_take(_per_network(limit, request)) is not None


def signup_refusal_message() -> str:
    minutes = _minutes(settings.AUTH_SIGNUP_WINDOW_S)
    return f"Too many accounts were created from your network. Try again in {minutes} minutes."


def refused_sign_in_is_429(view: Callable) -> Callable:
    """A sign-in view whose form was refused by the limit answers 429 with Retry-After
    (Django's LoginView and the admin's answer 200 to every form error)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        form = (getattr(response, "context_data", None) or {}).get("form")
        if form is not None and form.has_error(NON_FIELD_ERRORS, TOO_MANY_ATTEMPTS):
            response.status_code = 429
            response["Retry-After"] = str(_login_window())
        return response

    return wrapped
