"""Price units, converted once and exactly to USD per 1M tokens.

The original system stored per-token and per-1M prices in one column and billed 1,000,000x wrong. Every
provider declares its unit in the registry; this module is the only place a unit is turned into another.
Values stay `Decimal` end to end (JSON is parsed with `parse_float=Decimal`); a float never touches money.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from ..sources.specs import PriceUnit

# A JSON number printed from a binary double carries up to 17 significant digits (2.5999999999999996);
# any decimal a human typed with <= 15 digits survives the round trip, so 15 digits recovers it exactly.
FLOAT_NOISE_DIGITS = 15
# No token meter costs more than this per 1M tokens; a bigger value means a misdeclared unit (1000x, 1e6x).
MAX_USD_PER_MTOK = Decimal(10_000)


class InvalidPrice(ValueError):
    """The raw value is not a usable price; `reason` is a short stable key for counting."""

    def __init__(self, reason: str, raw: object):
        super().__init__(f"{reason}: {raw!r}")
        self.reason = reason


def canonical(value: Decimal) -> Decimal:
    """Strip trailing zeros without switching to exponent notation (3E+1 -> 30)."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normalized.quantize(Decimal(1))
    return normalized


def to_decimal(raw: object) -> Decimal:
    if isinstance(raw, bool) or raw is None:
        raise InvalidPrice("price_not_numeric", raw)
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise InvalidPrice("price_not_numeric", raw) from None
    else:
        raise InvalidPrice("price_not_numeric", raw)
    if not value.is_finite():
        raise InvalidPrice("price_not_numeric", raw)
    if len(value.as_tuple().digits) > FLOAT_NOISE_DIGITS and not isinstance(raw, str):
        value = round_significant(value, FLOAT_NOISE_DIGITS)
    return value


def round_significant(value: Decimal, digits: int) -> Decimal:
    if value.is_zero():
        return value
    exponent = value.adjusted() - digits + 1
    return value.quantize(Decimal(1).scaleb(exponent))


def _scaled_amount(raw: object) -> Decimal:
    if not isinstance(raw, Mapping) or "amount" not in raw or "scale" not in raw:
        raise InvalidPrice("price_not_numeric", raw)
    amount = to_decimal(raw["amount"])
    scale = raw["scale"]
    if isinstance(scale, bool) or not isinstance(scale, int) or abs(scale) > 30:
        raise InvalidPrice("price_not_numeric", raw)
    # NEAR's server sends {"amount": 850, "scale": 9}: 850 x 10^-9 USD per token (nano-dollars, the
    # BigDecimal convention); the original gateway's fallback data wrote {"amount": 1.05, "scale": -6}
    # for the same kind of price. Both read as amount x 10^-|scale|.
    return amount.scaleb(-abs(scale))


_PER_MTOK: Mapping[PriceUnit, Callable[[object], Decimal]] = {
    PriceUnit.USD_PER_TOKEN: lambda raw: to_decimal(raw) * 1_000_000,
    PriceUnit.USD_PER_1K_TOKENS: lambda raw: to_decimal(raw) * 1_000,
    PriceUnit.USD_PER_1M_TOKENS: to_decimal,
    PriceUnit.USD_0_0001_PER_1M_TOKENS: lambda raw: to_decimal(raw).scaleb(-4),
    PriceUnit.US_CENTS_PER_100M_TOKENS: lambda raw: to_decimal(raw).scaleb(-4),
    PriceUnit.USD_SCALED_AMOUNT_PER_TOKEN: lambda raw: _scaled_amount(raw) * 1_000_000,
}


def usd_per_mtok(raw: object, unit: PriceUnit, *, bounded: bool = True) -> Decimal:
    """Convert one raw token price to USD per 1M tokens; raises InvalidPrice for unusable values. `bounded=False`
    lets a value above MAX_USD_PER_MTOK through, for showing what a listing said, never for storing it."""
    try:
        converter = _PER_MTOK[unit]
    except KeyError:
        raise InvalidPrice("price_unit_undeclared", raw) from None
    value = converter(raw)
    if value < 0:
        raise InvalidPrice("price_negative", raw)
    if bounded and value > MAX_USD_PER_MTOK:
        raise InvalidPrice("price_absurd", raw)
    return canonical(value)


def usd_each(raw: object) -> Decimal:
    """A per-request / per-image / per-search price, already in USD."""
    value = to_decimal(raw)
    if value < 0:
        raise InvalidPrice("price_negative", raw)
    return canonical(value)
