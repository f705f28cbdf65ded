"""The SSRF-safe fetcher for URLs that clients send.

Rules (DESIGN.md section 7): http and https only; every address the host name resolves
to is checked and one bad address refuses the URL (so DNS answers mixing a public and
an internal address cannot slip through); the connection goes to the checked address,
not to a second resolution (no DNS rebinding); each redirect is checked the same way,
at most three; the body is capped while it streams and the whole fetch is time-capped.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from django.conf import settings

from config.api import ApiError

MAX_REDIRECTS = 3
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
# getaddrinfo has no timeout of its own; a few threads let us put one on it.
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="fetch-dns")

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")


@dataclass
class FetchedFile:
    data: bytes = field(repr=False)
    content_type: str | None
    filename: str | None


def address_blocked_reason(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool = False
) -> str | None:
    """Why a client URL may not reach this address, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 form of an IPv4 address is judged as that IPv4 address.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is not None:
            return address_blocked_reason(embedded, allow_private=allow_private)
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if str(address) == "169.254.169.254" or address.is_link_local:
        return "a link-local or cloud metadata address"
    if address.is_loopback:
        return None if allow_private else "a loopback address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a carrier-grade NAT address"
    if address.is_private:
        return None if allow_private else "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def _not_allowed(message: str) -> ApiError:
    return ApiError(400, "url_not_allowed", message)


def _resolve(
    host: str, port: int, deadline: float
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    remaining = max(0.1, deadline - time.monotonic())
    future = _RESOLVER.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=remaining)
    except FutureTimeout as exc:
        raise ApiError(400, "url_fetch_failed", f"Resolving {host} timed out.") from exc
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise ApiError(400, "url_fetch_failed", f"The host {host} cannot be resolved.") from exc
    addresses = []
    for info in infos:
        text = info[4][0].split("%", 1)[0]  # drop an IPv6 zone id
        addresses.append(ipaddress.ip_address(text))
    if not addresses:
        raise ApiError(400, "url_fetch_failed", f"The host {host} cannot be resolved.")
    return addresses


@dataclass
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    path: str


def _host_trusted(host: str, port: int) -> bool:
    """Whether the operator listed this host (any port) or host:port in
    FETCH_ALLOWED_HOSTS: its private addresses are then fetched; metadata, link-local
    and the other always-blocked ranges stay blocked."""
    trusted = getattr(settings, "FETCH_ALLOWED_HOSTS", None) or ()
    host = host.lower()
    return host in trusted or f"{host}:{port}" in trusted


def _target_check(url: str, deadline: float) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ApiError(400, "invalid_url", "The URL is not valid.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise _not_allowed("Only http and https URLs can be fetched.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ApiError(400, "invalid_url", "The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise _not_allowed("URLs with credentials are not accepted.")
    port = port or (443 if scheme == "https" else 80)
    allow_private = bool(getattr(settings, "FETCH_ALLOW_PRIVATE", False)) or _host_trusted(
        host, port
    )
    addresses = _resolve(host, port, deadline)
    for address in addresses:
        reason = address_blocked_reason(address, allow_private=allow_private)
        if reason:
            raise _not_allowed(f"The URL's host resolves to {reason}, which is not allowed.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0], path=path)


_CD_FILENAME = re.compile(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE)


def _filename(response: httpx.Response, target: _Target) -> str | None:
    disposition = response.headers.get("content-disposition", "")
    match = _CD_FILENAME.search(disposition)
    if match:
        return unquote(match.group(1)).strip().rsplit("/", 1)[-1] or None
    last = unquote(target.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1])
    return last or None


def fetch_url(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    transport: httpx.BaseTransport | None = None,
) -> FetchedFile:
    """GET a client's URL under the SSRF rules. `transport` is the HTTP seam for tests."""
    if not isinstance(url, str) or len(url) > 8192:
        raise ApiError(400, "invalid_url", "The URL is not valid.")
    deadline = time.monotonic() + timeout_s
    client = httpx.Client(
        transport=transport,
        follow_redirects=False,
        trust_env=False,  # an environment proxy would do its own resolution
        verify=True,
    )
    try:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            target = _target_check(current, deadline)
            location = _fetch_once(client, target, max_bytes=max_bytes, deadline=deadline)
            if isinstance(location, FetchedFile):
                return location
            current = urljoin(current, location)
        raise ApiError(
            400, "url_fetch_failed", f"The URL redirected more than {MAX_REDIRECTS} times."
        )
    finally:
        client.close()


def _fetch_once(
    client: httpx.Client, target: _Target, *, max_bytes: int, deadline: float
) -> FetchedFile | str:
    """One request to the checked address: the file, or the next redirect's location."""
    host_literal = f"[{target.address}]" if target.address.version == 6 else str(target.address)
    default_port = 443 if target.scheme == "https" else 80
    named = f"[{target.host}]" if ":" in target.host else target.host
    host_header = named if target.port == default_port else f"{named}:{target.port}"
    request_url = f"{target.scheme}://{host_literal}:{target.port}{target.path}"
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise ApiError(400, "url_fetch_failed", "Fetching the URL timed out.")
    request = client.build_request(
        "GET",
        request_url,
        headers={"Host": host_header, "User-Agent": "ocr-gateway-fetcher/1", "Accept": "*/*"},
        timeout=httpx.Timeout(remaining),
        # TLS is negotiated and the certificate checked for the name, not the address.
        extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
    )
    try:
        response = client.send(request, stream=True)
    except httpx.TimeoutException as exc:
        raise ApiError(400, "url_fetch_failed", "Fetching the URL timed out.") from exc
    except httpx.HTTPError as exc:
        raise ApiError(400, "url_fetch_failed", f"The URL could not be fetched: {exc}.") from exc
    try:
        if response.status_code in _REDIRECT_STATUSES:
            location = response.headers.get("location")
            if not location:
                raise ApiError(400, "url_fetch_failed", "The URL redirected without a location.")
            return location
        if response.status_code >= 400 or response.status_code < 200:
            raise ApiError(
                400,
                "url_fetch_failed",
                f"The URL answered HTTP {response.status_code}.",
                upstream_status=response.status_code,
            )
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(max_bytes)
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(max_bytes)
                if time.monotonic() > deadline:
                    raise ApiError(400, "url_fetch_failed", "Fetching the URL timed out.")
                chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise ApiError(400, "url_fetch_failed", "Fetching the URL timed out.") from exc
        except httpx.HTTPError as exc:
            raise ApiError(400, "url_fetch_failed", f"Reading the URL failed: {exc}.") from exc
        content_type = response.headers.get("content-type")
        return FetchedFile(
            data=b"".join(chunks),
            content_type=content_type.split(";")[0].strip() if content_type else None,
            filename=_filename(response, target),
        )
    finally:
        response.close()


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413, "file_too_large", f"The document is larger than the {max_bytes:,}-byte limit."
    )
