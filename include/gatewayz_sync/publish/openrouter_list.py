"""An OpenRouter-style models list (`models.json`): the shape of OpenRouter's `GET /api/v1/models`, which many
clients (and the OpenAI SDK's `models.list()`, which reads `data[].id`) read from any base URL.

Each priced model that passes the billing checks: `id` as `provider/model`, `canonical_slug`, `name`, `created`
(first seen, Unix seconds), `description`, `context_length`, `architecture` (modalities), `pricing` as strings in
USD per token (`prompt`, `completion`, `input_cache_read`, `input_cache_write`, `internal_reasoning`; per request,
per input image, per web search), `top_provider.max_completion_tokens` and `supported_parameters` where the
catalog knows them, from the list API or a reference (`catalog/routing.py`); a chat model whose listing gives no
modalities has them from its vision and audio flags. A field we do not know is left out rather than guessed;
`object: "model"` and `owned_by` are there for OpenAI-compatible clients. Amounts are exact decimal strings (our USD
per 1M divided by 10**6). The file is written as it is built, one model per line.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..catalog.meters import PriceKey
from .records import ExportModel

MILLION = Decimal(1_000_000)
PRICING_KEYS: Mapping[PriceKey, str] = {
    PriceKey("input"): "prompt",
    PriceKey("output"): "completion",
    PriceKey("cache_read"): "input_cache_read",
    PriceKey("cache_write"): "input_cache_write",
    PriceKey("reasoning"): "internal_reasoning",
    PriceKey("request", "request"): "request",
    PriceKey("input_image", "image"): "image",
    PriceKey("web_search", "request"): "web_search",
}
PARAMETERS: Mapping[str, tuple[str, ...]] = {
    "tools": ("tools", "tool_choice"),
    "structured_output": ("response_format", "structured_outputs"),
    "reasoning": ("reasoning", "include_reasoning"),
}


def per_token_string(key: PriceKey, amount: Decimal) -> str:
    value = amount / MILLION if key.per_units == 1_000_000 else amount
    text = format(value.normalize(), "f")
    return text


def model_entry(model: ExportModel) -> dict[str, Any]:
    sheet = model.sheet
    pricing = {name: per_token_string(key, sheet[key]) for key, name in PRICING_KEYS.items() if key in sheet}
    if not pricing:
        raise ValueError("none of its prices has an OpenRouter pricing field")
    parameters = [name for capability, names in PARAMETERS.items() if model.capabilities.get(capability)
                  for name in names]
    entry: dict[str, Any] = {
        "id": model.public_id,
        "canonical_slug": model.public_id,
        "name": model.name,
        "object": "model",
        "owned_by": model.provider,
        "created": int(model.first_seen_at.timestamp()),
        "description": model.description or "",
        "context_length": model.context_length,
        "architecture": {
            "input_modalities": list(model.input_modalities or _chat_modalities(model, "vision", "audio_input")),
            "output_modalities": list(model.output_modalities or _chat_modalities(model, None, "audio_output")),
        },
        "pricing": pricing,
        "top_provider": {"context_length": model.context_length, "max_completion_tokens": model.max_output_tokens},
    }
    if model.input_modalities and model.output_modalities:
        entry["architecture"]["modality"] = f"{'+'.join(model.input_modalities)}->{'+'.join(model.output_modalities)}"
    if parameters:
        entry["supported_parameters"] = parameters
    return entry


def _chat_modalities(model: ExportModel, image: str | None, audio: str) -> tuple[str, ...]:
    """A chat model's modalities where its listing gives none, from the capabilities the catalog resolved (a list
    API's or a reference's): text, and image or audio where a source says so; nothing for other kinds."""
    if model.kind != "chat":
        return ()
    return ("text", *(("image",) if image and model.capabilities.get(image) else ()),
            *(("audio",) if model.capabilities.get(audio) else ()))


# `{"object": "list", "data": [...]}` written as it is built, one model per line
MODELS_HEAD = b'{"object":"list","data":[\n'
MODEL_SEPARATOR = b",\n"
MODELS_END = b"\n]}\n"
