"""One source's prices for one model, in the catalog's unit (USD per 1M tokens), and how two of them compare.

The same fields are columns of `models`, `model_price_candidates` and `operator_prices`. Long-context prices
are the first tier above `long_context_threshold` input tokens (where a source gives several tiers, the rest
stay in the candidate's `detail`); batch and flex are the provider's discounted processing modes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from ..catalog.records import PRICE_COLUMNS

AGREEMENT = Decimal("0.01")
UNIT_ERROR_RATIO = Decimal(10)
AGREEMENT_FIELDS = ("input", "output")
RATIO_FIELDS = ("input", "output", "cache_read", "cache_write")
JUMP_FIELDS = tuple(PRICE_COLUMNS)

VARIANT_COLUMNS = {
    "long_context_threshold": "price_long_context_threshold_tokens",
    "input_long_context": "price_input_long_context_usd_per_mtok",
    "output_long_context": "price_output_long_context_usd_per_mtok",
    "cache_read_long_context": "price_cache_read_long_context_usd_per_mtok",
    "input_batch": "price_input_batch_usd_per_mtok",
    "output_batch": "price_output_batch_usd_per_mtok",
    "input_flex": "price_input_flex_usd_per_mtok",
    "output_flex": "price_output_flex_usd_per_mtok",
}
COLUMNS = {**PRICE_COLUMNS, **VARIANT_COLUMNS}


@dataclass(frozen=True)
class PriceSet:
    input: Decimal | None = None
    output: Decimal | None = None
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None
    request: Decimal | None = None
    image: Decimal | None = None
    web_search: Decimal | None = None
    long_context_threshold: int | None = None
    input_long_context: Decimal | None = None
    output_long_context: Decimal | None = None
    cache_read_long_context: Decimal | None = None
    input_batch: Decimal | None = None
    output_batch: Decimal | None = None
    input_flex: Decimal | None = None
    output_flex: Decimal | None = None

    @property
    def has_token_price(self) -> bool:
        return self.input is not None or self.output is not None

    def columns(self) -> dict[str, Any]:
        """{column name: value} for every field, in `COLUMNS` order."""
        return {COLUMNS[f.name]: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_columns(cls, values: dict[str, Any]) -> PriceSet:
        return cls(**{name: values.get(column) for name, column in COLUMNS.items()})

    def as_text(self) -> dict[str, str]:
        """The set fields as exact strings (for JSON)."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None}


def within(a: Decimal, b: Decimal, tolerance: Decimal = AGREEMENT) -> bool:
    return a == b or abs(a - b) <= tolerance * max(abs(a), abs(b))


def agrees(a: PriceSet, b: PriceSet) -> bool:
    """Input and output, where both give them (at least one), within 1% of each other."""
    shared = [name for name in AGREEMENT_FIELDS if getattr(a, name) is not None and getattr(b, name) is not None]
    return bool(shared) and all(within(getattr(a, name), getattr(b, name)) for name in shared)


def widest_gap(a: PriceSet, b: PriceSet, names: tuple[str, ...] = RATIO_FIELDS) -> tuple[Decimal, str] | None:
    """The largest ratio between two prices both give above zero, and its field; None when nothing compares.

    A zero next to a price is no measure of a unit error (an embedding's output), so it is left out.
    """
    widest: tuple[Decimal, str] | None = None
    for name in names:
        x, y = getattr(a, name), getattr(b, name)
        if x is None or y is None or x <= 0 or y <= 0:
            continue
        ratio = max(x, y) / min(x, y)
        if widest is None or ratio > widest[0]:
            widest = (ratio, name)
    return widest


def unit_error(a: PriceSet, b: PriceSet) -> tuple[Decimal, str] | None:
    """(ratio, field) when two price sets are 10x or more apart on some field: a unit error, not a price."""
    gap = widest_gap(a, b)
    return gap if gap is not None and gap[0] >= UNIT_ERROR_RATIO else None


def price_jump(stored: PriceSet, listed: PriceSet) -> tuple[Decimal, str] | None:
    """(ratio, meter) when a listing moves a stored list-API price 10x or more, either way, on any meter both give
    above zero: a unit slip (per 1K read as per token) until someone confirms it. Meter by meter, as per-meter
    price rows will compare."""
    gap = widest_gap(stored, listed, JUMP_FIELDS)
    return gap if gap is not None and gap[0] >= UNIT_ERROR_RATIO else None
