"""Black-box acceptance probes against a running server, as an outside checker drives it.

    .venv/bin/python scripts/blackbox.py --base http://127.0.0.1:8000 [--n 10]

Run from the project folder with the server's environment (the script calls
`manage.py create_tenant`, `create_key`, `add_credits` and `check_ledger` on the same
database). It makes a fresh tenant, then checks, printing one PASS/FAIL line each:

- credit for exactly N one-page requests, from `GET /api/v1/models`' listed price, and
  4N requests at once across every dialect: N answered 200, the rest 402, no other
  status, the balance 0 and never negative, `check_ledger` clean;
- a key of 5 requests a minute hit by 30 at once: 5 pass, 25 get 429;
- hostile inputs and SSRF URLs on every endpoint: each a 4xx with a stable `code`, and
  the balance unchanged.
"""

from __future__ import annotations

import argparse
import base64
import collections
import io
import secrets
import subprocess
import sys
import threading
import zipfile
from decimal import Decimal
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "tesseract" / "phototest.tif"
failures: list[str] = []


def check(label: str, ok: bool, detail: object = "") -> None:
    print(f"{'PASS' if ok else 'FAIL'} {label} {detail}", flush=True)
    if not ok:
        failures.append(label)


def manage(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], capture_output=True, text=True
    )
    if done.returncode and args[0] != "check_ledger":
        raise SystemExit(f"manage.py {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip() if not done.returncode else "FAILED: " + done.stdout


def page_png() -> bytes:
    out = io.BytesIO()
    Image.open(CORPUS).convert("L").save(out, "PNG")
    return out.getvalue()


def dialect_calls(base: str, key: str, png: bytes):
    """One one-page OCR request per dialect (and both transports where there are two)."""
    b64 = base64.b64encode(png).decode()
    data_url = "data:image/png;base64," + b64
    bearer = {"Authorization": f"Bearer {key}"}
    upload = httpx.post(
        f"{base}/api/upload", headers={"X-API-Key": key}, files={"file": ("p.png", png)}
    )
    file_key = upload.json()["key"]
    return [
        ("POST", "/api/v1/ocr/extract", {"json": {"image": data_url}}, bearer),
        ("POST", "/api/v1/ocr/extract", {"files": {"image": ("p.png", png)}}, bearer),
        ("POST", "/v1/ocr", {"json": {"base64": b64}}, bearer),
        (
            "POST",
            "/v1/ocr",
            {
                "json": {
                    "model": "mistral-ocr-latest",
                    "document": {"type": "image_url", "image_url": data_url},
                }
            },
            bearer,
        ),
        ("POST", "/api/ocr-structured-v4", {"json": {"imageBase64": b64}}, bearer),
        ("POST", "/api/ocr/process", {"json": {"key": file_key}}, {"X-API-Key": key}),
        ("POST", "/ocr", {"json": {"image_base64": b64}}, bearer),
        ("POST", "/ocr", {"files": {"file": ("p.png", png)}}, bearer),
    ]


def fire(base: str, calls: list, count: int) -> collections.Counter:
    """`count` requests released at once, cycling through `calls`; their statuses."""
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(count)

    def one(i: int) -> None:
        method, path, kwargs, headers = calls[i % len(calls)]
        barrier.wait()
        try:
            status = httpx.request(
                method, base + path, headers=headers, timeout=300, **kwargs
            ).status_code
        except httpx.HTTPError as error:
            status = type(error).__name__
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def credits(base: str, management_key: str) -> dict:
    headers = {"Authorization": f"Bearer {management_key}"}
    return httpx.get(f"{base}/api/v1/credits", headers=headers).json()["data"]


def check_credit_race(base: str, slug: str, management_key: str, png: bytes, n: int) -> None:
    models = httpx.get(f"{base}/api/v1/models").json()["data"]
    price = Decimal(
        next(m for m in models if m["id"] == "local/rapidocr")["pricing"]["per_page_usd"]
    )
    manage("add_credits", slug, str(price * n))
    key = manage("create_key", slug, "--name", "race")
    statuses = fire(base, dialect_calls(base, key, png), 4 * n)
    check(
        f"credit for {n} at {price}: {n} x 200, {3 * n} x 402",
        statuses == {200: n, 402: 3 * n},
        dict(statuses),
    )
    balance = credits(base, management_key)
    check(
        "balance spent to zero, nothing held",
        balance["balance"] == "0.000000" and balance["reserved"] == "0.000000",
        balance,
    )
    check("check_ledger", manage("check_ledger") == "ledger ok")


def check_rate_limit(base: str, slug: str, png: bytes) -> None:
    manage("add_credits", slug, "1")
    key = manage("create_key", slug, "--rpm", "5", "--name", "rpm5")
    call = (
        "POST",
        "/api/v1/ocr/extract",
        {"files": {"image": ("p.png", png)}},
        {"Authorization": f"Bearer {key}"},
    )
    statuses = fire(base, [call], 30)
    check("rpm 5, 30 at once: 5 x 200, 25 x 429", statuses == {200: 5, 429: 25}, dict(statuses))


def hostile_documents(png: bytes) -> dict[str, bytes]:
    bomb = io.BytesIO()
    Image.new("1", (30000, 30000), 1).save(bomb, "PNG")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.txt", "hello")
    return {
        "decompression bomb": bomb.getvalue(),
        "zip named .pdf": archive.getvalue(),
        "truncated png": png[: len(png) // 2],
        "plain text": b"hello world\n",
        "heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
    }


SSRF_URLS = [
    "http://127.0.0.1:8000/healthz",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:127.0.0.1]/",
    "http://2130706433/",
    "http://10.0.0.1/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "not a url",
]


def error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error.get("code")
    return body.get("code") or (body.get("detail") or [{}])[0].get("type")


def check_hostile(base: str, slug: str, management_key: str, png: bytes) -> None:
    manage("add_credits", slug, "1")
    key = manage("create_key", slug, "--name", "hostile")
    bearer = {"Authorization": f"Bearer {key}"}
    requests = []
    for name, data in hostile_documents(png).items():
        b64 = base64.b64encode(data).decode()
        requests += [
            (f"000 {name}", "/api/v1/ocr/extract", {"json": {"image": b64}}),
            (f"001 {name}", "/v1/ocr", {"json": {"base64": b64}}),
            (f"002 {name}", "/api/ocr-structured-v4", {"json": {"imageBase64": b64}}),
            (f"004 {name}", "/ocr", {"files": {"file": ("a.pdf", data)}}),
        ]
    for url in SSRF_URLS:
        requests += [
            (f"001 {url}", "/v1/ocr", {"json": {"url": url}}),
            (
                f"mistral {url}",
                "/v1/ocr",
                {"json": {"document": {"type": "document_url", "document_url": url}}},
            ),
            (f"002 {url}", "/api/ocr-structured-v4", {"json": {"pdfUrl": url}}),
            (f"004 {url}", "/ocr", {"json": {"document_url": url}}),
        ]
    requests += [
        ("000 empty body", "/api/v1/ocr/extract", {"content": b""}),
        (
            "004 not JSON",
            "/ocr",
            {"content": b"{", "headers": {"Content-Type": "application/json"}},
        ),
    ]
    before = credits(base, management_key)["balance"]
    for label, path, kwargs in requests:
        headers = {**bearer, **kwargs.pop("headers", {})}
        response = httpx.post(base + path, headers=headers, timeout=120, **kwargs)
        code = error_code(response)
        check(
            label,
            400 <= response.status_code < 500 and bool(code),
            f"{response.status_code} {code}",
        )
    after = credits(base, management_key)["balance"]
    check("hostile inputs charged nothing", before == after, f"{before} -> {after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    slug = "blackbox-" + secrets.token_hex(4)
    manage("create_tenant", slug, "--owner-email", f"{slug}@example.com")
    management_key = manage("create_key", slug, "--kind", "management")
    png = page_png()
    check_credit_race(args.base, slug, management_key, png, args.n)
    check_rate_limit(args.base, slug, png)
    check_hostile(args.base, slug, management_key, png)
    print(f"{len(failures)} failed" if failures else "all passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
