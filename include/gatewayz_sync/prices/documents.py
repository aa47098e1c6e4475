"""A reference source's document -> its priced entries, keyed by the source's own provider and model ids.

One reader per format. Every price goes through the catalog's one unit converter (`catalog/units.py`):
models.dev and genai-prices quote USD per 1M tokens, LiteLLM USD per token (read as exact decimals, never
floats). A field that is not a usable price is dropped and counted; an entry without an input or output price
is left out (there is nothing to compare or store).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from .. import clock
from ..catalog.units import InvalidPrice, usd_per_mtok
from ..sources.specs import PriceUnit
from .price_set import PriceSet


@dataclass(frozen=True)
class ReferenceEntry:
    source_provider: str
    source_model_id: str
    prices: PriceSet
    checked_at: date | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ReferenceIndex:
    """entries[source provider][source model id]; aliases[source provider][lower-cased alias] -> model id."""

    entries: dict[str, dict[str, ReferenceEntry]] = field(default_factory=dict)
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    dropped: Counter = field(default_factory=Counter)

    def add(self, entry: ReferenceEntry) -> None:
        self.entries.setdefault(entry.source_provider, {})[entry.source_model_id] = entry

    @property
    def size(self) -> int:
        return sum(len(models) for models in self.entries.values())


class _Prices:
    """Collects one entry's converted prices, counting the values that are not usable prices."""

    def __init__(self, unit: PriceUnit, dropped: Counter):
        self.unit, self.dropped, self.values = unit, dropped, {}

    def put(self, name: str, raw: Any) -> None:
        if raw is None or name in self.values:
            return
        try:
            self.values[name] = usd_per_mtok(raw, self.unit)
        except InvalidPrice as problem:
            self.dropped[problem.reason] += 1

    def tier(self, threshold: Any, prices: Mapping[str, Any]) -> None:
        if "long_context_threshold" in self.values or not isinstance(threshold, int | Decimal) or threshold <= 0:
            return
        self.values["long_context_threshold"] = int(threshold)
        for name, raw in prices.items():
            self.put(f"{name}_long_context", raw)

    def price_set(self) -> PriceSet | None:
        prices = PriceSet(**self.values)
        return prices if prices.has_token_price else None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def read_models_dev(document: Any) -> ReferenceIndex:
    """models.dev `api.json`: {provider: {models: {id: {cost: {input, output, cache_read, cache_write, reasoning,
    tiers: [{input, output, cache_read, tier: {type: "context", size}}]}, last_updated}}}}."""
    index = ReferenceIndex()
    for provider_id, provider in (document or {}).items():
        models = provider.get("models") if isinstance(provider, Mapping) else None
        for model_id, model in (models or {}).items():
            cost = model.get("cost") if isinstance(model, Mapping) else None
            if not isinstance(cost, Mapping):
                continue
            prices = _Prices(PriceUnit.USD_PER_1M_TOKENS, index.dropped)
            for name in ("input", "output", "cache_read", "cache_write", "reasoning"):
                prices.put(name, cost.get(name))
            tiers = sorted(
                (t for t in cost.get("tiers") or [] if isinstance(t, Mapping) and isinstance(t.get("tier"), Mapping)
                 and t["tier"].get("type", "context") == "context"),
                key=lambda t: t["tier"].get("size") or 0,
            )
            for tier in tiers[:1]:
                prices.tier(tier["tier"].get("size"), {k: tier.get(k) for k in ("input", "output", "cache_read")})
            if (price_set := prices.price_set()) is None:
                continue
            detail = {"tiers": tiers} if len(tiers) > 1 else {}
            index.add(ReferenceEntry(provider_id, model_id, price_set, _date(model.get("last_updated")), detail))
    return index


_LITELLM = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
    "reasoning": "output_cost_per_reasoning_token",
    "input_batch": "input_cost_per_token_batches",
    "output_batch": "output_cost_per_token_batches",
    "input_flex": "input_cost_per_token_flex",
    "output_flex": "output_cost_per_token_flex",
}
_ABOVE = re.compile(r"^input_cost_per_token_above_(\d+)k_tokens$")


def read_litellm(document: Any) -> ReferenceIndex:
    """LiteLLM's map: {key: {litellm_provider, input_cost_per_token, ..., input_cost_per_token_above_200k_tokens,
    tiered_pricing: [{range: [lo, hi], input_cost_per_token, ...}]}}, USD per token. Keys are kept whole
    (`mistral/mistral-small-latest`); `sample_spec` (the schema's own example) and entries without a provider are
    not models."""
    index = ReferenceIndex()
    for key, entry in (document or {}).items():
        if key == "sample_spec" or not isinstance(entry, Mapping) or not isinstance(entry.get("litellm_provider"), str):
            continue
        prices = _Prices(PriceUnit.USD_PER_TOKEN, index.dropped)
        for name, column in _LITELLM.items():
            prices.put(name, entry.get(column))
        tiers = sorted(
            (t for t in entry.get("tiered_pricing") or [] if isinstance(t, Mapping) and t.get("range")),
            key=lambda t: t["range"][0],
        )
        for tier in tiers:
            if tier["range"][0] == 0:
                for name in ("input", "output", "cache_read"):
                    prices.put(name, tier.get(_LITELLM[name]))
        above = sorted(int(m.group(1)) for k in entry if (m := _ABOVE.match(k)))
        for thousands in above[:1]:
            suffix = f"_above_{thousands}k_tokens"
            prices.tier(thousands * 1000, {n: entry.get(_LITELLM[n] + suffix) for n in ("input", "output", "cache_read")})
        for tier in [t for t in tiers if t["range"][0] > 0][:1]:
            prices.tier(Decimal(tier["range"][0]).to_integral_value(),
                        {n: tier.get(_LITELLM[n]) for n in ("input", "output", "cache_read")})
        if (price_set := prices.price_set()) is None:
            continue
        detail = {"tiered_pricing": tiers} if len(tiers) > 2 else {}
        index.add(ReferenceEntry(entry["litellm_provider"], key, price_set, None, detail))
    return index


_GENAI = {
    "input": "input_mtok",
    "output": "output_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "reasoning": "output_reasoning_mtok",
}
_GENAI_VARIANTS = {"batch": {"processing": "batch"}, "flex": {"service_tier": "flex"}}


def _equals(clause: Any) -> list[str]:
    """The `equals` ids of a genai-prices match clause: the aliases the source itself declares."""
    if hasattr(clause, "or_"):
        return [alias for inner in clause.or_ for alias in _equals(inner)]
    return [clause.equals] if hasattr(clause, "equals") else []


def _standard_price(model: Any, on: date) -> Any:
    """The price in force on `on`: the last dated price that has started. Daily off-peak windows (DeepSeek)
    are not a standard price and are skipped, so the result does not depend on the hour."""
    if not isinstance(model.prices, list):
        return model.prices
    chosen = model.prices[0].prices
    for conditional in model.prices:
        constraint = conditional.constraint
        if constraint is None or (hasattr(constraint, "start_date") and constraint.start_date <= on):
            chosen = conditional.prices
    return chosen


def _base_and_tiers(value: Any) -> tuple[Any, list]:
    return (value.base, list(value.tiers)) if hasattr(value, "tiers") else (value, [])


def read_genai_prices(providers: list, on: date | None = None) -> ReferenceIndex:
    """genai-prices' bundled `providers` (its pydantic types), prices as in force on `on` (the catalog's today)."""
    on = on or clock.today()
    index = ReferenceIndex()
    for provider in providers:
        aliases = index.aliases.setdefault(provider.id, {})
        for model in provider.models:
            price = _standard_price(model, on)
            prices = _Prices(PriceUnit.USD_PER_1M_TOKENS, index.dropped)
            tiers: dict[str, list] = {}
            for name, attribute in _GENAI.items():
                base, tiers[name] = _base_and_tiers(getattr(price, attribute, None))
                prices.put(name, base)
            first = min((t.start for tier_list in tiers.values() for t in tier_list), default=None)
            if first is not None:
                prices.tier(first, {n: next((t.price for t in tiers.get(n, []) if t.start == first), None)
                                    for n in ("input", "output", "cache_read")})
            for variant, when in _GENAI_VARIANTS.items():
                for option in model.price_variants or []:
                    if option.when == when and (option.constraint is None or not hasattr(option.constraint, "start_date")
                                                or option.constraint.start_date <= on):
                        for name in ("input", "output"):
                            prices.put(f"{name}_{variant}", _base_and_tiers(getattr(option.prices, _GENAI[name], None))[0])
            if (price_set := prices.price_set()) is None:
                continue
            detail = {"tiers": {n: [[t.start, t.price] for t in ts] for n, ts in tiers.items() if len(ts) > 1}}
            index.add(ReferenceEntry(provider.id, model.id, price_set, None, detail if detail["tiers"] else {}))
            for alias in _equals(model.match):
                aliases.setdefault(alias.lower(), model.id)
    return index


def bundled_genai_prices() -> tuple[list, str]:
    """The pinned package's providers and its version."""
    from importlib.metadata import version

    from genai_prices.data import providers

    return providers, f"genai-prices {version('genai-prices')} (PyPI)"


READERS: Mapping[str, Callable[[Any], ReferenceIndex]] = {
    "models.dev": read_models_dev,
    "litellm": read_litellm,
    "genai-prices": read_genai_prices,
}
