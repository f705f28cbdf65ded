"""The amount an invoice or receipt is for: the last total line before the payment
lines, plus a rounding adjustment printed after it; with no total line, the amount
printed alone above the payment lines, else what the payment lines say was paid."""

from __future__ import annotations

import re
from decimal import Decimal

from ocr.extraction.amounts import (
    MONEY,
    amount_value,
    last_amount,
    last_amount_misread,
    last_signed_amount,
)

# A total's label, not followed by a letter ("TOTAL45.60" is OCR merging a large total).
_TOTAL_LINE = re.compile(
    r"(\b(totale?|totaal|amount\s+due|balance\s+due|grand\s+total|summe|gesamt\w*|endbetrag|"
    r"zu\s+zahlen|te\s+betalen|[àa]\s+payer|a\s+pagar|importe|montant\s+ttc)(?![^\W\d_])|"
    r"^\W*amount\W*:)",
    re.I,
)
# What a total label is also part of: a subtotal, a count, a tax's total, a net amount.
# A total label after one of these on the line is still a total ("Total Items: 3
# Total: 45.60").
_NOT_TOTAL = re.compile(
    r"(sub[\s\-]*total|totale?\s*(qty|quantity|items?\b|savings|discount|gst\b|tax\b|vat\b|"
    r"iva\b|tva\b|btw\b|mwst\b|excl)|excl|excluding|quantity|tax\s*total|total\s*tax|"
    r"total\s*h\.?t\b|hors\s*tax|zwischensumme|netto|\bneto\b|imponib|"
    r"(mwst|ust|steuer)\W*summe)",
    re.I,
)
# Lines about paying: where the totals end. "Total Paid", "Amount Received" and
# "Less: Deposit" are money handed over, not what the invoice is for.
_PAYMENT = re.compile(
    r"^\W*(?:total\s+)?(cash|change|visa|master|card|payment|tender\w*|paid|credit|deposit)\b|"
    r"\b(amount|total)\s+(paid|tendered|received)\b|^\W*less\W+(deposit|payment|paid|advance)",
    re.I,
)
# A line that is only an amount, its currency before or after it ("S$65.18", "45,60 €").
_LONE_AMOUNT = re.compile(rf"(?:[A-Z]{{1,3}}\$?|[$€£¥₹])?\s?(?:{MONEY})\s?(?:[A-Z]{{2,3}}|€)?")
_CHANGE = re.compile(r"^\W*change\b", re.I)
_SUMMARY = re.compile(r"(gst|tax|vat)\s+summary", re.I)
_ROUNDING = re.compile(r"\bround(ing|ed)?\b", re.I)
MAX_ROUNDING = Decimal("1.00")  # an adjustment to the coin, never more


def is_total_line(line: str) -> bool:
    """A total's label on the line, after whatever subtotal or count label it has."""
    tail = line
    for match in _NOT_TOTAL.finditer(line):
        tail = line[match.end() :]
    return bool(_TOTAL_LINE.search(tail))


def invoice_total(lines: list[str]) -> tuple[str | None, int | None]:
    """The total as a decimal string and the index of the line it was read from."""
    candidates: list[tuple[int, str]] = []
    end = len(lines)
    for index, line in enumerate(lines):
        if candidates and (_SUMMARY.search(line) or _PAYMENT.search(line)):
            end = index
            break
        if is_total_line(line) and not _PAYMENT.search(line):
            amount = last_amount_misread(line)
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            if amount is None and _LONE_AMOUNT.fullmatch(following):
                amount = last_amount(following)
            if amount is not None:
                candidates.append((index, amount))
    if not candidates:
        return _unlabelled_total(lines)
    # A paid invoice ends "Amount Paid 120.00 / Balance Due 0.00": what it cost is the
    # last total that is not nothing.
    payable = [item for item in candidates if Decimal(item[1]) != 0] or candidates
    index, amount = payable[-1]
    stop = min([i for i, _ in candidates if i > index] + [end])
    return _rounded(amount, lines[index + 1 : stop]), index


def _rounded(amount: str, after: list[str]) -> str:
    """A rounding adjustment printed after the total with no rounded total below it
    ("TOTAL 45.62 / Rounding Adj -0.02 / CASH 50.00") is part of what was paid."""
    value = Decimal(amount)
    for line in after:
        if _ROUNDING.search(line) and not is_total_line(line):
            adjustment = last_signed_amount(line)
            if adjustment is not None and abs(adjustment) < MAX_ROUNDING:
                value += adjustment
    return format(value, "f")


def _unlabelled_total(lines: list[str]) -> tuple[str | None, int | None]:
    """No total line: the amount printed alone just above the payment lines (a total
    under a rule, its label left off), else the payment less the change."""
    payment = next(
        (i for i, line in enumerate(lines) if _PAYMENT.search(line) and last_amount(line)), None
    )
    if payment is None:
        return None, None
    for index in range(payment - 1, max(-1, payment - 3), -1):
        if _LONE_AMOUNT.fullmatch(lines[index].strip()):
            return amount_value(lines[index]), index
    paid = Decimal(last_amount(lines[payment]) or 0)
    for line in lines[payment + 1 : payment + 3]:
        change = last_amount(line) if _CHANGE.search(line) else None
        if change is not None and Decimal(change) <= paid:
            return format(paid - Decimal(change), "f"), payment
    return format(paid, "f"), payment
