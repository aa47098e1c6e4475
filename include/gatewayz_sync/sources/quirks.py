"""Named quirks for the few APIs whose records the declarative field map cannot read directly.

A record quirk returns a *view* of the raw record with extra, flat keys (prefixed `_`) that the field map
then reads; the raw record itself is stored untouched. A record filter drops records that are not models a
gateway can route to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any


def gemini_model(record: Mapping[str, Any]) -> dict[str, Any]:
    name = record.get("name")
    model_id = name.removeprefix("models/") if isinstance(name, str) else None
    return {**record, "_id": model_id}


def gemini_generates_content(record: Mapping[str, Any]) -> bool:
    methods = record.get("supportedGenerationMethods")
    return isinstance(methods, list) and ("generateContent" in methods or "bidiGenerateContent" in methods)


_CLOUDFLARE_PRICE_UNITS = {
    "per M input tokens": "input",
    "per M output tokens": "output",
    "per M cached input tokens": "cache_read",
}


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def cloudflare_properties(record: Mapping[str, Any]) -> dict[str, Any]:
    """Cloudflare lists model properties as `[{"property_id": "context_window", "value": "128000"}, ...]`."""
    properties: dict[str, Any] = {}
    for item in record.get("properties") or []:
        if isinstance(item, Mapping) and isinstance(item.get("property_id"), str):
            properties[item["property_id"]] = item.get("value")
    prices: dict[str, Any] = {}
    for entry in properties.get("price") or []:
        if not isinstance(entry, Mapping) or entry.get("currency", "USD") != "USD":
            continue
        meter = _CLOUDFLARE_PRICE_UNITS.get(entry.get("unit"))
        if meter:
            prices[meter] = entry.get("price")
    flags = {key: _as_bool(properties.get(key)) for key in ("function_calling", "vision", "reasoning")}
    context = properties.get("context_window") or properties.get("max_input_tokens")
    return {**record, "_prices": prices, "_flags": flags, "_context_window": context}


def _price_or_none(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None and not isinstance(value, bool) else None
    except InvalidOperation:
        return None


def huggingface_cheapest_live_provider(record: Mapping[str, Any]) -> dict[str, Any]:
    """The HF router lists one entry per serving provider; we keep the cheapest live one's offer.

    Tools / structured output hold when any live provider supports them; the context is the largest offered.
    """
    live = [p for p in record.get("providers") or [] if isinstance(p, Mapping) and p.get("status", "live") == "live"]
    priced = [p for p in live if isinstance(p.get("pricing"), Mapping) and _price_or_none(p["pricing"].get("input")) is not None]
    cheapest = min(priced, key=lambda p: _price_or_none(p["pricing"]["input"]), default=None)
    contexts = [p.get("context_length") for p in live if isinstance(p.get("context_length"), int)]

    def any_supports(key: str) -> bool | None:
        values = [p.get(key) for p in live if isinstance(p.get(key), bool)]
        return any(values) if values else None

    return {
        **record,
        "_offer": {
            "pricing": cheapest["pricing"] if cheapest else None,
            "provider": cheapest.get("provider") if cheapest else None,
            "context_length": max(contexts) if contexts else None,
            "supports_tools": any_supports("supports_tools"),
            "supports_structured_output": any_supports("supports_structured_output"),
        },
    }


def _comma_list(value: Any) -> list[str] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return None


def aihubmix_comma_lists(record: Mapping[str, Any]) -> dict[str, Any]:
    """AiHubMix sends lists as comma-separated strings: `"features": "thinking,tools"`."""
    return {
        **record,
        "_features": _comma_list(record.get("features")),
        "_input_modalities": _comma_list(record.get("input_modalities")),
    }


RECORD_QUIRKS: Mapping[str, Callable[[Mapping[str, Any]], Mapping[str, Any]]] = {
    "gemini_model": gemini_model,
    "cloudflare_properties": cloudflare_properties,
    "huggingface_cheapest_live_provider": huggingface_cheapest_live_provider,
    "aihubmix_comma_lists": aihubmix_comma_lists,
}

RECORD_FILTERS: Mapping[str, Callable[[Mapping[str, Any]], bool]] = {
    "gemini_generates_content": gemini_generates_content,
}
