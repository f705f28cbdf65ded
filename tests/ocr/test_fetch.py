"""The SSRF-safe fetcher: blocked ranges, redirects re-checked, size and time caps.

A real HTTP server on 127.0.0.1 stands in for the internet (FETCH_ALLOW_PRIVATE lets
the fetcher reach it); a redirect from a public address is answered by httpx's
MockTransport at the HTTP boundary, and its target is refused before any connection.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from config.api import ApiError
from ocr.intake.fetch import address_blocked_reason, fetch_url

PAYLOAD = b"%PDF-1.4 pretend document " * 40


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):  # noqa: N802 - the stdlib's name
        path = self.path
        if path == "/file.pdf":
            self._send(200, PAYLOAD, {"Content-Type": "application/pdf; qs=1"})
        elif path == "/named":
            self._send(200, b"x", {"Content-Disposition": 'attachment; filename="scan 1.png"'})
        elif path.startswith("/hop/"):
            remaining = int(path.rsplit("/", 1)[1])
            target = "/file.pdf" if remaining == 0 else f"/hop/{remaining - 1}"
            self._send(302, b"", {"Location": target})
        elif path == "/host":
            self._send(200, self.headers.get("Host", "").encode(), {})
        elif path == "/huge":
            self.send_response(200)
            self.end_headers()  # no Content-Length: the cap must work while streaming
            for _ in range(64):
                self.wfile.write(b"y" * 1024)
        elif path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(10):
                self.wfile.write(b"z")
                self.wfile.flush()
                time.sleep(0.3)
        elif path == "/missing":
            self._send(404, b"nope", {})
        else:
            self._send(500, b"", {})

    def _send(self, status, body, headers):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the fetcher hangs up on over-size and slow bodies on purpose


@pytest.fixture(scope="module")
def server():
    httpd = _Server(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def allow_private(settings):
    settings.FETCH_ALLOW_PRIVATE = True


def fetch(url, **kwargs):
    kwargs.setdefault("max_bytes", 1_000_000)
    kwargs.setdefault("timeout_s", 5.0)
    return fetch_url(url, **kwargs)


def test_it_fetches_a_file(server, allow_private):
    fetched = fetch(f"{server}/file.pdf")

    assert fetched.data == PAYLOAD
    assert fetched.content_type == "application/pdf"
    assert fetched.filename == "file.pdf"


def test_it_takes_the_filename_from_content_disposition(server, allow_private):
    assert fetch(f"{server}/named").filename == "scan 1.png"


def test_it_sends_the_original_host_header(server, allow_private):
    port = server.rsplit(":", 1)[1]

    assert fetch(f"http://localhost:{port}/host").data == f"localhost:{port}".encode()


def test_it_follows_up_to_three_redirects(server, allow_private):
    assert fetch(f"{server}/hop/2").data == PAYLOAD  # three redirects


def test_it_refuses_a_fourth_redirect(server, allow_private):
    with pytest.raises(ApiError) as caught:
        fetch(f"{server}/hop/3")

    assert (caught.value.status, caught.value.code) == (400, "url_fetch_failed")
    assert "redirected more than 3" in caught.value.message


def test_it_caps_the_size_while_streaming(server, allow_private):
    with pytest.raises(ApiError) as declared:
        fetch(f"{server}/file.pdf", max_bytes=100)
    with pytest.raises(ApiError) as streamed:
        fetch(f"{server}/huge", max_bytes=10_000)

    assert (declared.value.status, declared.value.code) == (413, "file_too_large")
    assert (streamed.value.status, streamed.value.code) == (413, "file_too_large")


def test_it_caps_the_time(server, allow_private):
    started = time.monotonic()
    with pytest.raises(ApiError) as caught:
        fetch(f"{server}/slow", timeout_s=1.0)

    assert caught.value.code == "url_fetch_failed"
    assert time.monotonic() - started < 2.5


def test_an_error_status_is_a_fetch_failure(server, allow_private):
    with pytest.raises(ApiError) as caught:
        fetch(f"{server}/missing")

    assert (caught.value.status, caught.value.code) == (400, "url_fetch_failed")
    assert caught.value.extra["upstream_status"] == 404


def test_loopback_is_refused_by_default(server):
    with pytest.raises(ApiError) as literal:
        fetch(f"{server}/file.pdf")
    with pytest.raises(ApiError) as named:
        fetch(f"http://localhost:{server.rsplit(':', 1)[1]}/file.pdf")

    assert (literal.value.status, literal.value.code) == (400, "url_not_allowed")
    assert named.value.code == "url_not_allowed"


def test_an_operator_trusted_host_is_fetched_and_only_that_one(server, settings):
    port = server.rsplit(":", 1)[1]
    settings.FETCH_ALLOWED_HOSTS = [f"127.0.0.1:{port}"]

    assert fetch(f"{server}/file.pdf").data == PAYLOAD
    with pytest.raises(ApiError) as other_name:  # same address, a name not listed
        fetch(f"http://localhost:{port}/file.pdf")
    assert other_name.value.code == "url_not_allowed"

    settings.FETCH_ALLOWED_HOSTS = ["localhost"]  # any port
    assert fetch(f"http://localhost:{port}/file.pdf").data == PAYLOAD

    settings.FETCH_ALLOWED_HOSTS = ["169.254.169.254"]
    with pytest.raises(ApiError) as metadata:
        fetch("http://169.254.169.254/latest/meta-data/")
    assert metadata.value.code == "url_not_allowed"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1.2.3",
        "[::1]",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "169.254.1.1",
        "100.64.0.1",  # carrier-grade NAT
        "100.127.255.254",
        "224.0.0.1",  # multicast
        "[ff02::1]",
        "0.0.0.0",
        "[::]",
        "240.0.0.1",  # reserved
        "[fe80::1]",
        "[fc00::1]",
        "[fd00:ec2::254]",  # AWS IPv6 metadata
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::ffff:169.254.169.254]",
        "[::ffff:10.0.0.1]",
        "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f.0.0.1",
    ],
)
def test_each_blocked_range_is_refused(host):
    with pytest.raises(ApiError) as caught:
        fetch(f"http://{host}/x.png")

    assert caught.value.status == 400
    assert caught.value.code in ("url_not_allowed", "url_fetch_failed")
    if caught.value.code == "url_fetch_failed":  # only an unresolvable spelling may fail so
        assert "resolve" in caught.value.message


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.1.1", "169.254.169.254", "100.64.1.1", "::ffff:192.168.0.1"]
)
def test_private_ranges_are_blocked_even_by_address(address):
    assert address_blocked_reason(ipaddress.ip_address(address)) is not None


def test_public_addresses_pass():
    assert address_blocked_reason(ipaddress.ip_address("93.184.215.14")) is None
    assert address_blocked_reason(ipaddress.ip_address("2606:4700::6810:84e5")) is None


def test_allow_private_still_blocks_metadata_and_multicast():
    for address in ("169.254.169.254", "224.0.0.1", "0.0.0.0", "100.64.0.1"):
        assert address_blocked_reason(ipaddress.ip_address(address), allow_private=True)


@pytest.mark.parametrize("url", ["ftp://example.com/a.pdf", "file:///etc/passwd", "gopher://x"])
def test_only_http_and_https_are_fetched(url):
    with pytest.raises(ApiError) as caught:
        fetch(url)

    assert (caught.value.status, caught.value.code) == (400, "url_not_allowed")


@pytest.mark.parametrize("url", ["http://", "http://[::1", "http://exa mple.com:99999/"])
def test_malformed_urls_are_invalid(url):
    with pytest.raises(ApiError) as caught:
        fetch(url)

    assert caught.value.status == 400
    assert caught.value.code in ("invalid_url", "url_not_allowed")


def test_a_redirect_to_loopback_is_refused(server):
    """A public host answering with a redirect to 127.0.0.1 (our live server) is refused."""
    seen = []

    def public_site(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": f"{server}/file.pdf"})

    with pytest.raises(ApiError) as caught:
        fetch("http://93.184.215.14/doc.pdf", transport=httpx.MockTransport(public_site))

    assert (caught.value.status, caught.value.code) == (400, "url_not_allowed")
    assert seen == ["http://93.184.215.14/doc.pdf"]  # the redirect target was never requested


def test_a_redirect_to_the_metadata_service_is_refused():
    def public_site(request: httpx.Request) -> httpx.Response:
        return httpx.Response(301, headers={"Location": "http://169.254.169.254/latest/meta-data/"})

    with pytest.raises(ApiError) as caught:
        fetch("http://93.184.215.14/", transport=httpx.MockTransport(public_site))

    assert caught.value.code == "url_not_allowed"


def test_the_connection_goes_to_the_checked_address(allow_private):
    """The name is resolved once and checked; the request goes to that address by number."""
    requests = []

    def site(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, content=b"ok")

    fetched = fetch("https://localhost:8443/a/b.png?x=1", transport=httpx.MockTransport(site))

    assert fetched.data == b"ok"
    assert requests[0].url.host in ("127.0.0.1", "::1")
    assert requests[0].url.path == "/a/b.png"
    assert requests[0].url.query == b"x=1"
    assert requests[0].headers["host"] == "localhost:8443"
    # TLS is still negotiated and verified for the name, not the number.
    assert requests[0].extensions["sni_hostname"] == "localhost"
