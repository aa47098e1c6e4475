"""How two price sheets compare: 1% agreement on the headline prices, a 10x gap on any shared price.

Two sheets *agree* when every headline price they share (base input and output, per token or per character)
is within 1%, and they share at least one. Two sheets are a *unit error* apart when any price they share under
the same key (meter, unit, condition) is 10x or more away; a zero is no measure of a unit error.
"""

from __future__ import annotations

from decimal import Decimal

from ..catalog.meters import PriceKey, PriceSheet

AGREEMENT = Decimal("0.01")
UNIT_ERROR_RATIO = Decimal(10)


def within(a: Decimal, b: Decimal, tolerance: Decimal = AGREEMENT) -> bool:
    return a == b or abs(a - b) <= tolerance * max(abs(a), abs(b))


def agrees(a: PriceSheet, b: PriceSheet) -> bool:
    """Every shared headline price within 1% (at least one shared)."""
    mine, theirs = a.headline(), b.headline()
    shared = [key for key in mine if key in theirs]
    return bool(shared) and all(within(mine[key], theirs[key]) for key in shared)


def gap_rank(key: PriceKey) -> tuple:
    """Which of equally wide gaps is named: the base input, then output, then the rest in key order."""
    headline = key.is_base and key.meter in ("input", "output")
    return (not headline, key.meter != "input", key)


def widest_gap(a: PriceSheet, b: PriceSheet) -> tuple[Decimal, PriceKey] | None:
    """The largest ratio between two prices both give above zero under the same key, and that key."""
    widest: tuple[Decimal, PriceKey] | None = None
    for key in sorted(a, key=gap_rank):
        x, y = a[key], b.get(key)
        if y is None or x <= 0 or y <= 0:
            continue
        ratio = max(x, y) / min(x, y)
        if widest is None or ratio > widest[0]:
            widest = (ratio, key)
    return widest


def unit_error(a: PriceSheet, b: PriceSheet) -> tuple[Decimal, PriceKey] | None:
    """(ratio, key) when two sheets are 10x or more apart on some shared price: a unit error, not a price."""
    gap = widest_gap(a, b)
    return gap if gap is not None and gap[0] >= UNIT_ERROR_RATIO else None


def price_jump(stored: PriceSheet, listed: PriceSheet) -> tuple[Decimal, PriceKey] | None:
    """(ratio, key) when a listing moves a stored list-API price 10x or more, either way, on any price both give
    above zero under the same meter, unit and condition: a unit slip (per 1K read as per token) until someone
    confirms it."""
    return unit_error(stored, listed)


def gap_name(key: PriceKey) -> str:
    """How a gap's key is named in a reason: the meter alone for a base token price (`output 12.0x`)."""
    return key.meter if key.is_base and key.unit == "token" else key.label()
