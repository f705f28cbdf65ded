"""The local, rule-based invoice extractor behind seed 002 when no chat model is used.

Input is OCR text (Markdown or plain, one printed line per line); output is the
structured invoice of DESIGN.md §8: fields are null when not found, dates ISO 8601,
amounts decimal strings. The rules are tuned on real receipts (SROIE) and plain
invoices: labels first ("Invoice No", "Date", "Total"), layout second (the company
name is near the top, the total is the last total line before the payment lines).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ocr.dialects.common import strip_markdown

MAX_LINES = 2000  # OCR text is client-influenced: cap the work
MONEY = r"-?(?:[$€£¥₹]|RM|USD|EUR|GBP)?\s?-?\d{1,3}(?:[,.\s]\d{3})*[.,]\d{2}(?!\d)"
_MONEY_RE = re.compile(MONEY)
_COMPANY_SUFFIX = re.compile(
    r"\b(SDN\.?\s*BHD|BHD|BERHAD|ENTERPRISE|TRADING|CO\.|COMPANY|LTD|LIMITED|LLC|L\.L\.C|"
    r"INC\.?|CORP\.?|CORPORATION|GMBH|AG|S\.?A\.?R?\.?L?|PLC|PTY|PTE|SYARIKAT|SARL|B\.?V\.?)\b",
    re.IGNORECASE,
)
_SUFFIX_ONLY_START = re.compile(
    r"^(CO\.|SDN|BHD|LTD|INC|\(M\)|LIMITED|LLC|GMBH|ENTERPRISE|TRADING|COMPANY|CORP)", re.I
)
_BARE_SUFFIX = re.compile(r"(SDN\.?\s*)?(BHD|BERHAD|LTD\.?|INC\.?|LLC|GMBH|PLC)\.?", re.I)
_VENDOR_LABEL = re.compile(r"^\s*(?:from|vendor|seller|supplier|sold by)\s*[:\-]\s*(.+)$", re.I)
_NOT_NAME = re.compile(
    r"(invoice|receipt|tax|gst|vat|tel|phone|fax|date|total|page|www\.|@|co\.?\s*reg|items?\b|"
    r"description|amount|price|qty|bill|customer|"
    r"company no|reg\.? no)",
    re.I,
)
_ADDRESS_STOP = re.compile(
    r"(tel|phone|fax|gst|vat|tax|invoice|receipt|date|cashier|company no|co\.?\s*no|"
    r"reg|site|www\.|e-?mail|@|order|table|bill|factur|rechnung|fattura|factuur)",
    re.I,
)
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
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_PATTERNS = [
    ("ymd", re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b")),
    ("dmy", re.compile(r"(?<![\d.])(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})(?![\d/])")),
    ("d_mon_y", re.compile(rf"\b(\d{{1,2}})\s*({_MONTH_NAMES})[a-z]*\.?,?\s*(\d{{4}})\b", re.I)),
    ("mon_d_y", re.compile(rf"\b({_MONTH_NAMES})[a-z]*\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.I)),
]
_TIME = re.compile(r"\b([01]?\d|2[0-3]):[0-5]\d\b")
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
_BILL_TO = re.compile(r"^\s*(?:bill(?:ed)?\s*to|sold\s*to|customer|client)\s*[:\-]?\s*(.*)$", re.I)
_SHIP_TO = re.compile(r"^\s*(?:ship(?:ped)?\s*to|deliver(?:y|ed)?\s*to)\s*[:\-]?\s*(.*)$", re.I)
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


def _date(kind: str, match: re.Match) -> dt.date | None:
    try:
        if kind == "ymd":
            year, month, day = (int(g) for g in match.groups())
        elif kind == "dmy":
            first, second, year = int(match[1]), int(match[2]), int(match[3])
            # Day first (most of the world); month first only when the day cannot be one.
            day, month = (second, first) if second > 12 and first <= 12 else (first, second)
        elif kind == "d_mon_y":
            day, month, year = int(match[1]), _MONTHS[match[2].lower()[:3]], int(match[3])
        else:
            month, day, year = _MONTHS[match[1].lower()[:3]], int(match[2]), int(match[3])
        if year < 100:
            year += 2000
        if not 1900 <= year <= 2200:
            return None
        return dt.date(year, month, day)
    except (ValueError, KeyError):
        return None


def dates_in(line: str) -> list[dt.date]:
    found = []
    for kind, pattern in _DATE_PATTERNS:
        for match in pattern.finditer(line):
            value = _date(kind, match)
            if value is not None:
                found.append((match.start(), value))
    return [value for _, value in sorted(found, key=lambda item: item[0])]


def _dates(lines: list[str]) -> tuple[str | None, str | None]:
    """(invoice date, due date): a labelled date first, then one printed with a time (as
    receipts do), then the first date at all; expiry dates are never the invoice's."""
    labelled = timed = first = due = None
    for index, line in enumerate(lines):
        values = dates_in(line)
        if not values and re.search(r"\bdate\b\s*[:.]?\s*$", line, re.I) and index + 1 < len(lines):
            values = dates_in(lines[index + 1])
        if not values:
            continue
        if re.search(
            r"\b(due|payable\s+by|pay\s+by|[ée]ch[ée]ance|f[äa]llig|vencimiento)", line, re.I
        ):
            due = due or values[0]
        elif re.search(r"\b(expiry|expires|exp\.?|valid)\b", line, re.I):
            continue
        elif re.search(
            r"(invoice\s*date|date\s*of\s*issue|issued|date\b|\bdt\b|datum|fecha|\bdata\b)",
            line,
            re.I,
        ):
            labelled = labelled or values[0]
        elif _TIME.search(line):
            timed = timed or values[0]
        else:
            first = first or values[0]
    chosen = labelled or timed or first
    return (chosen.isoformat() if chosen else None, due.isoformat() if due else None)


def _vendor(lines: list[str]) -> tuple[str | None, int | None]:
    """The vendor's name and the index of its last line (the address follows it)."""
    for index, line in enumerate(lines[:40]):
        label = _VENDOR_LABEL.match(line)
        if label:
            return label.group(1).strip(), index
    head = lines[:12]
    customer = _customer_lines(head)
    for index, line in enumerate(head):
        if index in customer:
            continue
        if not _COMPANY_SUFFIX.search(line) or re.search(r"\b(tel|gst|invoice)\b", line, re.I):
            continue
        start = end = index
        # "POPULAR BOOK" / "CO. (M) SDN BHD": the name began on the line above.
        if _SUFFIX_ONLY_START.match(line) and index > 0 and _is_name_line(head[index - 1]):
            start = index - 1
        name = " ".join(head[start : end + 1])
        # "ENTERPRISE (SETIA" / "ALAM) SDN" / "BHD": an open bracket or a bare suffix
        # on the next line continues the name.
        while end + 1 < len(head) and end - start < 3:
            following = head[end + 1]
            if name.count("(") > name.count(")") or _BARE_SUFFIX.fullmatch(following):
                name, end = f"{name} {following}", end + 1
            else:
                break
        return _clean_name(name), end
    for index, line in enumerate(head):
        if index in customer:
            continue
        letters = sum(ch.isalpha() for ch in line)
        if letters >= 3 and letters >= 0.6 * len(line.replace(" ", "")):
            if not _NOT_NAME.search(line):
                return _clean_name(line), index
    return None, None


def _customer_lines(head: list[str]) -> set[int]:
    """Indices of a "Bill to" / "Ship to" block: the customer's name is not the vendor's."""
    found: set[int] = set()
    for index, line in enumerate(head):
        match = _BILL_TO.match(line) or _SHIP_TO.match(line)
        if match:
            found.update(range(index, min(len(head), index + (1 if match.group(1).strip() else 2))))
    return found


def _is_name_line(line: str) -> bool:
    """Upper-case words only, as a shop's name is printed (not "tan woon yann")."""
    letters = [ch for ch in line if ch.isalpha()]
    return len(letters) >= 3 and all(ch.isupper() for ch in letters) and not _NOT_NAME.search(line)


def _clean_name(name: str) -> str:
    name = re.sub(r"\s+", " ", name.replace("_", " ")).strip(" -:*")
    return re.sub(r"(\S)\(", r"\1 (", name)


def _address(lines: list[str], vendor_index: int | None) -> str | None:
    if vendor_index is None:
        return None
    start = vendor_index + 1
    parts: list[str] = []
    for line in lines[start : start + 8]:
        if re.fullmatch(r"\(?[A-Z0-9\- .:]*\d[A-Z0-9\- .:]*\)?", line, re.I) and len(line) < 24:
            continue  # a registration number such as "(867388-U)"
        alnum = sum(ch.isalnum() for ch in line)
        if _ADDRESS_STOP.search(line) or dates_in(line) or alnum < 0.5 * len(line):
            if parts:
                break
            continue
        parts.append(line.strip(" ,"))
        if len(parts) == 4:
            break
    return ", ".join(parts) if parts else None


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
    index, amount = candidates[-1]
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


def _bill_to(lines: list[str]) -> str | None:
    for index, line in enumerate(lines):
        match = _BILL_TO.match(line)
        if match:
            rest = match.group(1).strip()
            if rest:
                return rest
            if index + 1 < len(lines):
                return lines[index + 1]
    return None


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
    name, vendor_index = _vendor(pieces)
    invoice_date, due_date = _dates(lines)
    total, total_index = _totals(lines)
    return {
        "vendor": {
            "name": name,
            "address": _address(pieces, vendor_index),
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
        "bill_to": _bill_to(lines),
    }
