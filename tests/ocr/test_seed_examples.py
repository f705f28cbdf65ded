"""The seeds' own curl commands (scripts/seed_examples.sh) against a live server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from billing.services import credits_add
from keys.services import api_key_create
from tests.ocr.dialect_support import alias_model, assert_phototest_text, phototest_png
from tests.ocr.documents import make_pdf

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "seed_examples.sh"


def sections(output: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    name = None
    for line in output.splitlines():
        if line.startswith("### "):
            name = line[4:].strip()
        elif line.strip() and name:
            found[name] = json.loads(line)
    return found


@pytest.mark.skipif(
    not shutil.which("curl") or not shutil.which("base64"),
    reason="curl and base64 are needed to run the seeds' examples",
)
def test_the_seeds_curl_examples_work_unchanged(
    live_server, local_provider, org_a, tmp_path, file_server
):
    credits_add(organization=org_a, amount_micros=5_000_000, idempotency_key="seed-examples")
    secret = api_key_create(organization=org_a, name="seeds")[1]
    alias_model("google/gemini-2.0-flash-001")
    alias_model("alpha-digit-max")
    png = phototest_png()
    scan = make_pdf([["Scanned contract, page one"], ["Signed at the bottom of page two"]])
    (tmp_path / "receipt.png").write_bytes(png)
    (tmp_path / "document.png").write_bytes(png)
    (tmp_path / "scan.pdf").write_bytes(scan)
    # The seeds' example.com URLs, served here (any image type is sniffed, not named).
    for name in ("invoice.jpg", "german-invoice.jpg", "receipt.jpg"):
        file_server.files[f"/{name}"] = ("image/png", png)
    file_server.files["/scan.pdf"] = ("application/pdf", scan)
    file_server.files["/invoice.pdf"] = (
        "application/pdf",
        make_pdf([["ACME Supplies Ltd", "Invoice No: INV-7", "Date: 2024-03-05", "Total: 30.60"]]),
    )

    run = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=tmp_path,
        env={
            **os.environ,
            "BASE_URL": live_server.url,
            "API_KEY": secret,
            "FILES_URL": file_server.url,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )

    out = sections(run.stdout)
    for name in ("000-json", "000-multipart"):
        assert out[name]["format"] == "markdown", out[name]
        assert out[name]["model"] == "local/rapidocr"
        assert_phototest_text(out[name]["text"])
    docsrouter = out["001-base64"]
    assert docsrouter["object"] == "ocr.result", docsrouter
    assert docsrouter["model"] == "google/gemini-2.0-flash-001"
    assert_phototest_text(docsrouter["result"]["text"])
    assert docsrouter["usage"]["total_cost_cents"] > 0
    for name in ("004-json", "004-multipart", "004-url"):
        body = out[name]
        assert body["model"] == "alpha-digit-max", body
        assert [p["index"] for p in body["pages"]] == [0, 1]
        assert body["usage_info"] == {"pages_processed": 2}
        assert "Signed at the bottom of page two" in body["text"]
    for name in ("001-url", "001-language", "001-json"):
        body = out[name]
        assert body["object"] == "ocr.result", body
        assert body["usage"]["pages_processed"] == 1
    assert isinstance(out["001-url"]["result"]["tables"], list)
    assert json.loads(out["001-json"]["result"]["text"])[0]["page"] == 1
    for name in ("002-image", "002-pdf-base64"):
        assert set(out[name]) == {"data", "text", "model", "annotations", "usage"}, out[name]
        assert "quick brown dog" in out[name]["text"] or "page one" in out[name]["text"]
    for name in ("002-pdf-url", "002-complete"):
        assert out[name]["data"]["total"] == "30.60", out[name]
        assert out[name]["data"]["invoice_number"] == "INV-7"
    upload, processed = out["003-upload"], out["003-process"]
    assert upload["key"].startswith(f"ocr/{org_a.public_id}/")
    assert processed["key"] == upload["key"]
    assert_phototest_text(processed["text"])
    assert isinstance(processed["wordCount"], int) and processed["wordCount"] > 40
    assert processed["language"] == "en"
