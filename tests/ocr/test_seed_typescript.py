"""Seed 000's own TypeScript example, run by Node against a live server.

The example is read from the seed file at test time, its type annotations are stripped
(what `tsc` emits for it), and only the host changes. Node 20 has `fetch`, `FormData`,
`Blob` and `btoa` built in, so nothing is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from billing.services import credits_add
from keys.services import api_key_create
from tests.ocr.dialect_support import assert_phototest_text, phototest_png

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
SEED_HOST = "https://anyrouter.dev"

DRIVER = """
const seen = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const response = await realFetch(...args);
  seen.push({status: response.status, body: await response.clone().json()});
  return response;
};
(async () => {
  const { readFileSync } = await import("node:fs");
  const bytes = readFileSync(process.argv[2]);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const text = await extractText(buffer);
  const fromFile = await extractTextFromFile(process.argv[2]);
  console.log(JSON.stringify({text, fromFile, seen}));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def seed_typescript() -> str:
    matches = list(SEEDS.glob("000_*.txt"))
    if not matches:
        pytest.skip(f"seed 000 not found in {SEEDS}")
    found = re.search(r"```typescript\n(.*?)```", matches[0].read_text(), re.S)
    assert found, "seed 000 has no TypeScript example"
    return found.group(1)


def strip_types(source: str) -> str:
    """Type annotations out, the way tsc emits this example: parameter and return types."""
    source = re.sub(r"\):\s*Promise<[^>]*>\s*\{", ") {", source)
    return re.sub(r"\((\w+):\s*[A-Za-z][\w<>\[\]]*\)", r"(\1)", source)


@pytest.mark.skipif(not shutil.which("node"), reason="Node.js is needed to run the example")
def test_the_seed_typescript_example_works_against_this_server(
    live_server, local_provider, org_a, tmp_path
):
    credits_add(organization=org_a, amount_micros=5_000_000, idempotency_key="seed-ts")
    secret = api_key_create(organization=org_a, name="seed ts")[1]
    script = strip_types(seed_typescript()).replace(SEED_HOST, live_server.url) + DRIVER
    (tmp_path / "example.mjs").write_text(script)
    image = tmp_path / "document.png"
    image.write_bytes(phototest_png())

    run = subprocess.run(
        ["node", str(tmp_path / "example.mjs"), str(image)],
        env={**os.environ, "ANYROUTER_API_KEY": secret},
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    # The JSON path (base64 data URL) returns the page's text.
    assert out["seen"][0]["status"] == 200
    assert out["seen"][0]["body"]["model"] == "local/rapidocr"
    assert_phototest_text(out["text"])
    # The multipart path as printed puts a ReadStream object in a Blob, which Node turns
    # into the 15 bytes "[object Object]": no server can read that. Ours says so clearly
    # and charges nothing, rather than failing with a 500.
    refused = out["seen"][1]
    assert 400 <= refused["status"] < 500, refused
    assert refused["body"]["error"]["code"] == "ocr_extraction_error"  # the seed's code
    assert refused["body"]["error"]["message"].startswith("Unsupported file type")
    assert out.get("fromFile") is None  # result.text of an error body: undefined
