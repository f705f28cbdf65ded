"""A damaged document is the client's error through the API: a 4xx, never a 5xx, no charge."""

import base64
import io

import pytest
from PIL import Image

from billing.models import CreditAccount


def _png(size=(200, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(size=(200, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "white").save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        _png()[:60],
        _jpeg()[:200],
        _png()[:33] + b"\x00" * 200,
        b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        b"GIF89a" + b"\x00" * 20,
    ],
    ids=["png-truncated", "jpeg-truncated", "png-garbage", "pdf-empty", "gif-garbage"],
)
def test_a_damaged_file_is_a_clean_4xx_and_costs_nothing(funded_org_a, api_key, client_for, data):
    before = CreditAccount.objects.get(organization=funded_org_a)
    response = client_for(api_key[1]).post(
        "/api/v1/ocr/extract", {"image": base64.b64encode(data).decode()}, format="json"
    )
    assert 400 <= response.status_code < 500, response.content
    after = CreditAccount.objects.get(organization=funded_org_a)
    assert (after.balance_micros, after.reserved_micros) == (
        before.balance_micros,
        before.reserved_micros,
    )
