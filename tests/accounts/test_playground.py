"""The playground runs a real OCR request through the pipeline and charges it."""

from __future__ import annotations

from billing.models import CreditAccount, UsageRecord
from keys.models import ApiKey


def test_it_ocrs_a_real_page_and_charges_it(browser, owner_a, funded_org_a, corpus):
    client = browser(owner_a)
    before = CreditAccount.objects.get(organization=funded_org_a).balance_micros

    with open(corpus / "tesseract" / "phototest.tif", "rb") as upload:
        response = client.post("/dashboard/playground/", {"file": upload, "model": ""})

    assert response.status_code == 200, response.content[:500]
    outcome = response.context["outcome"]
    assert "quick brown dog" in response.context["markdown"]
    assert b"quick brown dog" in response.content  # rendered and raw
    record = UsageRecord.objects.get(request_id=outcome.request_id)
    assert record.organization == funded_org_a
    assert record.dialect == "playground"
    assert record.status == "succeeded"
    assert record.total_micros == outcome.price.total_micros > 0
    after = CreditAccount.objects.get(organization=funded_org_a).balance_micros
    assert before - after == record.total_micros
    key = ApiKey.objects.get(organization=funded_org_a, name="playground")
    assert record.api_key == key
    # The next run reuses the same key.
    with open(corpus / "tesseract" / "phototest.tif", "rb") as upload:
        client.post("/dashboard/playground/", {"file": upload})
    assert ApiKey.objects.filter(organization=funded_org_a, name="playground").count() == 1


def test_without_credits_it_shows_402_and_charges_nothing(browser, owner_a, org_a, corpus):
    with open(corpus / "tesseract" / "phototest.tif", "rb") as upload:
        response = browser(owner_a).post("/dashboard/playground/", {"file": upload})

    assert response.status_code == 402
    assert b"insufficient_credits" in response.content
    assert CreditAccount.objects.get(organization=org_a).balance_micros == 0


def test_a_file_that_is_no_document_is_a_clear_error(browser, owner_a, funded_org_a):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("notes.png", b"just some text, not an image", "image/png")

    response = browser(owner_a).post("/dashboard/playground/", {"file": upload})

    assert response.status_code == 415
    assert b"unsupported_media_type" in response.content
    assert not UsageRecord.objects.filter(status="succeeded").exists()


def test_the_preview_escapes_markup():
    from accounts.markdown import markdown_to_html

    html = markdown_to_html(
        "# Title\n\n<script>alert(1)</script> **bold**\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )

    assert "<h1>Title</h1>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<strong>bold</strong>" in html
    assert "<td>1</td><td>2</td>" in html
