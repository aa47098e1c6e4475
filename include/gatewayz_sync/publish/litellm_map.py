"""LiteLLM's cost map (`model_prices_and_context_window.json`): the bundled LiteLLM snapshot with our values on top,
and our additions.

LiteLLM loads a remote map only if it holds at least 50 entries and at least half as many as its bundled copy, and
otherwise silently keeps the bundled one; so the published map starts from LiteLLM's own file
(`prices/snapshots/`) and never drops an entry. A model we price overwrites, in the entry LiteLLM keys it by, the
fields we know (per-token costs, cache costs, tiers as `*_above_<N>k_tokens`, batch/flex/priority, limits,
`supports_*`, `deprecation_date`); a field we do not know is never erased. When we know a model's long-context
tiers, LiteLLM's tier fields of that model (`*_above_<N>_tokens`, `tiered_pricing`) are replaced by ours: two sets
of thresholds would bill by whichever LiteLLM tries first, and LiteLLM reads `tiered_pricing` as marginal ranges
where the providers (and our catalog) price the whole call at the tier its prompt reaches; for DashScope, whose
LiteLLM calculator reads only `tiered_pricing`, our tiers are written there too. A model LiteLLM does
not list is added under `<litellm provider>/<our id>` (no prefix for OpenAI and Anthropic, as LiteLLM keys them),
with a `mode` from the model's kind.

Amounts become LiteLLM's unit once here: USD per token (or per character) is our USD per 1M divided by 10**6,
exact in Decimal, then the nearest float, which is all JSON and LiteLLM can hold. A price LiteLLM has no key for
(a time window, a search-context option, a per-minute audio price of a model that is not transcription) is left
out of the entry and counted; a transcription model's per-minute or per-hour price becomes LiteLLM's per-second one.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..catalog.meters import PriceKey
from ..prices.sources import SNAPSHOT_DIR
from .encoding import indented
from .records import ExportModel

SNAPSHOT_FILE = SNAPSHOT_DIR / "litellm-model_prices_and_context_window.json"
MILLION = Decimal(1_000_000)

# Our provider -> (LiteLLM's provider name, the key prefix LiteLLM gives its models). A provider LiteLLM does not
# know keeps our slug for both, so other readers of the file still find it.
LITELLM_PROVIDERS: Mapping[str, tuple[str, str]] = {
    "openai": ("openai", ""),
    "anthropic": ("anthropic", ""),
    "google-vertex": ("gemini", "gemini/"),
    "mistral": ("mistral", "mistral/"),
    "cohere": ("cohere_chat", "cohere_chat/"),
    "deepseek": ("deepseek", "deepseek/"),
    "cerebras": ("cerebras", "cerebras/"),
    "alibaba": ("dashscope", "dashscope/"),
    "fireworks": ("fireworks_ai", "fireworks_ai/"),
    "groq": ("groq", "groq/"),
    "xai": ("xai", "xai/"),
    "openrouter": ("openrouter", "openrouter/"),
    "together": ("together_ai", "together_ai/"),
    "deepinfra": ("deepinfra", "deepinfra/"),
    "novita": ("novita", "novita/"),
    "nebius": ("nebius", "nebius/"),
    "featherless": ("featherless_ai", "featherless_ai/"),
    "huggingface": ("huggingface", "huggingface/"),
    "cloudflare-workers-ai": ("cloudflare", "cloudflare/"),
    "vercel-ai-gateway": ("vercel_ai_gateway", "vercel_ai_gateway/"),
    "chutes": ("chutes", "chutes/"),
    "clarifai": ("clarifai", "clarifai/"),
    "fal": ("fal_ai", "fal_ai/"),
    "helicone": ("helicone", "helicone/"),
}
# Other keys LiteLLM files the same provider's models under (it lists Cohere both ways, OpenAI's also prefixed).
EXTRA_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "openai": ("openai/",),
    "anthropic": ("anthropic/",),
    "cohere": ("", "cohere/"),
}
# Our id carries a prefix LiteLLM's key does not (the Gemini API's resource name).
STRIPPED_PREFIXES: Mapping[str, tuple[str, ...]] = {"google-vertex": ("models/",)}

MODES: Mapping[str, str] = {
    "chat": "chat", "embedding": "embedding", "rerank": "rerank", "moderation": "moderation",
    "image": "image_generation", "video": "video_generation", "tts": "audio_speech", "stt": "audio_transcription",
    "ocr": "ocr", "audio": "chat",
}
SUPPORTS: Mapping[str, str] = {
    "tools": "supports_function_calling",
    "vision": "supports_vision",
    "reasoning": "supports_reasoning",
    "structured_output": "supports_response_schema",
    "audio_input": "supports_audio_input",
    "audio_output": "supports_audio_output",
}
# (meter, unit) -> LiteLLM's key for the base price; token and character prices are per 1M in the catalog.
BASE_KEYS: Mapping[tuple[str, str], str] = {
    ("input", "token"): "input_cost_per_token",
    ("output", "token"): "output_cost_per_token",
    ("cache_read", "token"): "cache_read_input_token_cost",
    ("cache_write", "token"): "cache_creation_input_token_cost",
    ("cache_write_1h", "token"): "cache_creation_input_token_cost_above_1hr",
    ("reasoning", "token"): "output_cost_per_reasoning_token",
    ("input_audio", "token"): "input_cost_per_audio_token",
    ("output_audio", "token"): "output_cost_per_audio_token",
    ("input_image", "token"): "input_cost_per_image_token",
    ("output_image", "token"): "output_cost_per_image_token",
    ("input_image", "image"): "input_cost_per_image",
    ("output_image", "image"): "output_cost_per_image",
    ("input", "character"): "input_cost_per_character",
    ("output", "character"): "output_cost_per_character",
    ("input_audio", "second"): "input_cost_per_audio_per_second",
    ("output_audio", "second"): "output_cost_per_audio_per_second",
    ("input_video", "second"): "input_cost_per_video_per_second",
    ("output_video", "second"): "output_cost_per_video_per_second",
    ("output_citation", "token"): "citation_cost_per_token",
    ("input_document", "page"): "ocr_cost_per_page",
    ("input_annotated_document", "page"): "annotation_cost_per_page",
    ("rerank", "request"): "input_cost_per_query",
}
TIERED_METERS: Mapping[str, str] = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
}
SERVICE_TIER_SUFFIXES: Mapping[str, str] = {"batch": "_batches", "flex": "_flex", "priority": "_priority"}
SERVICE_TIER_METERS = ("input", "output", "cache_read")


# LiteLLM's DashScope calculator reads only `tiered_pricing` (ranges it bills marginally), never `*_above_*` keys.
RANGED_PROVIDERS = ("alibaba",)
RANGE_KEYS = {"input": "input_cost_per_token", "output": "output_cost_per_token",
              "cache_read": "cache_read_input_token_cost"}


def tier_ranges(model: ExportModel) -> list[dict[str, Any]]:
    """Our long-context tiers as LiteLLM's `tiered_pricing` ranges: [0, first threshold], [first, second], ..."""
    standard = {(p.key.meter, p.key.above_input_tokens): p for p in model.prices
                if p.key.unit == "token" and p.key.service_tier == "standard" and not p.key.time_window
                and not p.key.option}
    thresholds = sorted({above for _, above in standard})
    top = float(max(model.context_length or 0, thresholds[-1] * 2))
    ranges = []
    for index, start in enumerate(thresholds):
        end = float(thresholds[index + 1]) if index + 1 < len(thresholds) else top
        tier: dict[str, Any] = {"range": [float(start), end]}
        for meter, name in RANGE_KEYS.items():
            price = standard.get((meter, start)) or standard.get((meter, 0))
            if price is not None:
                tier[name] = litellm_amount(price.key, price.amount_usd)
        ranges.append(tier)
    return ranges


def load_snapshot() -> dict[str, Any]:
    return json.loads(SNAPSHOT_FILE.read_bytes())


def threshold_label(tokens: int) -> str:
    """LiteLLM's spelling of a threshold: `200k` for 200,000, the number itself otherwise (`131072`)."""
    return f"{tokens // 1000}k" if tokens % 1000 == 0 else str(tokens)


# Transcription models are billed by LiteLLM per second of audio (`input_cost_per_second`, as its own entries for
# Whisper say); a per-minute or per-hour price is divided once here (the float holds the quotient to its precision).
AUDIO_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


def litellm_key(key: PriceKey, kind: str | None = None) -> str | None:
    """LiteLLM's field for one of our prices, or None when LiteLLM has no way to say it."""
    if key.time_window or key.option:
        return None
    if key.service_tier != "standard":
        suffix = SERVICE_TIER_SUFFIXES.get(key.service_tier)
        if suffix is None or key.unit != "token" or key.meter not in SERVICE_TIER_METERS or key.above_input_tokens:
            return None
        if key.service_tier == "batch" and key.meter == "cache_read":
            return None
        return BASE_KEYS[(key.meter, "token")] + suffix
    if kind == "stt" and key.meter == "input_audio" and key.unit in AUDIO_SECONDS and not key.above_input_tokens:
        return "input_cost_per_second"
    if key.above_input_tokens:
        base = TIERED_METERS.get(key.meter) if key.unit == "token" else None
        return f"{base}_above_{threshold_label(key.above_input_tokens)}_tokens" if base else None
    return BASE_KEYS.get((key.meter, key.unit))


def litellm_amount(key: PriceKey, amount: Decimal, name: str | None = None) -> float:
    if name == "input_cost_per_second":
        return float(amount / AUDIO_SECONDS[key.unit])
    per_unit = amount / MILLION if key.per_units == 1_000_000 else amount
    return float(per_unit)


_TIER_KEY = re.compile(r"_above_\d+k?_tokens")


def _is_tier_key(name: str) -> bool:
    return bool(_TIER_KEY.search(name))


@dataclass
class LiteLLMMap:
    document: dict[str, Any]
    keys: dict[str, str] = field(default_factory=dict)  # our public id -> the key it was published under
    added: int = 0
    updated: int = 0
    unexpressed: Counter = field(default_factory=Counter)

    @property
    def models(self) -> int:
        return len(self.keys)


def candidate_keys(model: ExportModel) -> list[str]:
    """The keys LiteLLM may list this model under, in order of preference."""
    provider, prefix = LITELLM_PROVIDERS.get(model.provider, (model.provider, f"{model.provider}/"))
    ids = [model.model_id]
    ids += [model.model_id[len(p):] for p in STRIPPED_PREFIXES.get(model.provider, ()) if model.model_id.startswith(p)]
    prefixes = [prefix, *EXTRA_PREFIXES.get(model.provider, ())]
    return list(dict.fromkeys(p + i for i in ids for p in prefixes))


def _litellm_provider_names(model: ExportModel) -> set[str]:
    provider, _ = LITELLM_PROVIDERS.get(model.provider, (model.provider, ""))
    names = {provider}
    if model.provider == "openai":
        names.add("text-completion-openai")
    if model.provider == "cohere":
        names.add("cohere")
    return names


def entry_fields(model: ExportModel) -> tuple[dict[str, Any], int, list[str]]:
    """The fields we know for this model in LiteLLM's names, how many of them are prices, and the price slugs
    LiteLLM cannot hold."""
    values: dict[str, Any] = {}
    unexpressed = []
    for price in model.prices:
        name = litellm_key(price.key, model.kind)
        if name is None:
            unexpressed.append(price.key.slug())
            continue
        values[name] = litellm_amount(price.key, price.amount_usd, name)
    priced = len(values)
    # LiteLLM's `max_input_tokens` is the most a prompt may hold: the input limit where one is known apart from
    # the window, else the window
    max_input = model.max_input_tokens or model.context_length
    if max_input is not None:
        values["max_input_tokens"] = max_input
    if model.max_output_tokens is not None:
        values["max_output_tokens"] = model.max_output_tokens
    if model.max_output_tokens is not None or max_input is not None:
        values["max_tokens"] = model.max_output_tokens or max_input
    for capability, name in SUPPORTS.items():
        if model.capabilities.get(capability) is not None:
            values[name] = bool(model.capabilities[capability])
    retired_on = model.shutdown_date or model.deprecation_date
    if retired_on is not None:
        values["deprecation_date"] = retired_on.date().isoformat()
    return values, priced, unexpressed


def publish_entry(result: LiteLLMMap, model: ExportModel) -> None:
    """Put one priced model into the map (its LiteLLM entry updated, or a new entry)."""
    values, priced, unexpressed = entry_fields(model)
    result.unexpressed.update(unexpressed)
    if not priced:
        raise ValueError(f"none of its prices has a LiteLLM field ({', '.join(unexpressed)})")
    provider_names = _litellm_provider_names(model)
    existing_key = next((key for key in candidate_keys(model)
                         if isinstance(result.document.get(key), dict)
                         and result.document[key].get("litellm_provider") in provider_names), None)
    if existing_key is not None:
        entry = dict(result.document[existing_key])
        had_ranges = "tiered_pricing" in entry
        if any(price.key.above_input_tokens for price in model.prices):
            entry = {name: value for name, value in entry.items()
                     if not _is_tier_key(name) and name != "tiered_pricing"}
            if had_ranges or model.provider in RANGED_PROVIDERS:
                entry["tiered_pricing"] = tier_ranges(model)
        entry.update(values)
        result.document[existing_key] = entry
        result.keys[model.public_id] = existing_key
        result.updated += 1
        return
    provider, _ = LITELLM_PROVIDERS.get(model.provider, (model.provider, ""))
    key = candidate_keys(model)[0]
    if key in result.document:
        key = f"{model.provider}/{model.model_id}"
        if key in result.document:
            raise ValueError(f"LiteLLM already has a {key!r} entry of another provider")
    result.document[key] = {"litellm_provider": provider, "mode": MODES.get(model.kind or "chat", "chat"), **values}
    result.keys[model.public_id] = key
    result.added += 1


def litellm_bytes(document: dict[str, Any]) -> bytes:
    return indented(document)
