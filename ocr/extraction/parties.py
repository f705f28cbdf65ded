"""Who is on a receipt or invoice: the vendor (its name and address) and the customer
("Bill To"). The vendor's name is near the top, above the customer's block."""

from __future__ import annotations

import re

from ocr.extraction.dates import dates_in

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
_BILL_TO = re.compile(r"^\s*(?:bill(?:ed)?\s*to|sold\s*to|customer|client)\s*[:\-]?\s*(.*)$", re.I)
_SHIP_TO = re.compile(r"^\s*(?:ship(?:ped)?\s*to|deliver(?:y|ed)?\s*to)\s*[:\-]?\s*(.*)$", re.I)


def vendor_name(lines: list[str]) -> tuple[str | None, int | None]:
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


def vendor_address(lines: list[str], vendor_index: int | None) -> str | None:
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


def bill_to(lines: list[str]) -> str | None:
    for index, line in enumerate(lines):
        match = _BILL_TO.match(line)
        if match:
            rest = match.group(1).strip()
            if rest:
                return rest
            if index + 1 < len(lines):
                return lines[index + 1]
    return None
