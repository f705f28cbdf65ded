"""Dates on receipts and invoices: every way they are printed, and which one is the
invoice's (a labelled date, else one printed with a time, else the first; never an
expiry date). Dates come out as `datetime.date`, the caller writes ISO 8601."""

from __future__ import annotations

import datetime as dt
import re

MONTHS = {
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
            ("oct", "october", "0ct", "0ctober"),  # OCR reads the O as a zero
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
# OCR often loses the space between a receipt's date and time ("2021-12-0618:57"): a
# date may end where a time begins, and "19/04/2015:44" is 19/04/20 at 15:44 (a year
# is never followed by a colon).
_END = r"(?:(?![\d/])|(?=\d{1,2}:\d{2}))"
DATE_PATTERNS = [
    ("ymd", re.compile(rf"\b(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_END}")),
    (
        "dmy",
        re.compile(
            rf"(?<![\d.])(\d{{1,2}})([-/.])(\d{{1,2}})[-/.]((?:19|20)\d{{2}}(?!:)|\d{{2}}){_END}"
        ),
    ),
    ("d_mon_y", re.compile(rf"\b(\d{{1,2}})\s*({MONTH_NAMES})[a-z]*\.?,?\s*(\d{{4}})\b", re.I)),
    (
        "mon_d_y",
        re.compile(rf"\b({MONTH_NAMES})[a-z]*\.?\s+(\d{{1,2}})(?:,\s*|\s+)(\d{{4}})\b", re.I),
    ),
]
TIME = re.compile(r"\b([01]?\d|2[0-3]):[0-5]\d\b")
# Month first (03/07/24 is March 7) is the United States' order: told by a date that can
# only be read one way, else by a US address ("Portland, OR 97205") or dollars on a page
# with no GST, VAT or other currency (Malaysian receipts print "$" with GST).
_US_STATE = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|"
    "NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY"
)
_US_ADDRESS = re.compile(rf",\s*(?:{_US_STATE})\s+\d{{5}}(?:-\d{{4}})?\b")
_US_DOLLARS = re.compile(r"\bUSD\b|US\$|(?<![A-Za-z])\$")
_NOT_US = re.compile(
    r"\b(?i:gst|vat|sst|mwst|tva)\b|\b(?:RM|MYR|EUR|GBP|SGD|AUD|CAD|NZD|INR|HKD)\b|[€£₹]|[A-Z]\$"
)


def month_first(lines: list[str]) -> bool:
    """Whether the page's numeric dates put the month first (see _US_ADDRESS above)."""
    votes = 0
    for line in lines:
        for match in DATE_PATTERNS[1][1].finditer(line):
            first, second = int(match[1]), int(match[3])
            if match[2] != "." and first <= 12 < second <= 31:
                votes += 1
            elif second <= 12 < first <= 31:
                votes -= 1
    if votes:
        return votes > 0
    text = "\n".join(lines)
    return bool(_US_ADDRESS.search(text) or (_US_DOLLARS.search(text) and not _NOT_US.search(text)))


def _date(kind: str, match: re.Match, month_first: bool) -> dt.date | None:
    try:
        if kind == "ymd":
            year, month, day = (int(g) for g in match.groups())
        elif kind == "dmy":
            first, second, year = int(match[1]), int(match[3]), int(match[4])
            # Day first (most of the world) unless the day cannot be one or the page puts
            # the month first; a dotted date is always day first (07.03.2024).
            swap = second > 12 >= first or (month_first and match[2] != "." and first <= 12)
            day, month = (second, first) if swap and second <= 31 else (first, second)
        elif kind == "d_mon_y":
            day, month, year = int(match[1]), MONTHS[match[2].lower()[:3]], int(match[3])
        else:
            month, day, year = MONTHS[match[1].lower()[:3]], int(match[2]), int(match[3])
        if year < 100:
            year += 2000
        if not 1900 <= year <= 2200:
            return None
        return dt.date(year, month, day)
    except (ValueError, KeyError):
        return None


def dates_in(line: str, *, month_first: bool = False) -> list[dt.date]:
    found = []
    for kind, pattern in DATE_PATTERNS:
        for match in pattern.finditer(line):
            value = _date(kind, match, month_first)
            if value is not None:
                found.append((match.start(), value))
    return [value for _, value in sorted(found, key=lambda item: item[0])]


def invoice_dates(lines: list[str]) -> tuple[str | None, str | None]:
    """(invoice date, due date): a labelled date first, then one printed with a time (as
    receipts do), then the first date at all; expiry dates are never the invoice's."""
    labelled = timed = first = due = None
    order = month_first(lines)
    for index, line in enumerate(lines):
        values = dates_in(line, month_first=order)
        if not values and re.search(r"\bdate\b\s*[:.]?\s*$", line, re.I) and index + 1 < len(lines):
            values = dates_in(lines[index + 1], month_first=order)
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
        elif TIME.search(line):
            timed = timed or values[0]
        else:
            first = first or values[0]
    chosen = labelled or timed or first
    return (chosen.isoformat() if chosen else None, due.isoformat() if due else None)
