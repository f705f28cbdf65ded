"""The rule-based invoice extractor on the Markdown the engine writes for typical layouts.

The texts are the engine's own output for drawn invoices (a header set as a two-column
table, a French invoice); the receipts of the corpus run end to end in
test_dialect_invoice.
"""

from __future__ import annotations

import pytest

from ocr.extraction.rules import invoice_extract_rules, reading_pieces

US_INVOICE = """\
| Northwind Traders LLC | INVOICE |
| --- | --- |
| 1200 Market Street, Suite 5 | Invoice #: INV-20931 |
| Portland, OR 97201 | Date: March 15, 2024 |
| billing@northwind.example | Due: April 14, 2024 |

Bill To:
Contoso Ltd, 42 Harbor Road, Seattle, WA 98101

| Description | Qty | Unit Price | Amount |
| --- | --- | --- | --- |
| Consulting hours | 10 | $120.00 | $1,200.00 |
| Travel expenses | 1 | $310.50 | $310.50 |
|  |  | Subtotal | $1,510.50 |
|  |  | Tax (8%) | $120.84 |
|  |  | Total Due | $1,631.34 |
"""

FRENCH_INVOICE = """\
Boulangerie Martin SARL
12 rue de la Paix, 75002 Paris

FACTURE N° 2024-118
Date : 03/02/2024

| Désignation | Qté | Prix | Total |
| --- | --- | --- | --- |
| Baguette tradition | 40 | 1,20 | 48,00 |
| Croissant | 25 | 1,10 | 27,50 |
|  |  | Total HT | 75,50 € |
|  |  | TVA 5,5 % | 4,15 € |
|  |  | Total TTC | 79,65 € |
"""


def test_a_header_set_as_a_table_gives_the_vendor_and_its_address():
    data = invoice_extract_rules(text=US_INVOICE)

    assert data["vendor"]["name"] == "Northwind Traders LLC"
    assert data["vendor"]["address"] == "1200 Market Street, Suite 5, Portland, OR 97201"
    assert data["bill_to"] == "Contoso Ltd, 42 Harbor Road, Seattle, WA 98101"
    assert (data["invoice_number"], data["invoice_date"], data["due_date"]) == (
        "INV-20931",
        "2024-03-15",
        "2024-04-14",
    )
    assert (data["subtotal"], data["tax"], data["total"], data["currency"]) == (
        "1510.50",
        "120.84",
        "1631.34",
        "USD",
    )
    assert [item["description"] for item in data["line_items"]] == [
        "Consulting hours",
        "Travel expenses",
    ]


def test_the_customer_block_is_never_the_vendor():
    text = "Bill To:\nContoso Ltd\n42 Harbor Road\n\nTotal 12.00"

    assert invoice_extract_rules(text=text)["vendor"]["name"] != "Contoso Ltd"


def test_a_french_invoice_gives_its_number_net_tax_and_total():
    data = invoice_extract_rules(text=FRENCH_INVOICE)

    assert data["vendor"]["name"] == "Boulangerie Martin SARL"
    assert data["vendor"]["address"] == "12 rue de la Paix, 75002 Paris"
    assert data["invoice_number"] == "2024-118"
    assert data["invoice_date"] == "2024-02-03"
    assert (data["subtotal"], data["tax"], data["total"], data["currency"]) == (
        "75.50",
        "4.15",
        "79.65",
        "EUR",
    )
    # the VAT line is not an item
    assert [item["description"] for item in data["line_items"]] == [
        "Baguette tradition",
        "Croissant",
    ]


def test_german_labels_give_number_and_net_amount():
    text = "Bäckerei Schmidt GmbH\nRechnung Nr. R-2024-77\nDatum: 05.03.2024\n"
    text += "Zwischensumme 100,00 €\nMwSt 19 % 19,00 €\nGesamtbetrag Total 119,00 €"

    data = invoice_extract_rules(text=text)

    assert data["invoice_number"] == "R-2024-77"
    assert data["invoice_date"] == "2024-03-05"
    assert (data["subtotal"], data["tax"], data["total"]) == ("100.00", "19.00", "119.00")


def test_table_cells_are_read_column_after_column():
    assert reading_pieces("| A | B |\n| --- | --- |\n| a1 | b1 |\nafter") == [
        "A",
        "a1",
        "B",
        "b1",
        "after",
    ]


def test_a_total_with_letters_misread_for_digits_is_still_the_total():
    # SROIE 011 through the engine as a PDF: '15.00' read as '15.U0'.
    text = "KEDAI ABC ENTERPRISE\n| Item | Amt |\n| --- | --- |\n| TEH | 15.00 |\n"
    text += "| TOTAL | 15.U0 |\nCASH 20.00\nCHANGE 5.00\n"

    assert invoice_extract_rules(text=text)["total"] == "15.00"


def test_words_on_a_total_line_are_not_misread_as_amounts():
    text = "ACME LTD\nTOTAL DUE ON DELIVERY\nSOLD.IS\n"

    assert invoice_extract_rules(text=text)["total"] is None


def test_an_item_line_with_quantity_keeps_its_own_description():
    text = "ACME LTD\nDate: 15/06/2026\nWidget 2 x 10.00 20.00\nTOTAL 20.00\n"

    items = invoice_extract_rules(text=text)["line_items"]

    assert items == [
        {"description": "Widget", "quantity": "2", "unit_price": "10.00", "amount": "20.00"}
    ]


def test_a_quantity_line_takes_its_description_from_above_but_never_a_date():
    text = "ACME LTD\nMineral water 1.5L\nDate: 15/06/2026\n2 x 1.25 2.50\nTOTAL 2.50\n"

    items = invoice_extract_rules(text=text)["line_items"]

    assert [item["description"] for item in items] == ["Mineral water 1.5L"]


@pytest.mark.parametrize(
    ("page", "date"),
    [
        # Day first, as most of the world writes it...
        ("KEDAI ABC\nDate: 03/07/24\nTOTAL RM 5.00", "2024-07-03"),
        # ...month first on a page with a US address, or dollars and no GST/VAT,
        ("Corner Bakery\nPortland, OR 97205\n03/07/24 10:42\nTOTAL 5.00", "2024-03-07"),
        ("Corner Bakery\nDate: 03/07/2024\nTOTAL $5.00", "2024-03-07"),
        # but not dollars beside GST (Malaysian tills print "$"),
        ("KEDAI ABC\nGST ID: 001234\nDate: 03/07/2024\nTOTAL $5.00", "2024-07-03"),
        # and a date that can be read only one way sets the page's order.
        ("Acme Ltd\nDate: 03/07/2024\nDue: 04/14/2024\nTotal 5.00", "2024-03-07"),
        ("Acme Inc\nDate: 03/07/2024\nDue: 14/04/2024\nTotal $5.00", "2024-07-03"),
        # A dotted date is day first everywhere.
        ("Corner Bakery\nPortland, OR 97205\nDate: 03.07.2024\nTOTAL $5.00", "2024-07-03"),
    ],
)
def test_day_or_month_first_is_the_pages_convention(page, date):
    assert invoice_extract_rules(text=page)["invoice_date"] == date


@pytest.mark.parametrize(
    ("line", "date"),
    [
        ("2021-12-0618:57", "2021-12-06"),
        ("12/03/201814:22", "2018-03-12"),
        ("12/03/1814:22", "2018-03-12"),
        ("19/04/2015:44", "2020-04-19"),
    ],
)
def test_a_date_run_into_its_time_is_still_read(line, date):
    assert invoice_extract_rules(text=f"ACME LTD\n{line}\nTOTAL 5.00")["invoice_date"] == date


def test_a_from_label_beside_another_column_takes_the_name_below_it():
    text = "Invoice Invoice #: INV-2024-8995\nFrom: Invoice Date: 2024-08-11\nKopi Corner\n"
    text += "Unit 7, Riverside Park Due Date: 2024-08-25\nSingapore 238859\nTotal S$5.00"

    assert invoice_extract_rules(text=text)["vendor"]["name"] == "Kopi Corner"


@pytest.mark.parametrize(
    ("first_line", "name"),
    [
        ("BRIGHTLINE CONSULTING INC. Invoice", "BRIGHTLINE CONSULTING INC."),
        ("Lucky Plaza Florist   TAX INVOICE", "Lucky Plaza Florist"),
        ("INVOICE Van Dijk Techniek B.V.", "Van Dijk Techniek B.V."),
        ("Welcome to Blue Heron Coffee", "Blue Heron Coffee"),
    ],
)
def test_the_title_or_a_greeting_beside_the_name_is_not_part_of_it(first_line, name):
    text = f"{first_line}\n221 King Street Invoice #: INV-1\nDenver, CO 80202\nTotal 5.00"

    assert invoice_extract_rules(text=text)["vendor"]["name"] == name


def test_a_greeting_line_above_the_name_is_not_the_name():
    text = "WELCOME TO\nGreenleaf Grocers\n42 Harbour Road\nLeeds LS1 4AP\nTOTAL £5.00"

    assert invoice_extract_rules(text=text)["vendor"]["name"] == "Greenleaf Grocers"


def test_a_vendor_without_suffix_above_a_customer_with_one():
    text = "Invoice\nThe Kings Arms\n221 King Street Invoice #: INV-2019-7072\n"
    text += "Bill To: Ship To:\nUmbrella Holdings Ltd\n1200 Market Street\nTotal Due GBP 12.00"

    data = invoice_extract_rules(text=text)

    assert data["vendor"]["name"] == "The Kings Arms"
    assert data["bill_to"] == "Umbrella Holdings Ltd"


def test_an_address_is_never_the_vendors_name():
    text = "TAX INVOICE\n221 King Street\nDenver, CO 80202\nLot 18, Jalan Bukit Bintang\nTotal 5.00"

    assert invoice_extract_rules(text=text)["vendor"]["name"] is None


def test_customer_copy_at_the_top_of_a_receipt_hides_nothing():
    text = "CUSTOMER COPY\nKopi Corner\nSingapore 238859\nTOTAL S$5.00"

    assert invoice_extract_rules(text=text)["vendor"]["name"] == "Kopi Corner"


def test_a_paid_invoices_zero_balance_is_not_its_total():
    text = (
        "ACME LTD\nSubtotal 100.00\nVAT 20.00\nTotal 120.00\nAmount Paid 120.00\nBalance Due 0.00"
    )

    assert invoice_extract_rules(text=text)["total"] == "120.00"
