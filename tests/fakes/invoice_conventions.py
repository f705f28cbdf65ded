"""How receipts and invoices are written in five places (US, UK, euro area, Malaysia,
Singapore): currency styles, date formats, tax labels, names and addresses; and the two
functions that print money and dates in those styles. Used by tests/fakes/invoices.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

CENT = Decimal("0.01")
MONTHS = "January February March April May June July August September October November December"


@dataclass(frozen=True)
class Convention:
    name: str
    money: tuple[str, ...]  # styles for `money`
    dates: tuple[str, ...]  # styles for `date_text`
    tax: tuple[str, ...]
    vendors: tuple[str, ...]
    cities: tuple[str, ...]
    phone: str
    tax_id: str


CONVENTIONS = (
    Convention(
        "us",
        ("$", "USD ", "bare-usd"),
        ("m/d/Y", "m/d/y", "Mon d, Y", "Month d, Y", "Y-m-d"),
        ("Sales Tax 8.25%", "Tax 7%", "Tax"),
        (
            "Northgate Hardware Co.",
            "The Corner Bakery",
            "Brightline Consulting Inc.",
            "Blue Heron Coffee",
            "Summit Office Supply",
            "Harborview Auto Repair LLC",
            "Maple Street Pharmacy",
            "Redwood Analytics Corp.",
        ),
        ("Portland, OR 97205", "Austin, TX 78701", "Columbus, OH 43215", "Denver, CO 80202"),
        "Tel: (503) 555-0147",
        "EIN: 47-1234567",
    ),
    Convention(
        "uk",
        ("£", "GBP ", "bare-gbp"),
        ("d/m/Y", "d Mon Y", "d Month Y", "d-m-Y", "d/m/y"),
        ("VAT 20%", "VAT"),
        (
            "Fenwick & Daughters Ltd",
            "The Kings Arms",
            "Greenleaf Grocers",
            "Oxford Print Studio Ltd",
            "Castle Lane Books",
            "Pennine Joinery Limited",
        ),
        ("Leeds LS1 4AP", "Bristol BS1 5TR", "Oxford OX1 2JD", "York YO1 7HH"),
        "Tel: 0113 496 0821",
        "VAT Reg No: GB 123 4567 89",
    ),
    Convention(
        "eu",
        ("€", "suffix-€", "EUR ", "€eu", "suffix-EUR"),
        ("d.m.Y", "Y-m-d", "d Mon Y", "d/m/Y"),
        ("VAT 19%", "VAT 21%", "VAT"),
        (
            "Nordlicht Software GmbH",
            "Van Dijk Techniek B.V.",
            "Atelier Rousseau SARL",
            "Kaffeehaus Lindner",
            "Brennan & Walsh Ltd",
            "Studio Verde S.r.l.",
        ),
        ("10115 Berlin", "1017 AB Amsterdam", "75011 Paris", "D02 X285 Dublin"),
        "Tel: +49 30 1234 5678",
        "VAT No: DE 293 847 561",
    ),
    Convention(
        "my",
        ("RM ", "RM", "bare-myr"),
        ("d/m/Y", "d-m-Y", "d/m/y", "d Mon Y"),
        ("GST 6%", "SST 6%", "Service Tax 6%"),
        (
            "KEDAI RUNCIT AH HOCK",
            "SYARIKAT PERNIAGAAN SOON HUAT",
            "MAJU JAYA ENTERPRISE",
            "RESTORAN NASI KANDAR PELITA",
            "GOLDEN MART SDN BHD",
            "MEGA HARDWARE TRADING",
        ),
        ("47400 Petaling Jaya, Selangor", "81200 Johor Bahru, Johor", "50450 Kuala Lumpur"),
        "Tel: 03-7722 1188",
        "GST ID: 001234567890",
    ),
    Convention(
        "sg",
        ("S$", "SGD "),
        ("d/m/Y", "d Mon Y", "Y-m-d"),
        ("GST 9%", "GST"),
        ("Tan Brothers Pte Ltd", "Lucky Plaza Florist", "Kopi Corner", "Orchid Electrical Pte Ltd"),
        ("Singapore 238859", "Singapore 059815"),
        "Tel: +65 6734 2210",
        "GST Reg No: M2-0123456-7",
    ),
)
CUSTOMERS = (
    "Contoso Ltd",
    "Acme Corporation",
    "Globex Inc.",
    "Initech LLC",
    "Jane Whitfield",
    "Umbrella Holdings Ltd",
    "Wayne Logistics GmbH",
)
STREETS = (
    "1200 Market Street, Suite 5",
    "42 Harbour Road",
    "Unit 7, Riverside Park",
    "Lot 18, Jalan Bukit Bintang",
    "Hauptstrasse 14",
    "221 King Street",
)
ITEMS = (
    "Espresso",
    "Croissant",
    "Copy paper A4",
    "Ink cartridge",
    "Consulting hours",
    "Website hosting",
    "Brake pads",
    "Paracetamol 500mg",
    "Nasi lemak",
    "Teh tarik",
    "Hex bolts M8",
    "Delivery charge",
    "Annual licence",
    "Sourdough loaf",
    "USB-C cable",
)


def money(value: Decimal, style: str) -> str:
    """A money amount as `style` prints it ('$', 'RM ', 'suffix-€', '€eu' (1.234,56 €), …)."""
    sign = "-" if value < 0 else ""
    plain = f"{abs(value):,.2f}"
    if style in ("suffix-€", "€eu", "suffix-EUR"):
        european = plain.replace(",", " ").replace(".", ",").replace(" ", ".")
        if style == "€eu":
            return f"{sign}€ {european}"
        return f"{sign}{european} {style[7:]}"
    if style.startswith("bare"):
        return f"{sign}{plain}"
    return f"{sign}{style}{plain}"


def date_text(day: dt.date, style: str) -> str:
    month = MONTHS.split()[day.month - 1]
    values = {
        "d": str(day.day),
        "m": f"{day.month:02d}",
        "Y": str(day.year),
        "y": f"{day.year % 100:02d}",
        "Mon": month[:3],
        "Month": month,
    }
    if "/" in style or "-" in style or "." in style:  # numeric dates: two digits each
        values["d"] = f"{day.day:02d}"
    out = []
    for token in style.replace(",", " ,").split(" "):
        for separator in "/-.":
            if separator in token:
                token = separator.join(values[part] for part in token.split(separator))
                break
        else:
            token = values.get(token, token)
        out.append(token)
    return " ".join(out).replace(" ,", ",")
