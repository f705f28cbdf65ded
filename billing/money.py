"""Conversions between micro-dollars (int) and USD (Decimal). No floats near money."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MICROS_PER_USD = 1_000_000
MICRO_USD = Decimal("0.000001")


def usd_to_micros(usd: Decimal | str | int) -> int:
    value = Decimal(str(usd))
    if not value.is_finite():
        raise ValueError("amount must be finite")
    return int((value * MICROS_PER_USD).to_integral_value(rounding=ROUND_HALF_UP))


def usd_exact_to_micros(usd: Decimal | str | int) -> int:
    """`usd_to_micros` for amounts an operator types: one finer than a micro-dollar is a
    ValueError, not rounded (money is whole micro-dollars)."""
    value = Decimal(str(usd))
    if value.is_finite() and value != value.quantize(MICRO_USD):
        raise ValueError(f"{usd} is finer than a micro-dollar (at most 6 decimal places)")
    return usd_to_micros(value)


def micros_to_usd(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS_PER_USD).quantize(MICRO_USD)


def micros_to_usd_str(micros: int) -> str:
    """Plain decimal string for headers and JSON: '0.001055'."""
    return format(micros_to_usd(micros), "f")


def usd_str(usd: Decimal) -> str:
    """At least six decimals ('0.001055'), more when the amount needs them ('0.0015825')."""
    six = usd.quantize(Decimal("0.000001"))
    return format(six if six == usd else usd.normalize(), "f")


def micros_to_cents(micros: int) -> Decimal:
    """Exact cents as a Decimal (1 cent = 10,000 micros): 0.1055 for 1,055 micros."""
    return (Decimal(micros) / 10_000).normalize() if micros else Decimal(0)


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)
