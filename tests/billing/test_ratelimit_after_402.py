"""A request refused for credit (402) uses up none of the key's per-minute quota (§6)."""

import base64
import io

from PIL import Image

from billing.services import credits_add
from keys.services import api_key_create


def _tiny_png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_402_does_not_use_up_the_rate_limit(org_a, client_for):
    key, secret = api_key_create(organization=org_a, rate_limit_rpm=2)
    client = client_for(secret)
    body = {"image": _tiny_png()}
    for _ in range(3):
        response = client.post("/api/v1/ocr/extract", body, format="json")
        assert response.status_code == 402, response.content
        assert response.json()["error"]["code"] == "insufficient_credits"
        # Its headers say so too: nothing of the two is used up.
        assert response["X-RateLimit-Remaining"] == "2"
        assert response["RateLimit"].startswith('"rpm";r=2;')
    credits_add(organization=org_a, amount_micros=1_000_000, idempotency_key="fund-after-402")
    statuses = [
        client.post("/api/v1/ocr/extract", body, format="json").status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
