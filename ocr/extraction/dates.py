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
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE_PATTERNS = [
    ("ymd", re.compile(r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b")),
    ("dmy", re.compile(r"(?<![\d.])(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})(?![\d/])")),
    ("d_mon_y", re.compile(rf"\b(\d{{1,2}})\s*({MONTH_NAMES})[a-z]*\.?,?\s*(\d{{4}})\b", re.I)),
    ("mon_d_y", re.compile(rf"\b({MONTH_NAMES})[a-z]*\.?\s+(\d{{1,2}}),?\s+(\d{{4}})\b", re.I)),
]
TIME = re.compile(r"\b([01]?\d|2[0-3]):[0-5]\d\b")


def _date(kind: str, match: re.Match) -> dt.date | None:
    try:
        if kind == "ymd":
            year, month, day = (int(g) for g in match.groups())
        elif kind == "dmy":
            first, second, year = int(match[1]), int(match[2]), int(match[3])
            # Day first (most of the world); month first only when the day cannot be one.
            day, month = (second, first) if second > 12 and first <= 12 else (first, second)
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


def dates_in(line: str) -> list[dt.date]:
    found = []
    for kind, pattern in DATE_PATTERNS:
        for match in pattern.finditer(line):
            value = _date(kind, match)
            if value is not None:
                found.append((match.start(), value))
    return [value for _, value in sorted(found, key=lambda item: item[0])]


def invoice_dates(lines: list[str]) -> tuple[str | None, str | None]:
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
        elif TIME.search(line):
            timed = timed or values[0]
        else:
            first = first or values[0]
    chosen = labelled or timed or first
    return (chosen.isoformat() if chosen else None, due.isoformat() if due else None)
