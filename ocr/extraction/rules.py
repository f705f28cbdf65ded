"""The local, rule-based invoice extractor behind seed 002 when no chat model is used.

Input is OCR text (Markdown or plain, one printed line per line); output is the
structured invoice of DESIGN.md §8: fields are null when not found, dates ISO 8601,
amounts decimal strings. The rules are tuned on real receipts (SROIE) and plain
invoices: labels first ("Invoice No", "Date", "Total"), layout second (the company
name is near the top, the total is the last total line before the payment lines).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ocr.dialects.common import strip_markdown
from ocr.extraction.amounts import MONEY, MONEY_RE, amount_value, last_amount
from ocr.extraction.dates import dates_in, invoice_dates
from ocr.extraction.parties import bill_to, vendor_address, vendor_name
from ocr.extraction.totals import invoice_total

MAX_LINES = 2000  # OCR text is client-influenced: cap the work
_TAX_ID = re.compile(
    r"(?:GST\s*(?:ID|NO|REG(?:\.|ISTRATION)?)(?:\s*NO)?|VAT\s*(?:NO|ID|REG(?:\.|ISTRATION)?)?"
    r"(?:\s*NO)?|TAX\s*ID|TIN|ABN|EIN|USt-?IdNr\.?|SIRET|Company\s*No)\s*[.:#]*\s*"
    r"([A-Z]{0,3}[0-9][0-9A-Z \-]{5,22}[0-9A-Z])",
    re.I,
)
_INVOICE_NO = re.compile(
    r"(?:invoice\s*(?:number|no\.?|num|#)|inv\s*(?:no\.?|#)|receipt\s*(?:no\.?|#|number)|"
    r"(?:facture|factura|fattura|factuur)\s*(?:n[°ºo]?\.?|num[ée]ro|nr\.?|#)|"
    r"rechnung(?:s)?\s*(?:nr\.?|nummer|no\.?)|rechnungsnummer|factuurnummer|"
    r"doc\s*no\.?|bill\s*no\.?|slip\s*no\.?|order\s*(?:no\.?|#))\s*[.:#]*\s*([A-Z0-9][A-Z0-9\-/]{2,})",
    re.I,
)
_SUBTOTAL = re.compile(
    r"(sub[\s\-]*total|total\s*sales\s*\(?\s*excl|total\s*excl|net\s*amount|total\s*h\.?t\b|"
    r"montant\s*h\.?t\b|hors\s*tax|zwischensumme|nettobetrag|base\s*imponible|imponibile)",
    re.I,
)
_TAX_LINE = re.compile(r"\b(gst|vat|tax|sales\s*tax|mwst|ust|tva|iva|btw)\b", re.I)
_NOT_TAX = re.compile(
    r"(sub|gst\s*(id|no|reg)|vat\s*(no|id|reg)|tax\s*(id|invoice)|summary|incl|inclusive|"
    r"invoice|relief|tax\s*code|total\s*(sales|gross|incl)|act\s*\d{4})",
    re.I,
)
CUR_SUFFIX = r"(?:\s?(?:[A-Z]{3}|€|£|\$))?"
_ITEM_QTY_X = re.compile(rf"(\d+(?:\.\d+)?)\s*[xX×*]\s*({MONEY})\s+({MONEY})")
_ITEM_ROW = re.compile(
    rf"^(?P<desc>.*[A-Za-z]{{3}}.*?)\s+(?P<qty>\d+(?:\.\d+)?)\s+(?P<unit>{MONEY}){CUR_SUFFIX}\s+"
    rf"(?P<amount>{MONEY}){CUR_SUFFIX}(?:\s*[A-Z])?$"
)
_ITEM_AMOUNT = re.compile(
    rf"^(?P<desc>.*[A-Za-z]{{3}}.*?)\s+(?P<amount>{MONEY}){CUR_SUFFIX}(?:\s*[A-Z])?$"
)
_NOT_ITEM = re.compile(
    r"(total|tax|gst|vat|tva|mwst|\bust\b|iva|btw|cash|change|rounding|discount|balance|due|"
    r"paid|tender|service|visa|card|amount|summary|relief|points|summe|montant|gesamt|totaal|betalen|"
    r"zahlen|importe|payer|pagar|round)",
    re.I,
)
_CURRENCIES = [
    (re.compile(r"\bRM\b|\bMYR\b"), "MYR"),
    (re.compile(r"\bEUR\b|€"), "EUR"),
    (re.compile(r"\bGBP\b|£"), "GBP"),
    (re.compile(r"\bSGD\b|S\$"), "SGD"),
    (re.compile(r"\bINR\b|₹"), "INR"),
    (re.compile(r"\bJPY\b|¥"), "JPY"),
    (re.compile(r"\bCHF\b"), "CHF"),
    (re.compile(r"\bCAD\b|C\$"), "CAD"),
    (re.compile(r"\bAUD\b|A\$"), "AUD"),
    (re.compile(r"\bUSD\b|\$"), "USD"),
]


def _spaced(line: str) -> str:
    return re.sub(r"[\t ]+", " ", line).strip()


def text_lines(text: str) -> list[str]:
    lines = [_spaced(line) for line in strip_markdown(text).splitlines()]
    return [line for line in lines if line][:MAX_LINES]


def reading_pieces(text: str) -> list[str]:
    """Lines as `text_lines` gives them, but a table's cells each on a line of their own,
    column after column: a page header set as a table (the vendor's name and address on
    the left, the invoice's number and dates on the right) reads as its two blocks."""
    pieces: list[str] = []
    block: list[list[str]] = []

    def flush() -> None:
        for column in range(max((len(row) for row in block), default=0)):
            pieces.extend(row[column] for row in block if column < len(row) and row[column])
        block.clear()

    for raw in strip_markdown(text).splitlines():
        if "\t" in raw:
            block.append([_spaced(cell) for cell in raw.split("\t")])
            continue
        flush()
        line = _spaced(raw)
        if line:
            pieces.append(line)
    flush()
    return pieces[:MAX_LINES]


def _first_amount(lines: list[str], pattern: re.Pattern, exclude: re.Pattern | None) -> str | None:
    for line in lines:
        if pattern.search(line) and not (exclude and exclude.search(line)):
            amount = last_amount(line)
            if amount is not None:
                return amount
    return None


def _line_items(lines: list[str], end: int | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    region = lines[: end if end is not None else len(lines)]
    for index, line in enumerate(region):
        match = _ITEM_QTY_X.search(line)
        if match:
            # "Widget 2 x 10.00 20.00": the text before the quantity; "2 x 10.00 20.00"
            # alone: the description is a line above (a receipt's layout), not a date line.
            description = line[: match.start()].strip(" \t:-") or None
            if not (description and re.search(r"[A-Za-z]{2,}", description)):
                description = None
                for previous in reversed(region[max(0, index - 3) : index]):
                    if (
                        re.search(r"[A-Za-z]{3,}", previous)
                        and not MONEY_RE.search(previous)
                        and not dates_in(previous)
                    ):
                        description = previous
                        break
            items.append(_item(description, match.group(1), match.group(2), match.group(3)))
            continue
        if _NOT_ITEM.search(line):
            continue
        row = _ITEM_ROW.match(line)
        if row:
            items.append(_item(row["desc"], row["qty"], row["unit"], row["amount"]))
            continue
        single = _ITEM_AMOUNT.match(line)
        if single and not dates_in(line):
            items.append(_item(single["desc"], None, None, single["amount"]))
        if len(items) >= 200:
            break
    return items


def _item(description, quantity, unit_price, amount) -> dict[str, Any]:
    qty = None
    if quantity is not None:
        try:
            qty = format(Decimal(quantity).normalize(), "f")
        except InvalidOperation:
            qty = None
    return {
        "description": description.strip() if description else None,
        "quantity": qty,
        "unit_price": amount_value(unit_price) if unit_price else None,
        "amount": amount_value(amount) if amount else None,
    }


def _currency(text: str) -> str | None:
    for pattern, code in _CURRENCIES:
        if pattern.search(text):
            return code
    return None


def _first_match(lines: list[str], pattern: re.Pattern) -> str | None:
    for line in lines:
        match = pattern.search(line)
        if match:
            return re.sub(r"\s+", "", match.group(1)).strip("-")
    return None


def invoice_extract_rules(*, text: str) -> dict[str, Any]:
    """The structured invoice found in OCR text; every field null when not found."""
    lines = text_lines(text)
    pieces = reading_pieces(text)
    name, vendor_index = vendor_name(pieces)
    invoice_date, due_date = invoice_dates(lines)
    total, total_index = invoice_total(lines)
    return {
        "vendor": {
            "name": name,
            "address": vendor_address(pieces, vendor_index),
            "tax_id": _first_match(lines, _TAX_ID),
        },
        "invoice_number": _first_match(lines, _INVOICE_NO),
        "invoice_date": invoice_date,
        "due_date": due_date,
        "currency": _currency("\n".join(lines)),
        "subtotal": _first_amount(lines, _SUBTOTAL, None),
        "tax": _first_amount(lines, _TAX_LINE, _NOT_TAX),
        "total": total,
        "line_items": _line_items(lines, total_index),
        "bill_to": bill_to(lines),
    }
