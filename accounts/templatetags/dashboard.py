from __future__ import annotations

from decimal import Decimal

from django import template

from billing.money import micros_to_usd

register = template.Library()


@register.filter
def usd(micros) -> str:
    """Micro-dollars for people: '$12.50', or every significant digit below a cent."""
    if micros is None or micros == "":
        return "—"
    value = micros_to_usd(int(micros))
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value == value.quantize(Decimal("0.01")):
        return f"{sign}${value:,.2f}"
    return f"{sign}${value.normalize():,f}"
