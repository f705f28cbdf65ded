"""Receipts and invoices whose total or vendor is hard to read, with their truth.

tests/fakes/invoices.py draws the common layouts; this draws, on the same page model,
the cases it leaves out, one case a document in turn (so every set has each of them):

- `unlabelled`: the total is an amount alone under a rule line;
- `tip`: a restaurant slip, "Subtotal / Tax / Total / Tip / Total" (or tip left blank);
- `part_paid`: an invoice "Total / Amount Paid / Balance Due" (the truth is the invoice
  total: what the invoice is for, not what is still owed; docs/decisions.md);
- `large`: the total in a font twice the body's (the engine may split or merge it);
- `rounding`: Malaysian 5-sen rounding, with or without a "Rounded Total" line (the
  truth is the rounded figure, what was paid, as SROIE labels it);
- `gst`: "TOTAL EXCL GST" and "TOTAL INCL. GST 6%" both printed;
- `glued`: currency letters glued to the amount ("RM12.50", "12.50RM", "MYR 1,234.00"; dollars glued as
  "USD 1,234.00" are in tests/fakes/invoices.py already);
- `discount`: a negative discount as "-2.00", "(2.00)" or "2.00-";
- `cash`: a payment line bigger than the total ("Total Paid", "Cash Received") and change;
- `count`: the item count on the total's line ("Total 3 items 45.60");
- `european`: German, French, Spanish, Italian and Dutch total labels ("Summe",
  "Total TTC", "Importe total", "Totale", "Totaal").

Independently, the vendor's name may have a tagline above it ("A member of Hartwell
Group") or a copy marker first ("CUSTOMER COPY", "TAX INVOICE", "*** REPRINT ***").
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal

from tests.fakes.invoice_conventions import CENT, CONVENTIONS, STREETS, Convention, date_text, money
from tests.fakes.invoice_render import FAMILIES, Box, Run
from tests.fakes.invoices import Amounts, Document, Page, document_render, item_amounts

TAGLINES = (
    "A member of Hartwell Group",
    "Part of the Lindqvist family of stores",
    "Since 1987",
    "Est. 1952",
    "A division of Meridian Holdings",
)
COPY_MARKS = ("CUSTOMER COPY", "MERCHANT COPY", "TAX INVOICE", "RECEIPT", "*** REPRINT ***")
# language: (net label, tax label, total labels)
EUROPEAN = {
    "de": ("Zwischensumme", "MwSt 19%", ("Summe", "Gesamt", "Gesamtbetrag", "Zu zahlen")),
    "fr": ("Total HT", "TVA 20%", ("Total TTC", "Montant TTC", "Net à payer")),
    "es": ("Base imponible", "IVA 21%", ("Importe total", "Total a pagar")),
    "it": ("Imponibile", "IVA 22%", ("Totale", "Totale da pagare")),
    "nl": ("Subtotaal", "BTW 21%", ("Totaal", "Te betalen")),
}


class _Slip:
    """One receipt being drawn: the page, its columns and how it prints money."""

    def __init__(self, rng: random.Random, c: Convention, amounts: Amounts, style: str):
        width = rng.choice((440, 480, 520))
        self.page = Page(width, rng.choice(list(FAMILIES)), rng.choice((17, 18, 20)))
        self.rng, self.c, self.amounts, self.style = rng, c, amounts, style
        self.left, self.right, self.mid = 24, width - 24, width / 2

    def row(self, label: str, value: str, **kwargs) -> None:
        self.page.line((self.left, label, "l"), (self.right, value, "r"), **kwargs)

    def amount(self, label: str, value: Decimal, **kwargs) -> None:
        shown = f"{value:,.2f}RM" if self.style == "suffix-RM" else money(value, self.style)
        self.row(label, shown, **kwargs)

    def payment(self, total: Decimal) -> None:
        if self.rng.random() < 0.6:
            cash = Decimal(self.rng.choice((20, 50, 100, 200)))
            while cash < total:
                cash *= 2
            self.amount(self.rng.choice(("Cash", "CASH")), cash)
            self.amount("Change", cash - total)
        else:
            self.amount("VISA **** 4821", total)


def _head(slip: _Slip, vendor: str, day: dt.date) -> None:
    page, rng, c, mid = slip.page, slip.rng, slip.c, slip.mid
    if rng.random() < 0.25:
        page.boxes.append(Box(mid - 30, page.y, mid + 30, page.y + 50, "rect"))
        page.gap(4)
    mark = rng.random()
    if mark < 0.3:
        page.line((mid, rng.choice(COPY_MARKS), "c"))
    if 0.2 < mark < 0.55:
        page.line((mid, rng.choice(TAGLINES), "c"), size=page.size - 3)
    page.line((mid, vendor, "c"), size=page.size + 6, bold=True)
    page.line((mid, rng.choice(STREETS), "c"))
    page.line((mid, rng.choice(c.cities), "c"))
    page.line((mid, c.phone, "c"))
    time = f"{rng.randint(8, 21):02d}:{rng.randint(0, 59):02d}"
    page.line((slip.left, f"Date: {date_text(day, rng.choice(c.dates))}  {time}", "l"))
    page.line((slip.left, f"Receipt #: {rng.randint(1000, 99999)}", "l"))
    page.rule(slip.left, slip.right)
    for name, quantity, unit in slip.amounts.items:
        label = f"{quantity} x {name}" if quantity > 1 else name
        slip.row(label, money(quantity * unit, "bare"))


def _taxes(slip: _Slip, discount_style: str | None = None) -> None:
    slip.amount("Subtotal", slip.amounts.subtotal)
    if slip.amounts.discount:
        value = money(slip.amounts.discount, "bare")
        shown = {"minus": f"-{value}", "brackets": f"({value})", "trailing": f"{value}-"}
        slip.row("Discount 10%", shown[discount_style or "minus"])
    slip.amount(slip.rng.choice(slip.c.tax), slip.amounts.tax)


def _unlabelled(slip: _Slip) -> Decimal:
    total = slip.amounts.total
    slip.page.rule(slip.left, slip.right)
    if slip.rng.random() < 0.5:
        _taxes(slip)
        slip.page.rule(slip.left, slip.right)
    slip.page.line((slip.right, money(total, slip.style), "r"), bold=True)
    slip.page.rule(slip.left, slip.right)
    slip.payment(total)
    return total


def _tip(slip: _Slip) -> Decimal:
    slip.page.rule(slip.left, slip.right)
    _taxes(slip)
    total = slip.amounts.total
    slip.amount("Total", total)
    slip.page.gap()
    if slip.rng.random() < 0.4:  # the customer writes the tip in later
        slip.row("Tip:", "__________")
        slip.row("Total:", "__________")
        slip.page.gap()
        slip.page.line((slip.left, "Signature: ____________________", "l"))
        return total
    tip = (total * Decimal(slip.rng.choice(("0.15", "0.18", "0.20")))).quantize(CENT)
    slip.amount(slip.rng.choice(("Tip", "Gratuity", "TIP")), tip)
    slip.amount(slip.rng.choice(("Total", "TOTAL", "Grand Total")), total + tip, bold=True)
    slip.page.line((slip.left, "VISA **** 4821  APPROVED", "l"))
    return total + tip


def _large(slip: _Slip) -> Decimal:
    slip.page.rule(slip.left, slip.right)
    _taxes(slip)
    total, page, big = slip.amounts.total, slip.page, slip.page.size * 2
    shown = money(total, slip.style)
    how = slip.rng.choice(("amount", "both", "stacked", "centred"))
    if how == "amount":  # the label in the body's size beside a big amount
        page.runs.append(Run(slip.left, page.y + big * 0.4, "TOTAL", page.size))
        page.line((slip.right, shown, "r"), size=big, bold=True)
    elif how == "both":
        slip.row("TOTAL", shown, size=big, bold=True)
    elif how == "stacked":  # the label and the amount one above the other, centred
        page.line((slip.mid, "TOTAL", "c"), size=big, bold=True)
        page.line((slip.mid, shown, "c"), size=big, bold=True)
    else:
        page.line((slip.mid, f"TOTAL {shown}", "c"), size=big, bold=True)
    slip.payment(total)
    return total


def _rounding(slip: _Slip) -> Decimal:
    # a total that 5-sen rounding changes (the tax takes the difference)
    exact = slip.amounts.total
    exact += Decimal(slip.rng.choice(("0.01", "0.02", "0.03", "0.04"))) - exact % Decimal("0.05")
    slip.amounts.tax += exact - slip.amounts.total
    slip.page.rule(slip.left, slip.right)
    _taxes(slip)
    rounded = ((exact * 20).quantize(Decimal(1), ROUND_HALF_UP) / 20).quantize(CENT)
    adjustment = money(abs(rounded - exact), "bare")
    if rounded < exact:
        adjustment = slip.rng.choice((f"-{adjustment}", f"({adjustment})", f"{adjustment}-"))
    slip.amount(slip.rng.choice(("Total Incl. GST", "TOTAL", "Total Amount")), exact)
    slip.row(slip.rng.choice(("Rounding Adj", "ROUNDING ADJ", "Rounding Adjustment")), adjustment)
    if slip.rng.random() < 0.5:
        slip.amount(slip.rng.choice(("Rounded Total", "Total Payable", "NETT TOTAL")), rounded)
    slip.payment(rounded)
    return rounded


def _gst(slip: _Slip) -> Decimal:
    slip.page.rule(slip.left, slip.right)
    net, tax = slip.amounts.subtotal - slip.amounts.discount, slip.amounts.tax
    total = net + tax
    rows = [
        ("TOTAL EXCL GST", net),
        ("GST 6%", tax),
        (slip.rng.choice(("TOTAL INCL. GST 6%", "TOTAL INCL GST", "Total Inclusive GST")), total),
    ]
    if slip.rng.random() < 0.4:  # the payable total first, its breakdown after
        rows = [rows[2], rows[0], rows[1]]
    for label, value in rows:
        slip.amount(label, value)
    slip.payment(total)
    return total


def _glued(slip: _Slip) -> Decimal:
    slip.style = slip.rng.choice(("RM", "suffix-RM", "MYR "))
    slip.page.rule(slip.left, slip.right)
    _taxes(slip)
    total = slip.amounts.total
    slip.amount("TOTAL", total, bold=True)
    slip.payment(total)
    return total


def _discount(slip: _Slip) -> Decimal:
    if not slip.amounts.discount:
        slip.amounts.discount = (slip.amounts.subtotal * Decimal("0.1")).quantize(CENT)
        slip.amounts.tax = (
            (slip.amounts.subtotal - slip.amounts.discount) * Decimal("0.08")
        ).quantize(CENT, ROUND_HALF_UP)
        slip.amounts.total = slip.amounts.subtotal - slip.amounts.discount + slip.amounts.tax
    slip.page.rule(slip.left, slip.right)
    _taxes(slip, slip.rng.choice(("minus", "brackets", "trailing")))
    total = slip.amounts.total
    slip.amount(slip.rng.choice(("TOTAL", "Total", "Amount Due")), total, bold=True)
    slip.payment(total)
    return total


def _cash(slip: _Slip) -> Decimal:
    slip.page.rule(slip.left, slip.right)
    _taxes(slip)
    total = slip.amounts.total
    slip.amount(slip.rng.choice(("TOTAL", "Total Sales", "Total")), total, bold=True)
    cash = Decimal(slip.rng.choice((50, 100, 200)))
    while cash < total:
        cash *= 2
    label = slip.rng.choice(("Total Paid", "Cash Received", "TOTAL TENDERED", "Amount Received"))
    slip.amount(label, cash)
    slip.amount(slip.rng.choice(("Change", "Change Due", "CHANGE")), cash - total)
    return total


def _count(slip: _Slip) -> Decimal:
    slip.page.rule(slip.left, slip.right)
    _taxes(slip)
    total = slip.amounts.total
    items = sum(quantity for _, quantity, _ in slip.amounts.items)
    shown = money(total, slip.style)
    label = slip.rng.choice(
        (
            f"Total {items} items",
            f"TOTAL ({items} ITEMS)",
            f"{items} Item(s) Total",
            f"Total Items: {items} Total:",
            f"Total Qty {items} Total Amt",
        )
    )
    slip.row(label, shown, bold=True)
    slip.payment(total)
    return total


def _european(slip: _Slip) -> Decimal:
    net_label, tax_label, totals = EUROPEAN[slip.rng.choice(list(EUROPEAN))]
    slip.style = slip.rng.choice(("suffix-€", "€eu", "suffix-EUR", "€"))
    slip.page.rule(slip.left, slip.right)
    net = slip.amounts.subtotal - slip.amounts.discount
    slip.amount(net_label, net)
    slip.amount(tax_label, slip.amounts.tax)
    total = net + slip.amounts.tax
    slip.amount(slip.rng.choice(totals), total, bold=True)
    slip.payment(total)
    return total


def _part_paid(rng: random.Random, c: Convention, vendor: str, day: dt.date):
    """An invoice with a deposit paid: the total is the invoice's, not the balance."""
    width = rng.choice((900, 960))
    page = Page(width, rng.choice(("sans", "serif", "condensed")), rng.choice((17, 18)))
    left, right, label_x = 48, width - 48, width * 0.62
    style = rng.choice([s for s in c.money if not s.startswith("bare")] or c.money)
    amounts = item_amounts(rng, invoice=True)
    page.line((left, vendor, "l"), (right, "INVOICE", "r"), size=24, bold=True)
    page.line(
        (left, rng.choice(STREETS), "l"), (label_x, f"Invoice #: INV-{rng.randint(100, 9999)}", "l")
    )
    page.line(
        (left, rng.choice(c.cities), "l"),
        (label_x, f"Date: {date_text(day, rng.choice(c.dates))}", "l"),
    )
    page.gap()
    page.line((left, "Bill To:", "l"), bold=True)
    page.line((left, "Contoso Ltd", "l"))
    page.gap()
    for name, quantity, unit in amounts.items:
        page.line(
            (left, name, "l"),
            (width * 0.55, str(quantity), "r"),
            (right, money(quantity * unit, style), "r"),
        )
    page.gap()
    page.line((label_x, "Subtotal", "l"), (right, money(amounts.subtotal, style), "r"))
    page.line((label_x, rng.choice(c.tax), "l"), (right, money(amounts.tax, style), "r"))
    total = amounts.subtotal + amounts.tax
    paid = (total * Decimal(rng.choice(("0.25", "0.3", "0.5")))).quantize(CENT)
    page.line(
        (label_x, rng.choice(("Total", "Invoice Total", "TOTAL")), "l"),
        (right, money(total, style), "r"),
        bold=True,
    )
    paid_label = rng.choice(("Amount Paid", "Less: Deposit", "Payment Received", "Paid to date"))
    page.line((label_x, paid_label, "l"), (right, money(-paid, style), "r"))
    page.line(
        (label_x, rng.choice(("Balance Due", "Amount Due", "Balance")), "l"),
        (right, money(total - paid, style), "r"),
        bold=True,
    )
    return page.layout(), total


CASES = {
    "unlabelled": _unlabelled,
    "tip": _tip,
    "part_paid": None,  # an invoice, drawn by `_part_paid`
    "large": _large,
    "rounding": _rounding,
    "gst": _gst,
    "glued": _glued,
    "discount": _discount,
    "cash": _cash,
    "count": _count,
    "european": _european,
}
_CONVENTION = {c.name: c for c in CONVENTIONS}
_CASE_CONVENTIONS = {"tip": "us", "rounding": "my", "gst": "my", "european": "eu", "glued": "my"}


def hard_documents(*, seed: int = 101, count: int = 44) -> list[Document]:
    """`count` documents, the cases in turn; a third of the images scanned, the
    part_paid invoices as PDFs with a text layer every other time."""
    rng = random.Random(seed)
    documents = []
    names = list(CASES)
    for index in range(count):
        case = names[index % len(names)]
        convention = _CONVENTION.get(_CASE_CONVENTIONS.get(case, "")) or rng.choice(CONVENTIONS)
        vendor = rng.choice(convention.vendors)
        day = dt.date(rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28))
        if case == "part_paid":
            layout, total = _part_paid(rng, convention, vendor, day)
        else:
            style = rng.choice([s for s in convention.money if s != "€eu"] or convention.money)
            slip = _Slip(rng, convention, item_amounts(rng, invoice=False), style)
            _head(slip, vendor, day)
            total = CASES[case](slip)
            slip.page.gap()
            slip.page.line((slip.mid, "Thank you! Please come again", "c"))
            layout = slip.page.layout()
        name = f"{seed}-{index:02d}-{convention.name}-{case}"
        as_pdf = case == "part_paid" and index // len(names) % 2 == 0
        documents.append(
            document_render(
                name,
                layout,
                rng,
                as_pdf=as_pdf,
                scan_share=0.33,
                vendor=vendor,
                day=day,
                total=total,
            )
        )
    return documents
