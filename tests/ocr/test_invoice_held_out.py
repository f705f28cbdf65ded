"""Seed 002's rule-based extractor on receipts and invoices it was never tuned on.

Five documents of tests/fakes/invoices.py (a set no rule was written against: a
Singapore receipt, a scanned Singapore invoice, a US receipt, a scanned euro receipt and
a US invoice as a PDF with a text layer) go through the endpoint and the real engine;
the vendor, the date and the total must come out as a reader would write them; so must
four of tests/fakes/invoices_hard.py (an unlabelled total, a part-paid invoice, a
rounding adjustment, a European label). bench/invoice_rules.py scores many more.
"""

from __future__ import annotations

import functools

import pytest

from tests.fakes.invoices import extracted_fields, field_matches, held_out_documents
from tests.fakes.invoices_hard import hard_documents
from tests.ocr.dialect_support import b64

pytestmark = pytest.mark.django_db

URL = "/api/ocr-structured-v4"
SEED, COUNT = 17, 5


@functools.cache
def documents():
    return {
        document.name: document for document in held_out_documents(seed=SEED, count=COUNT, pdfs=1)
    }


NAMES = [f"{SEED}-{index:02d}" for index in range(COUNT)]
# tests/fakes/invoices_hard.py draws its cases in turn: an unlabelled total, a part-paid
# invoice (a PDF), a rounding adjustment and a European label.
HARD_SEED, HARD_CASES = 117, (0, 2, 4, 10)


@functools.cache
def hard():
    documents = hard_documents(seed=HARD_SEED, count=max(HARD_CASES) + 1)
    return {documents[index].name: documents[index] for index in HARD_CASES}


@pytest.mark.parametrize("prefix", NAMES)
def test_vendor_date_and_total_of_an_unseen_document(client, prefix):
    (document,) = [d for name, d in documents().items() if name.startswith(prefix)]
    _assert_read_as_a_reader_would(client, document)


@pytest.mark.parametrize("prefix", [f"{HARD_SEED}-{index:02d}" for index in HARD_CASES])
def test_vendor_date_and_total_of_a_hard_case(client, prefix):
    (document,) = [d for name, d in hard().items() if name.startswith(prefix)]
    _assert_read_as_a_reader_would(client, document)


def _assert_read_as_a_reader_would(client, document):
    if document.media_type == "application/pdf":
        body = {"pdfBase64": b64(document.data)}
    else:
        body = {"imageBase64": b64(document.data), "mimeType": document.media_type}

    response = client.post(URL, body, format="json")

    assert response.status_code == 200, response.content
    got = extracted_fields(response.json()["data"])
    wrong = {
        field: (got[field], want)
        for field, want in document.truth.items()
        if not field_matches(field, got[field], want)
    }
    assert not wrong, (document.name, wrong)
    assert got["total"] == document.truth["total"]  # a decimal string, as DESIGN.md says
