"""Our own export: `catalog.json` (every active model with every meter, tier and unit, each field's source, the
lifecycle, first and last seen) and `price-history.jsonl` (every recorded price change with its date and source).

Amounts are the stored NUMERIC values as decimal strings (`"2.5"`, never a float), so loading the file gives back
exactly what is stored. Unlike the LiteLLM map and the OpenRouter-style list, this file holds every active model,
priced or not, with the reason a price is unknown or withheld.

`last_seen_at` moves with every successful listing even when nothing else changed; the content hash that decides
whether to publish a new version leaves it out (`model_bytes`), so an unchanged catalog publishes nothing and a
published file's `last_seen_at` is as of that version.

Both files are written as they are built, one model (one change) per line, so neither is ever held whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from ..catalog.price_slugs import key_of_field
from .encoding import compact
from .records import ExportModel

FORMAT = "gatewayz-catalog"
FORMAT_VERSION = 1
OBSERVED_FIELDS = ("last_seen_at",)
PRICE_UNITS = "amount_usd is USD per per_units units: 1,000,000 for token and character, 1 for every other unit"


def _time(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def model_record(model: ExportModel, withheld: str | None, published_as: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "provider": model.provider,
        "id": model.model_id,
        "public_id": model.public_id,
        "name": model.name,
        "description": model.description,
        "kind": model.kind,
        "alias_of": model.alias_of,
        "context_length": model.context_length,
        "max_output_tokens": model.max_output_tokens,
        "max_input_tokens": model.max_input_tokens,
        "input_modalities": None if model.input_modalities is None else list(model.input_modalities),
        "output_modalities": None if model.output_modalities is None else list(model.output_modalities),
        "capabilities": dict(model.capabilities),
        "lifecycle": {"state": model.lifecycle, "deprecation_date": _time(model.deprecation_date),
                      "shutdown_date": _time(model.shutdown_date), "replacement_model": model.replacement_model},
        "is_free": model.is_free,
        "first_seen_at": _time(model.first_seen_at),
        "last_seen_at": _time(model.last_seen_at),
        "price": {
            "source": model.price_source, "confidence": model.price_confidence,
            "source_version": model.price_source_version, "checked_at": _time(model.price_checked_at),
            "dispute": model.price_dispute, "unknown_reason": model.price_unknown_reason,
            "is_variable": model.price_is_variable, "held_jump": model.price_held, "withheld": withheld,
        },
        "prices": [
            {**price.key.as_dict(), "per_units": price.key.per_units, "amount_usd": format(price.amount_usd, "f"),
             "condition": price.key.condition(), "source": price.source, "source_model_id": price.source_model_id,
             "source_version": price.source_version, "checked_at": _time(price.checked_at)}
            for price in model.prices
        ],
        "sources": dict(sorted(model.field_sources.items())),
        "field_sources": dict(sorted(model.field_provenance.items())),
        "published_as": dict(published_as or {}),
    }


def catalog_head(providers: Iterable[Mapping[str, Any]]) -> bytes:
    """The document up to its models (format, version, units, providers); the models follow one per line
    (`model_bytes`, joined by `MODEL_SEPARATOR`), then `CATALOG_END`."""
    head = compact({"format": FORMAT, "format_version": FORMAT_VERSION, "price_units": PRICE_UNITS,
                    "providers": list(providers)})
    return head[:-1] + b',"models":[\n'


MODEL_SEPARATOR = b",\n"
CATALOG_END = b"\n]}\n"


def model_bytes(record: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """One model's record as published, and the same without what moves when nothing changed (its
    `last_seen_at`): what the content hash reads."""
    data = compact(record)
    content = data
    for name in OBSERVED_FIELDS:
        # A top-level key of a compact object, after the first: `,"name":value`. The pair cannot occur inside a
        # string (a quote there is escaped) and no nested object has these keys, so the first match is the field.
        content = content.replace(b',"' + name.encode() + b'":' + compact(record[name]), b"", 1)
    return data, content


def history_line(change: Mapping[str, Any]) -> bytes:
    """One change: when, which model, which price (`field` as recorded; `price` its meter, unit and condition when
    the field says them), the old and new values (exact strings; null when absent) and the source."""
    key = key_of_field(change["field"] or "")
    record = {"at": _time(change["at"]), "provider": change["provider"], "model": change["model"],
              "kind": change["kind"], "field": change["field"], "price": None if key is None else key.as_dict(),
              "old": change["old"], "new": change["new"], "source": change["source"]}
    return compact(record) + b"\n"
