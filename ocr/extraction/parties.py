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
# The head of a customer's block; "CUSTOMER COPY" at the top of a receipt is not one.
_CUSTOMER_LABEL = re.compile(
    r"^\s*(?:bill(?:ed)?\s*to|sold\s*to|ship(?:ped)?\s*to|deliver(?:y|ed)?\s*to|"
    r"(?:customer|client)(?:\s*(?:name|details))?\s*(?:[:\-]|$))",
    re.I,
)
_TITLE_EDGE = re.compile(
    r"^\s*welcome\s+to\b[\s:,]*|"
    r"^\s*(?:tax\s+|sales\s+)?(?:invoice|receipt)\s+(?![#:]|(?:no|number|num|date)\b)|"
    r"\s+(?:tax\s+|sales\s+)?(?:invoice|receipt)\s*$",
    re.I,
)
# Lines printed above a name that are not one: which copy of the slip this is, and the
# name's tagline ("A member of Hartwell Group", "Since 1987").
_COPY_MARK = re.compile(
    r"^\W*(?:(?:customer|merchant|store|shop|office|cardholder|duplicate|original)\s+copy|"
    r"copy|duplicate|re-?print(?:ed)?(?:\s+(?:copy|receipt))?|original|void)\W*$",
    re.I,
)
_TAGLINE = re.compile(
    r"^\W*(?:(?:an?\s+)?(?:(?:proud\s+)?member|part|division|subsidiary|unit|brand)\s+of\b|"
    r"since\s+\d{4}|est(?:\.|ablished|d\.?)\s*(?:in\s+)?\d{4})",
    re.I,
)
_GREETING = re.compile(r"\b(welcome|thank\s*you|thanks)\b", re.I)
_STREET = re.compile(
    r"\b(street|st|road|rd|avenue|ave|lane|ln|drive|dr|blvd|boulevard|way|suite|unit|floor|"
    r"lot|jalan|jln|taman|tmn|lorong|strasse|straße|str|rue|via|plaza|building|bldg|"
    r"p\.?\s?o\.?\s*box|no)\b\.?",
    re.I,
)
_POSTCODE = re.compile(r"\b\d{5,6}\b|\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b|\b\d{4}\s?[A-Z]{2}\b")


def vendor_name(lines: list[str]) -> tuple[str | None, int | None]:
    """The vendor's name and the index of its last line (the address follows it).

    A "From:" label first; else, among the first lines above the customer's block (a
    "Bill To" and what follows it), a line with a company suffix, else the first line
    that reads as a name: not a label, an address, a greeting or the document's title.
    """
    labelled = _labelled_vendor(lines[:40])
    if labelled[0] is not None:
        return labelled
    head = ["" if _not_a_name(line) else _name_text(line) for line in lines[:12]]
    first_label = next((i for i, line in enumerate(head) if _CUSTOMER_LABEL.match(line)), None)
    customer = _customer_lines(head)
    above = [i for i in range(len(head)) if first_label is None or i < first_label]
    others = [i for i in range(len(head)) if i not in customer and i not in above]
    for region in (above, above + others):
        found = _suffixed_name(head, region)
        if found[0] is None:
            found = next(((head[i], i) for i in region if _reads_as_name(head[i])), (None, None))
        if found[0] is not None:
            return _clean_name(found[0]), found[1]
    return None, None


def _labelled_vendor(lines: list[str]) -> tuple[str | None, int | None]:
    """ "From: Acme Ltd", or "From:" with the name on a line below it (the rest of the
    label's line is then another column, "Invoice Date: …")."""
    for index, line in enumerate(lines):
        label = _VENDOR_LABEL.match(line)
        if not label:
            continue
        if _reads_as_name(label.group(1)):
            return _clean_name(label.group(1)), index
        for below in range(index + 1, min(index + 3, len(lines))):
            if _reads_as_name(lines[below]):
                return _clean_name(lines[below]), below
    return None, None


def _suffixed_name(head: list[str], region: list[int]) -> tuple[str | None, int | None]:
    """The first line of `region` with a company suffix, joined with the line above or
    below when the name is split."""
    for index in region:
        line = head[index]
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
        return name, end
    return None, None


def _not_a_name(line: str) -> bool:
    return bool(_COPY_MARK.match(line) or _TAGLINE.match(line))


def _name_text(line: str) -> str:
    """The line without the document's title or a greeting printed beside the name
    ("Acme Ltd   INVOICE", "WELCOME TO Blue Heron Coffee")."""
    return _TITLE_EDGE.sub("", line).strip()


def _reads_as_name(line: str) -> bool:
    letters = sum(ch.isalpha() for ch in line)
    if letters < 3 or letters < 0.6 * len(line.replace(" ", "")):
        return False
    return not (_NOT_NAME.search(line) or _GREETING.search(line) or _looks_like_address(line))


def _looks_like_address(line: str) -> bool:
    """A street with its number ("221 King Street", "Lot 18, Jalan Bukit Bintang") or a
    postcode ("10115 Berlin", "Leeds LS1 4AP"); "Maple Street Pharmacy" is a name."""
    has_digit = any(ch.isdigit() for ch in line)
    return bool(has_digit and _STREET.search(line)) or bool(_POSTCODE.search(line))


def _customer_lines(head: list[str]) -> set[int]:
    """Indices of a "Bill to" / "Ship to" block (the label, the customer's name and
    address): the customer's name is not the vendor's."""
    found: set[int] = set()
    for index, line in enumerate(head):
        if _CUSTOMER_LABEL.match(line):
            found.update(range(index, min(len(head), index + 4)))
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
            if rest and not _SHIP_TO.match(rest):  # "Bill To: Ship To:", two blocks side by side
                return rest
            if index + 1 < len(lines):
                return lines[index + 1]
    return None
