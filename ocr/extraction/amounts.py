"""Money amounts as receipts print them: '1,234.56', '1.234,56', 'RM12.50', '€ 7,60',
a negative as '-2.00', '(2.00)' or '2.00-', and digits OCR misread as letters."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

MONEY = r"-?(?:[$€£¥₹]|RM|USD|EUR|GBP)?\s?-?\d{1,3}(?:[,.\s]\d{3})*[.,]\d{2}(?!\d)"
MONEY_RE = re.compile(MONEY)
# An accountant's negative, "(2.00)", or a till's, "2.00-".
_SIGNED_RE = re.compile(rf"\(\s*(?P<bracketed>{MONEY})\s*\)|(?P<plain>{MONEY})(?P<minus>-)?")


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


def last_amount(line: str) -> str | None:
    found = MONEY_RE.findall(line)
    return amount_value(found[-1]) if found else None


def last_signed_amount(line: str) -> Decimal | None:
    """The line's last amount with its sign however printed: '-0.02', '(0.02)', '0.02-'."""
    found = list(_SIGNED_RE.finditer(line))
    if not found:
        return None
    match = found[-1]
    value = Decimal(amount_value(match["bracketed"] or match["plain"]) or 0)
    if match["bracketed"] or match["minus"]:
        value = -abs(value)
    return value


# An amount with letters OCR puts for digits ('15.U0', '1O.50', 'l2.00'): read only where
# a total is expected and no clean amount is on the line.
_MISREAD_AMOUNT = re.compile(r"(?<![\w.])([\dOoUDlIS]{1,7}[.,][\dOoUDlIS]{2})(?![\w.])")
_MISREAD_DIGITS = str.maketrans("OoUDlIS", "0000115")


def last_amount_misread(line: str) -> str | None:
    """The last amount of the line, letters OCR misread for digits repaired; a token
    needs at least two real digits to be taken for an amount."""
    found = last_amount(line)
    if found is not None:
        return found
    for token in reversed(_MISREAD_AMOUNT.findall(line)):
        if sum(ch.isdigit() for ch in token) >= 2:
            return amount_value(token.translate(_MISREAD_DIGITS))
    return None
