"""Receipts and invoices the rule-based extractor was never tuned on, with their truth.

`held_out_documents(seed=…)` makes the same documents for the same seed: shop receipts
and business invoices from five conventions (US, UK, euro area, Malaysia, Singapore),
each picking at random its currency style, date format, total label, distractors
(subtotal, tax, discount, cash and change), header and logo, "Bill To" block and font;
some are scanned (rotated, noisy JPEG), a few are PDFs with a text layer. The truth is
what a reader would write: the vendor's name as printed, the date as ISO 8601 and the
amount payable as a decimal string. Drawn by tests/fakes/invoice_render.py.
"""

from __future__ import annotations

import datetime as dt
import difflib
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from tests.fakes.invoice_conventions import (
    CENT,
    CONVENTIONS,
    CUSTOMERS,
    ITEMS,
    STREETS,
    Convention,
    date_text,
    money,
)
from tests.fakes.invoice_render import FAMILIES, Box, Layout, Run, render_image, render_pdf


@dataclass
class Document:
    name: str
    data: bytes
    media_type: str
    truth: dict[str, str]  # vendor, date (ISO), total (decimal string)


@dataclass
class Amounts:
    items: list[tuple[str, int, Decimal]]
    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal


def item_amounts(rng: random.Random, *, invoice: bool) -> Amounts:
    items = []
    for name in rng.sample(ITEMS, rng.randint(2, 5)):
        quantity = rng.choice((1, 1, 2, 3, 10) if invoice else (1, 1, 1, 2, 3))
        unit = Decimal(rng.randint(150, 95000 if invoice else 4000)) / 100
        items.append((name, quantity, unit))
    subtotal = sum((q * unit for _, q, unit in items), Decimal(0))
    discount = (subtotal * Decimal("0.1")).quantize(CENT) if rng.random() < 0.25 else Decimal(0)
    tax = ((subtotal - discount) * Decimal("0.08")).quantize(CENT, ROUND_HALF_UP)
    return Amounts(items, subtotal, discount, tax, subtotal - discount + tax)


class Page:
    """A cursor down the page: `line` puts runs at the current height and moves on."""

    def __init__(self, width: int, family: str, size: int) -> None:
        self.width, self.family, self.size, self.y = width, family, size, 24.0
        self.runs: list[Run] = []
        self.boxes: list[Box] = []

    def line(self, *runs: tuple[float, str, str], size: int | None = None, bold=False) -> None:
        size = size or self.size
        for x, text, anchor in runs:
            if text:
                self.runs.append(Run(x, self.y, text, size, bold, anchor))
        self.y += size * 1.5

    def rule(self, left: float, right: float) -> None:
        """A dashed line across, as till printers make it."""
        dashes = int((right - left) / (self.size * (0.6 if self.family == "mono" else 0.42)))
        self.line((left, "-" * dashes, "l"))

    def gap(self, factor: float = 0.6) -> None:
        self.y += self.size * factor

    def layout(self) -> Layout:
        return Layout(self.width, int(self.y + 30), self.family, self.runs, self.boxes)


def _receipt(rng: random.Random, c: Convention, vendor: str, day: dt.date):
    width = rng.choice((440, 480, 520))
    page = Page(width, rng.choice(list(FAMILIES)), rng.choice((17, 18, 20)))
    mid, left, right = width / 2, 24, width - 24
    style = rng.choice(c.money)
    amounts = item_amounts(rng, invoice=False)
    if rng.random() < 0.3:  # a logo's mark above the name
        shape = rng.choice(("rect", "ellipse"))
        page.boxes.append(Box(mid - 30, page.y, mid + 30, page.y + 50, shape))
        page.gap(4)
    heading = rng.random() < 0.2
    if heading:
        page.line((mid, rng.choice(("WELCOME TO", "RECEIPT", "TAX INVOICE")), "c"))
    page.line((mid, vendor, "c"), size=page.size + 6, bold=True)
    if c.name == "my" and rng.random() < 0.6:
        page.line((mid, f"(Co. Reg. No. {rng.randint(100000, 999999)}-{rng.choice('AKXPD')})", "c"))
    page.line((mid, rng.choice(STREETS), "c"))
    page.line((mid, rng.choice(c.cities), "c"))
    page.line((mid, c.phone, "c"))
    if rng.random() < 0.6:
        page.line((mid, c.tax_id, "c"))
    if not heading and rng.random() < 0.4:
        page.line((mid, rng.choice(("TAX INVOICE", "SALES RECEIPT", "CASH BILL")), "c"), bold=True)
    when = f"{date_text(day, rng.choice(c.dates))}"
    time = f"{rng.randint(8, 21):02d}:{rng.randint(0, 59):02d}"
    date_line = rng.choice((f"Date: {when}  Time: {time}", f"{when} {time}", f"Date: {when}"))
    date_on_top = rng.random() < 0.75
    page.line((left, f"Receipt #: {rng.randint(1000, 99999)}", "l"), (right, "Cashier: Amy", "r"))
    if date_on_top:
        page.line((left, date_line, "l"))
    page.rule(left, right)
    for name, quantity, unit in amounts.items:
        if quantity > 1:
            page.line((left, name, "l"))
            page.line(
                (left + 20, f"{quantity} x {money(unit, 'bare')}", "l"),
                (right, money(quantity * unit, "bare"), "r"),
            )
        else:
            page.line((left, name, "l"), (right, money(unit, "bare"), "r"))
    page.rule(left, right)
    if rng.random() < 0.3:
        page.line((left, f"Total Items: {sum(q for _, q, _ in amounts.items)}", "l"))
    page.line((left, "Subtotal", "l"), (right, money(amounts.subtotal, style), "r"))
    if amounts.discount:
        page.line((left, "Discount 10%", "l"), (right, money(-amounts.discount, style), "r"))
    page.line((left, rng.choice(c.tax), "l"), (right, money(amounts.tax, style), "r"))
    total = amounts.total
    if c.name in ("my", "sg") and rng.random() < 0.4:
        service = (amounts.subtotal * Decimal("0.1")).quantize(CENT)
        page.line((left, "Service Charge 10%", "l"), (right, money(service, style), "r"))
        total += service
    label = rng.choice(
        ("TOTAL", "Total", "Grand Total", "Nett Total", "TOTAL DUE")
        + (("Total (incl. GST)",) if c.name in ("my", "sg") else ())
    )
    if style.startswith("bare"):
        label = f"TOTAL {style[5:].upper()}"
    if c.name == "my" and rng.random() < 0.5:  # 5-sen rounding, as Malaysian tills print it
        rounded = (total * 20).quantize(Decimal(1), ROUND_HALF_UP) / 20
        page.line((left, "Total", "l"), (right, money(total, style), "r"))
        page.line((left, "Rounding Adj", "l"), (right, money(rounded - total, style), "r"))
        label, total = "Rounded Total", rounded.quantize(CENT)
    page.line((left, label, "l"), (right, money(total, style), "r"), bold=True, size=page.size + 2)
    if rng.random() < 0.6:
        cash = Decimal(rng.choice((20, 50, 100, 200)))
        while cash < total:
            cash *= 2
        page.line(
            (left, rng.choice(("Cash", "CASH", "Tendered", "Amount Tendered")), "l"),
            (right, money(cash, style), "r"),
        )
        page.line((left, "Change", "l"), (right, money(cash - total, style), "r"))
    else:
        page.line((left, "VISA **** 4821", "l"), (right, money(total, style), "r"))
    page.gap()
    if not date_on_top:
        page.line((mid, date_line, "c"))
    page.line(
        (mid, rng.choice(("Thank you! Please come again", "Thank you for shopping with us")), "c")
    )
    return page.layout(), total


def _invoice_header(page: Page, rng: random.Random, c: Convention, vendor: str, meta: list[str]):
    """The vendor's block and the invoice's number and dates, in one of four common
    arrangements (title right, title on top, a "From:" label, the vendor on the right)."""
    left, right, middle = 48, page.width - 48, page.width * 0.58
    title = rng.choice(("INVOICE", "TAX INVOICE", "Invoice"))
    variant = rng.choice(("title-right", "title-top", "from-label", "vendor-right"))
    block = [rng.choice(STREETS), rng.choice(c.cities), c.phone, c.tax_id]
    if variant == "vendor-right":
        page.line((left, title, "l"), (right, vendor, "r"), size=28, bold=True)
        for number, text in enumerate(block):
            page.line((left, meta[number] if number < len(meta) else "", "l"), (right, text, "r"))
        return
    if variant == "title-top":
        page.line((page.width / 2, title, "c"), size=30, bold=True)
        page.gap()
    if variant == "from-label":
        page.line((left, title, "l"), (right, meta[0], "r"), size=28, bold=True)
        page.line((left, "From:", "l"), (right, meta[1], "r"), bold=True)
        meta = meta[2:]
    elif rng.random() < 0.3:
        page.boxes.append(Box(left, page.y, left + 44, page.y + 44, "rect"))
        page.gap(3.2)
    page.line(
        (left, vendor, "l"),
        (right, title if variant == "title-right" else "", "r"),
        size=24,
        bold=True,
    )
    for number, text in enumerate(block):
        page.line((left, text, "l"), (middle, meta[number] if number < len(meta) else "", "l"))


def _invoice(rng: random.Random, c: Convention, vendor: str, day: dt.date):
    width = rng.choice((900, 960))
    page = Page(width, rng.choice(("sans", "serif", "condensed")), rng.choice((17, 18)))
    left, right, middle = 48, width - 48, width * 0.58
    style = rng.choice([s for s in c.money if not s.startswith("bare")] or c.money)
    amounts = item_amounts(rng, invoice=True)
    due = day + dt.timedelta(days=rng.choice((14, 30)))
    date_style = rng.choice(c.dates)
    meta = [
        f"Invoice #: INV-{day.year}-{rng.randint(100, 9999):04d}",
        f"{rng.choice(('Date', 'Invoice Date'))}: {date_text(day, date_style)}",
        f"Due Date: {date_text(due, date_style)}",
    ]
    _invoice_header(page, rng, c, vendor, meta)
    page.gap()
    customer = rng.choice(CUSTOMERS)
    page.line(
        (left, rng.choice(("Bill To:", "BILL TO", "Billed To")), "l"),
        (middle, "Ship To:" if rng.random() < 0.4 else "", "l"),
        bold=True,
    )
    page.line((left, customer, "l"))
    page.line((left, rng.choice(STREETS), "l"))
    page.line((left, rng.choice(c.cities), "l"))
    page.gap()
    columns = (left, width * 0.55, width * 0.7, right)
    page.line(
        (columns[0], "Description", "l"),
        (columns[1], "Qty", "r"),
        (columns[2] + 60, "Unit Price", "r"),
        (columns[3], rng.choice(("Amount", "Total", "Line Total")), "r"),
        bold=True,
    )
    for name, quantity, unit in amounts.items:
        page.line(
            (columns[0], name, "l"),
            (columns[1], str(quantity), "r"),
            (columns[2] + 60, money(unit, style), "r"),
            (columns[3], money(quantity * unit, style), "r"),
        )
    page.gap()
    label_x = width * 0.62
    page.line((label_x, "Subtotal", "l"), (right, money(amounts.subtotal, style), "r"))
    if amounts.discount:
        page.line((label_x, "Discount", "l"), (right, money(-amounts.discount, style), "r"))
    page.line((label_x, rng.choice(c.tax), "l"), (right, money(amounts.tax, style), "r"))
    label = rng.choice(
        (
            "Total",
            "Total Due",
            "Amount Due",
            "Balance Due",
            "Grand Total",
            f"Total ({'incl. VAT' if c.name in ('uk', 'eu') else 'incl. tax'})",
        )
    )
    page.line((label_x, label, "l"), (right, money(amounts.total, style), "r"), bold=True)
    page.gap(2)
    page.line(
        (left, f"Payment terms: Net {(due - day).days} days. Thank you for your business!", "l")
    )
    return page.layout(), amounts.total


def held_out_documents(*, seed: int = 1, count: int = 40, pdfs: int = 4) -> list[Document]:
    """`count` documents, the last `pdfs` of them invoices as PDFs with a text layer;
    about two receipts for one invoice, a third of the images scanned."""
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        convention = rng.choice(CONVENTIONS)
        vendor = rng.choice(convention.vendors)
        if rng.random() < 0.3 and vendor.upper() != vendor:
            vendor = vendor.upper()
        day = dt.date(rng.randint(2019, 2025), rng.randint(1, 12), rng.randint(1, 28))
        as_pdf = index >= count - pdfs
        kind = "invoice" if as_pdf or rng.random() < 0.35 else "receipt"
        make = _invoice if kind == "invoice" else _receipt
        layout, total = make(rng, convention, vendor, day)
        name = f"{seed}-{index:02d}-{convention.name}-{kind}"
        documents.append(
            document_render(
                name,
                layout,
                rng,
                as_pdf=as_pdf,
                scan_share=0.35,
                vendor=vendor,
                day=day,
                total=total,
            )
        )
    return documents


def document_render(
    name: str,
    layout: Layout,
    rng: random.Random,
    *,
    as_pdf: bool,
    scan_share: float,
    vendor: str,
    day: dt.date,
    total: Decimal,
) -> Document:
    """The layout as a text-layer PDF, or as an image (a scan for `scan_share` of them,
    drawn from `rng`), with its truth."""
    if as_pdf:
        data, media_type = render_pdf(layout), "application/pdf"
    else:
        scan = rng.random() < scan_share
        data = render_image(layout, rng=rng, scan=scan)
        media_type = "image/jpeg" if scan else "image/png"
        name += "-scan" if scan else ""
    truth = {"vendor": vendor, "date": day.isoformat(), "total": str(total.quantize(CENT))}
    return Document(name, data, media_type, truth)


# -- scoring, shared by the tests and bench/invoice_rules.py ---------------------------


def sroie_truth(labels: dict[str, str]) -> dict[str, str]:
    """A SROIE receipt's labels in the held-out documents' terms (its dates are day first)."""
    for style in ("%d-%m-%y", "%d/%m/%y", "%d-%m-%Y", "%d/%m/%Y", "%d %b %Y"):
        try:
            day = dt.datetime.strptime(labels["date"], style).date()
            break
        except ValueError:
            continue
    else:
        raise ValueError(f"unknown SROIE date {labels['date']!r}")
    return {
        "vendor": labels["company"],
        "date": day.isoformat(),
        "total": labels["total"].lstrip("$"),
    }


def extracted_fields(data: dict) -> dict[str, str | None]:
    """The three fields scored, from seed 002's structured invoice."""
    return {"vendor": data["vendor"]["name"], "date": data["invoice_date"], "total": data["total"]}


def field_matches(field: str, got: str | None, want: str) -> bool:
    """The vendor at >= 0.8 similarity (case and spacing ignored: OCR drops a dot or a
    space), the date exactly (ISO 8601), the total as a number."""
    if got is None:
        return False
    if field == "vendor":
        ratio = difflib.SequenceMatcher(
            None, " ".join(got.upper().split()), " ".join(want.upper().split())
        )
        return ratio.ratio() >= 0.8
    if field == "total":
        try:
            return Decimal(got) == Decimal(want)
        except InvalidOperation:
            return False
    return got == want
