"""What a price is: an amount per unit of one meter, under one condition. A model's prices are a `PriceSheet`.

A meter is what is counted (input, output, cache reads, audio or image tokens, web searches, requests...), in
its own unit: tokens and characters are priced per 1M, every other unit per one (a second, a minute, an hour,
an image, a megapixel, a page, a request). A price that is not per token never lands under a token key, so a
per-character text-to-speech price can never be billed as a per-token one. The condition says when the price
applies: above N input tokens (a long-context tier), a service tier (batch, flex, priority), a daily UTC time
window (DeepSeek's peak hours), or a source-specific option (a search context size, an image quality).

Amounts are exact Decimals converted once (`units.py`): a source's per-token float becomes `x * 10**6`, a
per-1,000-requests price `x / 1000`, a per-gigapixel price `x / 1000` per megapixel; only powers of ten, so the
conversion never rounds.

The flat `price_*` columns of `models` (and of the candidates and operator tables) are a projection of a sheet:
the base token prices, the per-request, per-input-image and per-web-search prices, the lowest long-context tier,
batch and flex input/output. Every other price exists only as a row of `model_prices`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .units import canonical

TOKEN, CHARACTER, SECOND, MINUTE, HOUR = "token", "character", "second", "minute", "hour"
IMAGE, MEGAPIXEL, PAGE, REQUEST = "image", "megapixel", "page", "request"
UNITS = (TOKEN, CHARACTER, SECOND, MINUTE, HOUR, IMAGE, MEGAPIXEL, PAGE, REQUEST)
PER_MILLION_UNITS = (TOKEN, CHARACTER)
STANDARD = "standard"

METERS: Mapping[str, str] = {
    "input": "input (prompt) tokens, or characters for text-to-speech",
    "output": "output (completion) tokens",
    "cache_read": "cached input tokens read",
    "cache_write": "input tokens written to the cache (default lifetime)",
    "cache_write_1h": "input tokens written to the 1-hour cache",
    "reasoning": "reasoning tokens, where priced apart from output",
    "input_audio": "audio input: tokens, or seconds / minutes / hours of audio",
    "output_audio": "audio output: tokens, or seconds of audio",
    "cache_read_audio": "cached audio input tokens read",
    "cache_write_audio": "audio input tokens written to the cache",
    "input_image": "image input: tokens, or images",
    "output_image": "image output: tokens, images or megapixels",
    "cache_read_image": "cached image input tokens read",
    "input_video": "video input: tokens or seconds",
    "output_video": "video output: tokens or seconds",
    "output_citation": "citation tokens",
    "input_document": "document pages read (OCR)",
    "input_annotated_document": "annotated document pages read (OCR)",
    "input_text_message": "text messages (per message)",
    "web_search": "web searches",
    "storage_search": "file or vector-store searches",
    "code_execution": "code execution sessions",
    "rerank": "rerank searches",
    "request": "requests",
}
HEADLINE_METERS = ("input", "output")
# The units a meter can be counted in; anything else is a price in a wrong unit.
METER_UNITS = {
    "input": ("token", "character"), "output": ("token", "character"), "cache_read": ("token", "character"),
    "input_audio": ("token", "second", "minute", "hour"), "output_audio": ("token", "second", "minute", "hour"),
    "input_image": ("token", "image", "megapixel"), "output_image": ("token", "image", "megapixel"),
    "input_video": ("token", "second"), "output_video": ("token", "second"),
    "input_document": ("page",), "input_annotated_document": ("page",),
    **dict.fromkeys(("web_search", "storage_search", "code_execution", "rerank", "request", "input_text_message"),
                    ("request",)),
}
_WINDOW = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


class InvalidMeter(ValueError):
    """A price key outside the vocabulary: a reader or spec bug, never data to store."""


@dataclass(frozen=True, order=True, eq=True)
class PriceKey:
    meter: str
    unit: str = TOKEN
    above_input_tokens: int = 0
    service_tier: str = STANDARD
    time_window: str = ""
    option: str = ""

    def __post_init__(self) -> None:
        if self.meter not in METERS:
            raise InvalidMeter(f"unknown meter {self.meter!r}")
        if self.unit not in UNITS:
            raise InvalidMeter(f"unknown unit {self.unit!r}")
        if self.above_input_tokens < 0:
            raise InvalidMeter(f"negative token threshold {self.above_input_tokens}")
        if not self.service_tier or not self.service_tier.replace("_", "").isalnum():
            raise InvalidMeter(f"bad service tier {self.service_tier!r}")
        if self.time_window and not _WINDOW.match(self.time_window):
            raise InvalidMeter(f"bad time window {self.time_window!r} (HH:MM-HH:MM, UTC)")
        object.__setattr__(self, "_hash", hash((self.meter, self.unit, self.above_input_tokens, self.service_tier,
                                                self.time_window, self.option)))
        object.__setattr__(self, "_dict", {"meter": self.meter, "unit": self.unit,
                                           "above_input_tokens": self.above_input_tokens,
                                           "service_tier": self.service_tier, "time_window": self.time_window,
                                           "option": self.option})

    def __hash__(self) -> int:  # keys are hashed millions of times over a large catalog: once is enough
        return self._hash

    @property
    def per_units(self) -> int:
        return 1_000_000 if self.unit in PER_MILLION_UNITS else 1

    @property
    def is_base(self) -> bool:
        """No condition: the price from the first token, standard service, at any time, no option."""
        return (self.above_input_tokens, self.service_tier, self.time_window, self.option) == (0, STANDARD, "", "")

    def condition(self) -> str:
        """The condition in words ("" for none): `above 200,000 input tokens; batch; 01:00-04:00 UTC`."""
        parts = []
        if self.above_input_tokens:
            parts.append(f"above {self.above_input_tokens:,} input tokens")
        if self.service_tier != STANDARD:
            parts.append(self.service_tier)
        if self.time_window:
            parts.append(f"{self.time_window} UTC")
        if self.option:
            parts.append(self.option)
        return "; ".join(parts)

    def unit_label(self) -> str:
        return f"USD per 1M {self.unit}s" if self.unit in PER_MILLION_UNITS else f"USD per {self.unit}"

    def label(self) -> str:
        """`input_audio per minute`, `input per 1M tokens above 200,000 input tokens`."""
        per = f"per 1M {self.unit}s" if self.unit in PER_MILLION_UNITS else f"per {self.unit}"
        condition = self.condition()
        return f"{self.meter} {per}" + (f" ({condition})" if condition else "")

    def slug(self) -> str:
        """A compact stable name (a `model_changes.field` for prices without a flat column): `input/character`,
        `input/token>200000`, `output/token;batch`, `input/token@01:00-04:00`, `web_search/request[search_context=high]`."""
        text = f"{self.meter}/{self.unit}"
        if self.above_input_tokens:
            text += f">{self.above_input_tokens}"
        if self.service_tier != STANDARD:
            text += f";{self.service_tier}"
        if self.time_window:
            text += f"@{self.time_window}"
        if self.option:
            text += f"[{self.option}]"
        return text

    def as_dict(self) -> dict[str, Any]:
        """The key's fields (a shared dict: copy it before changing it)."""
        return self._dict


@lru_cache(maxsize=4096)
def price_key(meter: str, unit: str = TOKEN, above_input_tokens: int = 0, service_tier: str = STANDARD,
              time_window: str = "", option: str = "") -> PriceKey:
    """A (validated, shared) key: catalogs repeat the same few hundred keys across thousands of models."""
    return PriceKey(meter, unit, above_input_tokens, service_tier, time_window, option)


BASE_COLUMNS: Mapping[PriceKey, str] = {
    PriceKey("input"): "price_input_usd_per_mtok",
    PriceKey("output"): "price_output_usd_per_mtok",
    PriceKey("cache_read"): "price_cache_read_usd_per_mtok",
    PriceKey("cache_write"): "price_cache_write_usd_per_mtok",
    PriceKey("reasoning"): "price_reasoning_usd_per_mtok",
    PriceKey("request", REQUEST): "price_request_usd",
    PriceKey("input_image", IMAGE): "price_image_usd",
    PriceKey("web_search", REQUEST): "price_web_search_usd",
}
SERVICE_COLUMNS: Mapping[PriceKey, str] = {
    PriceKey("input", service_tier="batch"): "price_input_batch_usd_per_mtok",
    PriceKey("output", service_tier="batch"): "price_output_batch_usd_per_mtok",
    PriceKey("input", service_tier="flex"): "price_input_flex_usd_per_mtok",
    PriceKey("output", service_tier="flex"): "price_output_flex_usd_per_mtok",
}
THRESHOLD_COLUMN = "price_long_context_threshold_tokens"
LONG_CONTEXT_COLUMNS: Mapping[str, str] = {
    "input": "price_input_long_context_usd_per_mtok",
    "output": "price_output_long_context_usd_per_mtok",
    "cache_read": "price_cache_read_long_context_usd_per_mtok",
}
FLAT_COLUMNS: tuple[str, ...] = (
    *BASE_COLUMNS.values(), THRESHOLD_COLUMN, *LONG_CONTEXT_COLUMNS.values(), *SERVICE_COLUMNS.values()
)


class PriceSheet(Mapping[PriceKey, Decimal]):
    """One model's prices from one place (a listing, a source entry, an operator, the stored decision):
    an immutable mapping PriceKey -> amount, with the source of each price where they come from several."""

    __slots__ = ("_amounts", "_sources")

    def __init__(self, amounts: Mapping[PriceKey, Decimal] | Iterable[tuple[PriceKey, Decimal]] = (),
                 sources: Mapping[PriceKey, str] | None = None):
        items = amounts.items() if isinstance(amounts, Mapping) else amounts
        self._amounts: dict[PriceKey, Decimal] = {key: canonical(Decimal(value)) for key, value in sorted(items)}
        self._sources = dict(sources or {})

    @classmethod
    def _exact(cls, amounts: dict[PriceKey, Decimal], sources: dict[PriceKey, str]) -> PriceSheet:
        """A sheet of amounts that are exact Decimals already (read back from this catalog): not converted again."""
        sheet = cls.__new__(cls)
        sheet._amounts, sheet._sources = dict(sorted(amounts.items())), sources
        return sheet

    def __getitem__(self, key: PriceKey) -> Decimal:
        return self._amounts[key]

    def get(self, key: PriceKey, default: Decimal | None = None) -> Decimal | None:
        return self._amounts.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._amounts

    def items(self):
        return self._amounts.items()

    def __iter__(self) -> Iterator[PriceKey]:
        return iter(self._amounts)

    def __len__(self) -> int:
        return len(self._amounts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PriceSheet):
            return self._amounts == other._amounts
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._amounts.items()))

    def __repr__(self) -> str:
        return "PriceSheet({" + ", ".join(f"{k.slug()}: {v}" for k, v in self._amounts.items()) + "})"

    def source_of(self, key: PriceKey) -> str | None:
        return self._sources.get(key)

    def amount(self, meter: str, unit: str = TOKEN, **condition: Any) -> Decimal | None:
        return self._amounts.get(PriceKey(meter, unit, **condition))

    @property
    def has_headline(self) -> bool:
        """A base input or output price in some unit: something to compare and bill the main use by."""
        return any(key.is_base and key.meter in HEADLINE_METERS for key in self._amounts)

    def headline(self) -> dict[PriceKey, Decimal]:
        return {key: value for key, value in self._amounts.items() if key.is_base and key.meter in HEADLINE_METERS}

    @property
    def has_windows(self) -> bool:
        return any(key.time_window for key in self._amounts)

    @property
    def any_positive(self) -> bool:
        return any(value > 0 for value in self._amounts.values())

    @property
    def all_zero(self) -> bool:
        return bool(self._amounts) and not self.any_positive

    def zero_keys(self) -> list[PriceKey]:
        return [key for key, value in self._amounts.items() if value == 0]

    def without_zeros(self) -> PriceSheet:
        """A listed 0 is not a price (except on an explicit free variant): the key is left out, unknown."""
        if all(self._amounts.values()):
            return self
        return PriceSheet._exact({k: v for k, v in self._amounts.items() if v != 0}, self._sources)

    def tiers(self) -> list[int]:
        return sorted({key.above_input_tokens for key in self._amounts if key.above_input_tokens})

    def with_source(self, source: str) -> PriceSheet:
        return PriceSheet._exact(self._amounts, dict.fromkeys(self._amounts, source))

    def merged(self, other: PriceSheet, source: str) -> PriceSheet:
        """These prices, plus those of `other` under keys this sheet lacks (attributed to `source`)."""
        added = {key: value for key, value in other.items() if key not in self._amounts}
        if not added:
            return self
        return PriceSheet._exact({**self._amounts, **added}, {**self._sources, **dict.fromkeys(added, source)})

    def columns(self) -> dict[str, Decimal | int | None]:
        """The flat projection (see the module docstring), every column present, None where no price."""
        values: dict[str, Decimal | int | None] = dict.fromkeys(FLAT_COLUMNS)
        for key, column in (*BASE_COLUMNS.items(), *SERVICE_COLUMNS.items()):
            values[column] = self._amounts.get(key)
        thresholds = sorted({key.above_input_tokens for key in self._amounts
                             if key.above_input_tokens and key.unit == TOKEN and key.service_tier == STANDARD
                             and not key.time_window and not key.option and key.meter in LONG_CONTEXT_COLUMNS})
        if thresholds:
            values[THRESHOLD_COLUMN] = thresholds[0]
            for meter, column in LONG_CONTEXT_COLUMNS.items():
                values[column] = self._amounts.get(PriceKey(meter, above_input_tokens=thresholds[0]))
        return values

    @classmethod
    def from_columns(cls, values: Mapping[str, Any]) -> PriceSheet:
        """A sheet from flat columns (operator prices; rows stored before model_prices existed)."""
        amounts: dict[PriceKey, Decimal] = {}
        for key, column in (*BASE_COLUMNS.items(), *SERVICE_COLUMNS.items()):
            if values.get(column) is not None:
                amounts[key] = Decimal(values[column])
        threshold = values.get(THRESHOLD_COLUMN)
        if threshold:
            for meter, column in LONG_CONTEXT_COLUMNS.items():
                if values.get(column) is not None:
                    amounts[PriceKey(meter, above_input_tokens=int(threshold))] = Decimal(values[column])
        return cls(amounts)

    def rows(self) -> list[dict[str, Any]]:
        """Each price as a plain dict, amounts as exact strings (JSON, the web pages, exports)."""
        return [{**key.as_dict(), "amount_usd": format(value, "f"), "per_units": key.per_units,
                 "source": self._sources.get(key)} for key, value in self._amounts.items()]

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> PriceSheet:
        amounts, sources = {}, {}
        for row in rows:
            key = price_key(row["meter"], row["unit"], int(row.get("above_input_tokens") or 0),
                            row.get("service_tier") or STANDARD, row.get("time_window") or "", row.get("option") or "")
            amount = row["amount_usd"]
            amounts[key] = amount if isinstance(amount, Decimal) else Decimal(str(amount))
            if row.get("source"):
                sources[key] = row["source"]
        return cls._exact(amounts, sources)
