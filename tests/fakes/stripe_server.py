"""A fake Stripe API and hosted Checkout page on 127.0.0.1, plus Stripe's webhook signing.

It speaks the few calls the platform makes (create and retrieve a Checkout Session),
honours `Idempotency-Key` like Stripe (same key, same Session), and serves a checkout
page whose "Pay" button marks the Session paid, delivers a signed
`checkout.session.completed` webhook to the app, then redirects to the success URL.

Signatures follow Stripe's documented scheme, written here independently of the stripe
library so the app's verification is tested against a second implementation:
`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import httpx


def stripe_signature(payload: bytes, secret: str, *, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def _unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts (lists as dicts)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return root


class FakeStripe:
    def __init__(self, *, api_key: str, webhook_secret: str, webhook_url: str = "") -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.sessions: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.deliveries: list[httpx.Response] = []
        self._idempotent: dict[str, str] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle -------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                fake._dispatch(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._dispatch(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- events ----------------------------------------------------------------
    def event(self, type_: str, obj: dict[str, Any], *, event_id: str | None = None) -> bytes:
        body = {
            "id": event_id or f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "type": type_,
            "data": {"object": obj},
        }
        return json.dumps(body).encode()

    def signed(self, payload: bytes, *, timestamp: int | None = None) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Stripe-Signature": stripe_signature(payload, self.webhook_secret, timestamp=timestamp),
        }

    def charge_for(self, session_id: str, *, amount_refunded_cents: int) -> dict[str, Any]:
        session = self.sessions[session_id]
        return {
            "id": f"ch_{session_id[3:]}",
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": amount_refunded_cents,
            "currency": "usd",
            "payment_intent": session["payment_intent"],
            "refunded": amount_refunded_cents >= session["amount_total"],
            "metadata": {},
        }

    def dispute_for(
        self, session_id: str, *, status: str = "needs_response", amount_cents: int | None = None
    ) -> dict[str, Any]:
        """A Dispute object (a chargeback) on the Session's charge, as Stripe sends it."""
        session = self.sessions[session_id]
        return {
            "id": f"dp_{session_id[3:]}",
            "object": "dispute",
            "amount": session["amount_total"] if amount_cents is None else amount_cents,
            "charge": f"ch_{session_id[3:]}",
            "currency": "usd",
            "payment_intent": session["payment_intent"],
            "reason": "fraudulent",
            "status": status,
            "metadata": {},
        }

    def pay(self, session_id: str, *, payment_status: str = "paid") -> httpx.Response:
        """What Stripe does when the customer pays: update the Session, send the webhook."""
        with self._lock:
            session = self.sessions[session_id]
            session.update(status="complete", payment_status=payment_status)
            payload = self.event("checkout.session.completed", dict(session))
        response = httpx.post(self.webhook_url, content=payload, headers=self.signed(payload))
        self.deliveries.append(response)
        return response

    # --- HTTP ------------------------------------------------------------------
    def _dispatch(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = handler.path.split("?", 1)[0]
        self.requests.append(
            {"method": method, "path": path, "headers": dict(handler.headers), "body": body}
        )
        if path.startswith("/pay/"):
            return self._checkout_page(handler, method, path[len("/pay/") :], body)
        if handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._json(handler, 401, {"error": {"type": "invalid_request_error"}})
        if method == "POST" and path == "/v1/checkout/sessions":
            key = handler.headers.get("Idempotency-Key")
            with self._lock:
                if key and key in self._idempotent:
                    return self._json(handler, 200, self.sessions[self._idempotent[key]])
                session = self._session_create(_unflatten(parse_qsl(body.decode())))
                if key:
                    self._idempotent[key] = session["id"]
            return self._json(handler, 200, session)
        if method == "GET" and path.startswith("/v1/checkout/sessions/"):
            session = self.sessions.get(path.rsplit("/", 1)[1])
            if session is None:
                return self._json(handler, 404, {"error": {"type": "invalid_request_error"}})
            return self._json(handler, 200, session)
        return self._json(handler, 404, {"error": {"type": "invalid_request_error"}})

    def _session_create(self, params: dict[str, Any]) -> dict[str, Any]:
        item = params["line_items"]["0"]
        amount = int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
        session_id = f"cs_test_{secrets.token_hex(12)}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params["mode"],
            "amount_total": amount,
            "currency": item["price_data"]["currency"],
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "payment_intent": f"pi_{secrets.token_hex(12)}",
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "url": f"{self.url}/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return session

    def _checkout_page(self, handler, method: str, session_id: str, body: bytes) -> None:
        session = self.sessions.get(session_id)
        if session is None:
            return self._json(handler, 404, {"error": "no such session"})
        if method == "POST":
            self.pay(session_id)
            target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            handler.send_response(303)
            handler.send_header("Location", target)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return None
        dollars = f"{session['amount_total'] / 100:.2f}"
        page = (
            "<!doctype html><title>Fake Checkout</title><body style='font-family:sans-serif'>"
            f"<h1>Pay ${dollars}</h1><form method=post><button id=pay>Pay</button></form>"
            f"<a id=cancel href='{html.escape(session['cancel_url'])}'>Cancel</a></body>"
        ).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(page)))
        handler.end_headers()
        handler.wfile.write(page)
        return None

    @staticmethod
    def _json(handler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Request-Id", f"req_{secrets.token_hex(6)}")
        handler.end_headers()
        handler.wfile.write(data)
