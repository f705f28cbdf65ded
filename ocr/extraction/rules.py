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
from ocr.extraction.dates import dates_in, invoice_dates
from ocr.extraction.parties import bill_to, vendor_address, vendor_name

MAX_LINES = 2000  # OCR text is client-influenced: cap the work
MONEY = r"-?(?:[$€£¥₹]|RM|USD|EUR|GBP)?\s?-?\d{1,3}(?:[,.\s]\d{3})*[.,]\d{2}(?!\d)"
_MONEY_RE = re.compile(MONEY)
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
_TOTAL_LINE = re.compile(
    r"(\b(total|amount\s+due|balance\s+due|grand\s+total)\b|^\W*amount\W*:)", re.I
)
_NOT_TOTAL = re.compile(
    r"(sub[\s\-]*total|total\s*(qty|quantity|item|savings|discount|gst\b|tax\b|vat\b|excl)|"
    r"excl|excluding|quantity|tax\s*total|total\s*tax|total\s*h\.?t\b|hors\s*tax)",
    re.I,
)
_PAYMENT = re.compile(r"^\s*(cash|change|visa|master|card|payment|tender|paid|credit)\b", re.I)
_SUMMARY = re.compile(r"(gst|tax|vat)\s+summary", re.I)
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
    r"paid|tender|service|visa|card|amount|summary|relief|points|summe|montant)",
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


def amount_value(token: str) -> str | None:
    """'RM 1,234.50' / '1.234,50' / '$7.60' → '1234.50'; None when it is not an amount."""
    raw = re.sub(r"[^\d,.\-]", "", token.replace(" ", ""))
    negative = raw.startswith("-") or "--" in raw
    raw = raw.replace("-", "")
    if re.fullmatch(r"\d{1,3}(\.\d{3})*,\d{2}", raw):
        raw = raw.replace(".", "").replace(",", ".")
    else:
        raw = raw.replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    if negative:
        value = -value
    return format(value.quantize(Decimal("0.01")), "f")


# An amount with letters OCR puts for digits ('15.U0', '1O.50', 'l2.00'): read only where
# a total is expected and no clean amount is on the line.
_MISREAD_AMOUNT = re.compile(r"(?<![\w.])([\dOoUDlIS]{1,7}[.,][\dOoUDlIS]{2})(?![\w.])")
_MISREAD_DIGITS = str.maketrans("OoUDlIS", "0000115")


def _last_amount(line: str) -> str | None:
    found = _MONEY_RE.findall(line)
    return amount_value(found[-1]) if found else None


def _last_amount_misread(line: str) -> str | None:
    """The last amount of the line, letters OCR misread for digits repaired; a token
    needs at least two real digits to be taken for an amount."""
    found = _last_amount(line)
    if found is not None:
        return found
    for token in reversed(_MISREAD_AMOUNT.findall(line)):
        if sum(ch.isdigit() for ch in token) >= 2:
            return amount_value(token.translate(_MISREAD_DIGITS))
    return None


def _totals(lines: list[str]) -> tuple[str | None, int | None]:
    candidates: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        if _SUMMARY.search(line) and candidates:
            break
        if _PAYMENT.match(line) and candidates:
            break
        if _TOTAL_LINE.search(line) and not _NOT_TOTAL.search(line):
            amount = _last_amount_misread(line)
            if amount is None and index + 1 < len(lines):
                amount = (
                    _last_amount(lines[index + 1])
                    if _MONEY_RE.fullmatch(lines[index + 1].strip())
                    else None
                )
            if amount is not None:
                candidates.append((index, amount))
    if not candidates:
        return None, None
    # A paid invoice ends "Amount Paid 120.00 / Balance Due 0.00": what it cost is the
    # last total that is not nothing.
    payable = [item for item in candidates if Decimal(item[1]) != 0] or candidates
    index, amount = payable[-1]
    return amount, index


def _first_amount(lines: list[str], pattern: re.Pattern, exclude: re.Pattern | None) -> str | None:
    for line in lines:
        if pattern.search(line) and not (exclude and exclude.search(line)):
            amount = _last_amount(line)
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
                        and not _MONEY_RE.search(previous)
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
    total, total_index = _totals(lines)
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
