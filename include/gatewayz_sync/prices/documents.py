"""A reference source's document -> its priced entries, keyed by the source's own provider and model ids.

One reader per format; each turns an entry into a `PriceSheet` holding every price the entry gives, in its own
unit and under its condition (tiers, service tiers, time windows, options), through the catalog's one unit
converter (`catalog/units.py`): models.dev and genai-prices quote USD per 1M tokens, LiteLLM USD per token (read
as exact decimals, never floats). A price field the reader does not understand is kept by name in the entry's
`unread` (the billing report counts them: a meter a source has and we drop is a bug to fix here). A listed 0 is
not a price: the key is left out. An entry that gives no price (nothing but zeros, no price field at all, only
fields not understood) is kept with `no_price` saying which, so the reason a model stays unpriced can say what
the source has for it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from .. import clock
from ..catalog.meters import (
    CHARACTER,
    HOUR,
    IMAGE,
    MEGAPIXEL,
    PAGE,
    REQUEST,
    SECOND,
    STANDARD,
    TOKEN,
    PriceKey,
    PriceSheet,
)
from ..catalog.routing import litellm_fields, models_dev_fields
from ..catalog.units import InvalidPrice, to_decimal, usd_each, usd_per_mtok
from ..sources.specs import PriceUnit
from ..untrusted import strip_controls


@dataclass(frozen=True)
class ReferenceEntry:
    source_provider: str
    source_model_id: str
    prices: PriceSheet
    checked_at: date | None = None
    unread: tuple[str, ...] = ()
    zero_only: bool = False
    # why the entry gives no price (`zero_only`), in words: `LISTED_AT_ZERO`, `LISTED_WITHOUT_PRICE`...; or, with
    # its prices kept, why they are not the first party's (`open_weights_reason`): shown, never stored
    no_price: str | None = None
    # its routing fields (`catalog/routing.py`), and the date the source last updated them
    fields: Mapping[str, Any] = field(default_factory=dict)
    fields_checked_at: date | None = None
    # the source says the model is deprecated without giving a date (models.dev's `status: deprecated`)
    deprecated_without_date: bool = False


LISTED_AT_ZERO = "listed as 0, which is not a price"
LISTED_WITHOUT_PRICE = "listed without a price"


def open_weights_reason(weights: str, reseller: str) -> str:
    """Why a reseller's price for an open-weight model is not its author's (`sources.py`, `open_weights_field`)."""
    return f"open-weight model ({weights}); {reseller}'s price is a third-party host's"


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


class _Sheet:
    """Collects one entry's prices; counts unusable values, remembers zeros and fields not understood."""

    def __init__(self, dropped: Counter):
        self.dropped, self.amounts, self.zeros, self.unread = dropped, {}, 0, []

    def put(self, key: PriceKey, raw: Any, convert: Callable[[Any], Decimal]) -> None:
        if raw is None or isinstance(raw, bool) or key in self.amounts:
            return
        try:
            value = convert(raw)
        except InvalidPrice as problem:
            self.dropped[problem.reason] += 1
            return
        if value == 0:
            self.zeros += 1
            return
        self.amounts[key] = value

    def entry(self, provider: str, model_id: str, checked_at: date | None = None, note: str = "") -> ReferenceEntry:
        unread = tuple(sorted(set(self.unread)))
        if self.amounts:
            return ReferenceEntry(provider, model_id, PriceSheet(self.amounts), checked_at, unread)
        if self.zeros:
            why = LISTED_AT_ZERO
        elif unread:
            why = f"listed with only price fields not understood ({', '.join(unread)})"
        else:
            why = LISTED_WITHOUT_PRICE + note
        return ReferenceEntry(provider, model_id, PriceSheet(), checked_at, unread, zero_only=True, no_price=why)


def _with_fields(entry: ReferenceEntry, fields: Mapping[str, Any], checked_at: date | None = None) -> ReferenceEntry:
    return replace(entry, fields=fields, fields_checked_at=checked_at) if fields else entry


def _models_dev_entry(sheet: _Sheet, provider_id: str, model_id: str, model: Mapping[str, Any]) -> ReferenceEntry:
    updated = _date(model.get("last_updated"))
    entry = _with_fields(sheet.entry(provider_id, model_id, updated), models_dev_fields(model), updated)
    return replace(entry, deprecated_without_date=True) if model.get("status") == "deprecated" else entry


def _per_mtok(raw: Any) -> Decimal:
    return usd_per_mtok(raw, PriceUnit.USD_PER_1M_TOKENS)


def _per_token(raw: Any) -> Decimal:
    return usd_per_mtok(raw, PriceUnit.USD_PER_TOKEN)


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


_MODELS_DEV = {
    "input": "input", "output": "output", "cache_read": "cache_read", "cache_write": "cache_write",
    "reasoning": "reasoning", "input_audio": "input_audio", "output_audio": "output_audio",
}


def _models_dev_prices(sheet: _Sheet, cost: Mapping[str, Any], above: int, where: str) -> None:
    for name, raw in cost.items():
        meter = _MODELS_DEV.get(name)
        if meter is not None:
            sheet.put(PriceKey(meter, TOKEN, above), raw, _per_mtok)
        elif name not in ("tier", "tiers", "context_over_200k"):
            sheet.unread.append(f"{where}{name}")


def read_models_dev(document: Any) -> ReferenceIndex:
    """models.dev `api.json`: {provider: {models: {id: {cost: {input, output, cache_read, cache_write, reasoning,
    input_audio, output_audio, tiers: [{input, ..., tier: {type: "context", size}}], context_over_200k: {...}},
    last_updated, status}}}}, USD per 1M tokens; `status: deprecated` marks the entry deprecated without a date."""
    index = ReferenceIndex()
    for provider_id, provider in (document or {}).items():
        models = provider.get("models") if isinstance(provider, Mapping) else None
        for model_id, model in (models or {}).items():
            if not isinstance(model, Mapping):
                continue
            cost = model.get("cost")
            sheet = _Sheet(index.dropped)
            if not isinstance(cost, Mapping):
                index.add(_models_dev_entry(sheet, provider_id, model_id, model))
                continue
            _models_dev_prices(sheet, cost, 0, "")
            for tier in cost.get("tiers") or []:
                bound = tier.get("tier") if isinstance(tier, Mapping) else None
                size = bound.get("size") if isinstance(bound, Mapping) else None
                if not isinstance(size, int | Decimal) or bound.get("type", "context") != "context":
                    sheet.unread.append("tiers")
                    continue
                _models_dev_prices(sheet, tier, int(size), "tiers.")
            if isinstance(cost.get("context_over_200k"), Mapping):
                _models_dev_prices(sheet, cost["context_over_200k"], 200_000, "context_over_200k.")
            index.add(_models_dev_entry(sheet, provider_id, model_id, model))
    return index


# LiteLLM's cost fields -> (meter, unit, conversion); suffixes (`_above_128k_tokens`, `_batches`, `_flex`,
# `_priority`) are conditions on the same field.
_LITELLM: Mapping[str, tuple[str, str, Callable[[Any], Decimal]]] = {
    "input_cost_per_token": ("input", TOKEN, _per_token),
    "output_cost_per_token": ("output", TOKEN, _per_token),
    "cache_read_input_token_cost": ("cache_read", TOKEN, _per_token),
    "input_cost_per_token_cache_hit": ("cache_read", TOKEN, _per_token),
    "cache_creation_input_token_cost": ("cache_write", TOKEN, _per_token),
    "cache_creation_input_token_cost_above_1hr": ("cache_write_1h", TOKEN, _per_token),
    "output_cost_per_reasoning_token": ("reasoning", TOKEN, _per_token),
    "input_cost_per_audio_token": ("input_audio", TOKEN, _per_token),
    "output_cost_per_audio_token": ("output_audio", TOKEN, _per_token),
    "cache_read_input_audio_token_cost": ("cache_read_audio", TOKEN, _per_token),
    "cache_creation_input_audio_token_cost": ("cache_write_audio", TOKEN, _per_token),
    "cache_read_input_image_token_cost": ("cache_read_image", TOKEN, _per_token),
    "input_cost_per_image_token": ("input_image", TOKEN, _per_token),
    "output_cost_per_image_token": ("output_image", TOKEN, _per_token),
    "input_cost_per_character": ("input", CHARACTER, _per_token),
    "output_cost_per_character": ("output", CHARACTER, _per_token),
    "input_cost_per_second": ("input_audio", SECOND, usd_each),
    "output_cost_per_second": ("output_audio", SECOND, usd_each),
    "input_cost_per_audio_per_second": ("input_audio", SECOND, usd_each),
    "input_cost_per_video_per_second": ("input_video", SECOND, usd_each),
    "output_cost_per_video_per_second": ("output_video", SECOND, usd_each),
    "input_cost_per_image": ("input_image", IMAGE, usd_each),
    "output_cost_per_image": ("output_image", IMAGE, usd_each),
    "input_cost_per_pixel": ("input_image", MEGAPIXEL, lambda raw: usd_each(raw) * 1_000_000),
    "output_cost_per_pixel": ("output_image", MEGAPIXEL, lambda raw: usd_each(raw) * 1_000_000),
    "input_cost_per_query": ("rerank", REQUEST, usd_each),
    "ocr_cost_per_page": ("input_document", PAGE, usd_each),
    "annotation_cost_per_page": ("input_annotated_document", PAGE, usd_each),
    "code_interpreter_cost_per_session": ("code_execution", REQUEST, usd_each),
    "input_cost_per_request": ("request", REQUEST, usd_each),
    "citation_cost_per_token": ("output_citation", TOKEN, _per_token),
}
# In LiteLLM's image-generation entries `input_cost_per_image` is the price of each generated image (dall-e-3).
_LITELLM_BY_MODE = {("image_generation", "input_cost_per_image"): ("output_image", IMAGE, usd_each),
                    ("video_generation", "output_cost_per_second"): ("output_video", SECOND, usd_each)}
_LITELLM_SUFFIX = re.compile(r"^(?P<field>.+?)(?:_above_(?P<above>\d+)k_tokens)?(?:_(?P<tier>batches|flex|priority))?$")
_TIERS = {"batches": "batch", "flex": "flex", "priority": "priority"}
_SEARCH_CONTEXT = re.compile(r"^search_context_size_(?P<size>\w+)$")


def _litellm_field(sheet: _Sheet, mode: Any, name: str, raw: Any, above: int = 0) -> None:
    parsed = _LITELLM_SUFFIX.match(name)
    base = parsed["field"] if parsed else name
    known = _LITELLM_BY_MODE.get((mode, base)) or _LITELLM.get(base)
    if known is None and name in _LITELLM:  # a field whose own name ends like a suffix (`..._above_1hr`)
        known, parsed = _LITELLM[name], None
    if known is None:
        sheet.unread.append(name)
        return
    meter, unit, convert = known
    above = above or (int(parsed["above"]) * 1000 if parsed and parsed["above"] else 0)
    tier = _TIERS[parsed["tier"]] if parsed and parsed["tier"] else STANDARD
    sheet.put(PriceKey(meter, unit, above, tier), raw, convert)


def read_litellm(document: Any) -> ReferenceIndex:
    """LiteLLM's map: {key: {litellm_provider, mode, input_cost_per_token, ..., input_cost_per_token_above_200k_tokens,
    input_cost_per_token_batches, search_context_cost_per_query: {search_context_size_low: ...},
    tiered_pricing: [{range: [lo, hi], input_cost_per_token, ...}]}}, USD per token or per unit. Keys are kept
    whole (`mistral/mistral-small-latest`); `sample_spec` (the schema's own example) and entries without a
    provider are not models."""
    index = ReferenceIndex()
    for key, entry in (document or {}).items():
        if key == "sample_spec" or not isinstance(entry, Mapping) or not isinstance(entry.get("litellm_provider"), str):
            continue
        sheet = _Sheet(index.dropped)
        mode = entry.get("mode")
        for name, raw in entry.items():
            if "cost" not in name:
                continue
            if name == "search_context_cost_per_query" and isinstance(raw, Mapping):
                for size_name, price in raw.items():
                    size = _SEARCH_CONTEXT.match(size_name)
                    if size is None:
                        sheet.unread.append(f"{name}.{size_name}")
                        continue
                    sheet.put(PriceKey("web_search", REQUEST, option=f"search_context={size['size']}"), price, usd_each)
                continue
            _litellm_field(sheet, mode, name, raw)
        for tier in entry.get("tiered_pricing") or []:
            if not isinstance(tier, Mapping) or not isinstance(tier.get("range"), list) or not tier["range"]:
                sheet.unread.append("tiered_pricing")
                continue
            low = int(to_decimal(tier["range"][0]))
            for name, raw in tier.items():
                if name != "range":
                    _litellm_field(sheet, mode, name, raw, above=low)
        index.add(_with_fields(sheet.entry(entry["litellm_provider"], key), litellm_fields(entry)))
    return index


# genai-prices' price keys -> (meter, unit, divisor to a price per one unit, or per 1M tokens / characters).
_GENAI: Mapping[str, tuple[str, str, int]] = {
    "input_mtok": ("input", TOKEN, 1),
    "output_mtok": ("output", TOKEN, 1),
    "cache_read_mtok": ("cache_read", TOKEN, 1),
    "cache_write_mtok": ("cache_write", TOKEN, 1),
    "cache_write_5m_mtok": ("cache_write", TOKEN, 1),
    "cache_write_1h_mtok": ("cache_write_1h", TOKEN, 1),
    "output_reasoning_mtok": ("reasoning", TOKEN, 1),
    "input_audio_mtok": ("input_audio", TOKEN, 1),
    "output_audio_mtok": ("output_audio", TOKEN, 1),
    "cache_audio_read_mtok": ("cache_read_audio", TOKEN, 1),
    "cache_audio_write_mtok": ("cache_write_audio", TOKEN, 1),
    "input_image_mtok": ("input_image", TOKEN, 1),
    "output_image_mtok": ("output_image", TOKEN, 1),
    "cache_image_read_mtok": ("cache_read_image", TOKEN, 1),
    "input_video_mtok": ("input_video", TOKEN, 1),
    "output_video_mtok": ("output_video", TOKEN, 1),
    "output_citation_mtok": ("output_citation", TOKEN, 1),
    "input_mchars": ("input", CHARACTER, 1),
    # `audio_hours` has no direction in genai-prices; every model that uses it transcribes (audio in).
    "audio_hours": ("input_audio", HOUR, 1),
    "input_audio_hours": ("input_audio", HOUR, 1),
    "output_audio_hours": ("output_audio", HOUR, 1),
    "requests_kcount": ("request", REQUEST, 1000),
    "web_searches_kcount": ("web_search", REQUEST, 1000),
    "storage_searches_kcount": ("storage_search", REQUEST, 1000),
    "code_executions_kcount": ("code_execution", REQUEST, 1000),
    "rerank_searches_kcount": ("rerank", REQUEST, 1000),
    "input_document_kpages": ("input_document", PAGE, 1000),
    "input_annotated_document_kpages": ("input_annotated_document", PAGE, 1000),
    "input_text_messages_kcount": ("input_text_message", REQUEST, 1000),
    "input_gpixels": ("input_image", MEGAPIXEL, 1000),
}


def _equals(clause: Any) -> list[str]:
    """The `equals` ids of a genai-prices match clause: the aliases the source itself declares."""
    if hasattr(clause, "or_"):
        return [alias for inner in clause.or_ for alias in _equals(inner)]
    return [clause.equals] if hasattr(clause, "equals") else []


def _standard_price(model: Any, on: date) -> tuple[Any, date | None]:
    """The price in force on `on` (the last dated price that has started) and the date it started. Daily time
    windows (DeepSeek) are read apart as windowed prices, so the result does not depend on the hour."""
    if not isinstance(model.prices, list):
        return model.prices, None
    chosen, since = model.prices[0].prices, None
    for conditional in model.prices:
        constraint = conditional.constraint
        if constraint is None:
            chosen, since = conditional.prices, None
        elif hasattr(constraint, "start_date") and constraint.start_date <= on:
            chosen, since = conditional.prices, constraint.start_date
    return chosen, since


def _windows(model: Any) -> list[tuple[str, Any]]:
    if not isinstance(model.prices, list):
        return []
    found = []
    for conditional in model.prices:
        constraint = conditional.constraint
        if constraint is not None and hasattr(constraint, "start_time") and hasattr(constraint, "end_time"):
            found.append((f"{constraint.start_time:%H:%M}-{constraint.end_time:%H:%M}", conditional.prices))
    return found


def _genai_prices(sheet: _Sheet, price: Any, *, tier: str = STANDARD, window: str = "", option: str = "") -> None:
    for price_key, value in vars(price).items():
        if value is None or price_key.startswith("_"):
            continue
        known = _GENAI.get(price_key)
        if known is None:
            sheet.unread.append(price_key)
            continue
        meter, unit, divisor = known
        base, tiers = (value.base, list(value.tiers)) if hasattr(value, "tiers") else (value, [])

        def convert(raw: Any, divisor: int = divisor) -> Decimal:
            return usd_each(raw) / divisor if divisor != 1 else usd_each(raw)

        sheet.put(PriceKey(meter, unit, 0, tier, window, option), base, convert)
        for step in tiers:
            sheet.put(PriceKey(meter, unit, int(step.start), tier, window, option), step.price, convert)


def _variant_condition(when: Mapping[str, str]) -> tuple[str, str]:
    """(service tier, option) of a genai-prices price variant's `when`."""
    tier, options = STANDARD, []
    for name, value in sorted(when.items()):
        if (name, value) == ("processing", "batch"):
            tier = "batch"
        elif name == "service_tier":
            tier = STANDARD if value == "default" else value
        else:
            options.append(f"{name}={value}")
    return tier, ",".join(options)


def read_genai_prices(providers: list, on: date | None = None) -> ReferenceIndex:
    """genai-prices' bundled `providers` (its pydantic types), prices as in force on `on` (the catalog's today):
    the standard price with its tiers, each daily time window, and each price variant in force (batch, flex,
    priority...) resolved as genai-prices resolves it: the variant's own prices over the standard ones, so a
    variant that names no price of its own (gpt-3.5-turbo-1106's batch) bills at the standard price."""
    on = on or clock.today()
    index = ReferenceIndex()
    for provider in providers:
        aliases = index.aliases.setdefault(provider.id, {})
        for model in provider.models:
            standard, since = _standard_price(model, on)
            sheet = _Sheet(index.dropped)
            _genai_prices(sheet, standard)
            for window, price in _windows(model):
                _genai_prices(sheet, price, window=window)
            for variant in model.price_variants or []:
                constraint = variant.constraint
                if constraint is not None and hasattr(constraint, "start_date") and constraint.start_date > on:
                    continue
                tier, option = _variant_condition(variant.when)
                if (tier, option) == (STANDARD, ""):
                    continue
                resolved = {**{k: v for k, v in vars(standard).items() if v is not None},
                            **{k: v for k, v in vars(variant.prices).items() if v is not None}}
                _genai_prices(sheet, _Prices(resolved), tier=tier, option=option)
            index.add(sheet.entry(provider.id, model.id, since, _comment(model)))
            for alias in _equals(model.match):
                aliases.setdefault(alias.lower(), model.id)
    return index


def _comment(model: Any) -> str:
    """genai-prices' own note on a model it prices at nothing: its first sentence about the price."""
    comment = strip_controls(str(getattr(model, "price_comments", None) or "")).strip()
    if not comment:
        return ""
    sentences = [sentence.split(", see ")[0].rstrip(".") for sentence in comment.split(". ")]
    about_price = next((x for x in sentences if re.search(r"free|charge|pric|paid", x, re.I)), sentences[0])
    return f" (its note: {about_price[:157] + '...' if len(about_price) > 160 else about_price})"


class _Prices:
    """A plain holder of resolved genai-prices price keys (what `vars()` reads)."""

    def __init__(self, values: Mapping[str, Any]):
        self.__dict__.update(values)


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
