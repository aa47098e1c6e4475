"""The normalized model record, its bounds, and the JSON encoding used for raw payloads and content hashes.

A model's content hash covers what determines its stored row: the normalizer's version, the provider's
list-API spec and the raw record (minus fields the provider changes on every request). Equal hashes mean
equal rows, so an unchanged record is recognized before it is normalized at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from ..sources.specs import ListApiSpec, spec_fingerprint
from .meters import BASE_COLUMNS, FLAT_COLUMNS, PriceSheet

MAX_ID_LENGTH = 512
MAX_NAME_LENGTH = 512
MAX_DESCRIPTION_LENGTH = 16_384
MAX_CONTEXT_TOKENS = 100_000_000
MAX_MODALITIES = 32

# The base prices' flat columns by meter (input, output, ..., request, input_image, web_search), and every flat
# price column of `models`: a projection of the model's price sheet (catalog/meters.py).
PRICE_COLUMNS = {key.meter: column for key, column in BASE_COLUMNS.items()}
FLAT_PRICE_COLUMNS = FLAT_COLUMNS
CAPABILITY_COLUMNS = {
    "tools": "supports_tools",
    "vision": "supports_vision",
    "reasoning": "supports_reasoning",
    "structured_output": "supports_structured_output",
    "audio_input": "supports_audio_input",
    "audio_output": "supports_audio_output",
}
# listed modalities that say a capability where the listing declares no selector for it
MODALITY_CAPABILITIES = {"vision": ("input", "image"), "audio_input": ("input", "audio"),
                         "audio_output": ("output", "audio")}


def _encode_decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps_json(value: Any, *, sort_keys: bool = False) -> bytes:
    """JSON with Decimals written as the exact numbers they are (never via float)."""
    option = orjson.OPT_SORT_KEYS if sort_keys else 0
    return orjson.dumps(value, default=_encode_decimal, option=option)


@dataclass(slots=True)
class NormalizedModel:
    provider_model_id: str
    name: str
    description: str | None
    context_length: int | None
    max_output_tokens: int | None
    input_modalities: tuple[str, ...] | None
    output_modalities: tuple[str, ...] | None
    prices: PriceSheet
    price_is_variable: bool
    raw_pricing: dict[str, Any] | None
    capabilities: dict[str, bool | None]
    is_free: bool | None
    deprecation_date: datetime | None
    shutdown_date: datetime | None
    raw_json: bytes
    content_hash: str
    kind: str = "chat"
    alias_of: str | None = None
    price_unknown_reason: str | None = None
    replacement_model: str | None = None
    max_input_tokens: int | None = None

    def field_sources(self) -> dict[str, dict[str, str]]:
        """`list_api` for each routing field the listing gave (`catalog/routing.py`)."""
        sources = {name: {"source": "list_api"} for name, value in (
            ("context_length", self.context_length), ("max_input_tokens", self.max_input_tokens),
            ("max_output_tokens", self.max_output_tokens), ("deprecation_date", self.deprecation_date),
            ("shutdown_date", self.shutdown_date)) if value is not None}
        for name, value in self.capabilities.items():
            if value is not None and name in CAPABILITY_COLUMNS:
                sources[CAPABILITY_COLUMNS[name]] = {"source": "list_api"}
        return sources


# /6: kinds of DeepInfra's image, upscaling and embedding models read from their ids (no longer chat).
# /5: max_input_tokens, audio in/out (and vision) from the listed modalities, field_sources.
# /4: placeholder lifecycle dates dropped, replacement_model.
# /3: price sheets (every meter in its unit, listed zeros are unknown), kind, alias_of, price_unknown_reason.
NORMALIZER_VERSION = b"gatewayz-normalizer/6"


def hash_prefix(spec: ListApiSpec) -> bytes:
    """What every content hash and listing digest of a provider starts with: this normalizer's version and the
    spec's fingerprint, so that changing either makes every stored row and listing differ."""
    return NORMALIZER_VERSION + b"\x00" + spec_fingerprint(spec).encode() + b"\x00"


def content_hash(prefix: bytes, raw_for_hash: bytes) -> str:
    digest = hashlib.sha256(prefix)
    digest.update(raw_for_hash)
    return digest.hexdigest()
