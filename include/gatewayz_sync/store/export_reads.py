"""What the publish DAG exports, read from the catalog in one place: every active model with its stored prices
(every row of `model_prices`, exact), limits, modalities, capabilities, lifecycle, first/last seen, and the source
of each field.

The exporters (publish/) only ever see `ExportModel`s, so the formats never depend on the tables. The routing
fields (limits, capabilities, lifecycle dates) carry the source the catalog recorded for each
(`models.field_sources`: `list_api`, `operator` or a reference); modalities come from the listing only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..catalog.meters import price_key
from ..catalog.records import CAPABILITY_COLUMNS
from ..publish.records import ExportModel, ExportPrice

LIST_API = "list_api"
LIMIT_FIELDS = ("context_length", "max_input_tokens", "max_output_tokens")
MODALITY_FIELDS = ("input_modalities", "output_modalities")
LIFECYCLE_FIELDS = ("deprecation_date", "shutdown_date")


_MODEL_COLUMNS = (
    "id", "provider_slug", "provider_name", "provider_model_id", "name", "description", "kind", "alias_of",
    "context_length", "max_output_tokens", "input_modalities", "output_modalities",
    *CAPABILITY_COLUMNS.values(),
    "deprecation_date", "shutdown_date", "lifecycle", "is_free", "first_seen_at", "last_seen_at",
    "price_source", "price_confidence", "price_source_version", "price_checked_at", "price_dispute",
    "price_unknown_reason", "price_is_variable", "max_input_tokens", "field_sources", "replacement_model",
)
# the columns models_current does not carry, read from `models`
_MODEL_ONLY = (
    "max_input_tokens", "field_sources", "supports_audio_input", "supports_audio_output", "replacement_model",
)


def _field_provenance(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Where each non-price field's value came from: the recorded source of a routing field (the listing's, for a
    row no resolution has seen), the listing for modalities."""
    recorded = row.get("field_sources") or {}
    names = (*LIMIT_FIELDS, *MODALITY_FIELDS, *CAPABILITY_COLUMNS.values(), *LIFECYCLE_FIELDS)
    return {name: dict(recorded.get(name) or {"source": LIST_API}) for name in names if row.get(name) is not None}


def _prices(connection, model_ids: list[int]) -> dict[int, list[ExportPrice]]:
    by_model: dict[int, list[ExportPrice]] = {model_id: [] for model_id in model_ids}
    if not model_ids:
        return by_model
    rows = connection.execute(
        """SELECT model_id, meter, unit, above_input_tokens, service_tier, time_window, option, amount_usd, source,
                  source_model_id, source_version, checked_at
           FROM model_prices WHERE model_id = ANY(%s)
           ORDER BY model_id, meter, unit, above_input_tokens, service_tier, time_window, option""",
        (model_ids,),
    ).fetchall()
    for model_id, meter, unit, above, tier, window, option, amount, source, entry, version, checked in rows:
        by_model[model_id].append(
            ExportPrice(price_key(meter, unit, above, tier, window, option), Decimal(amount), source, entry, version,
                        checked))
    return by_model


def active_models(connection) -> list[ExportModel]:
    """Every active model of every active provider (`iter_active_models`), as one list."""
    with closing(iter_active_models(connection)) as models:
        return list(models)


def iter_active_models(connection, chunk: int = 1000) -> Iterator[ExportModel]:
    """Every active model of every active provider, ordered by provider and model id, read `chunk` at a time through
    a server-side cursor (in a transaction of its own, or a savepoint of the caller's) so that only one chunk is
    held; `price_held` says why, when the provider's listing now gives a price 10x from the stored one that waits
    as a disputed candidate. Close it (`contextlib.closing`) when stopping early: that ends its transaction."""
    columns = ", ".join("p.name AS provider_name" if c == "provider_name" else f"mm.{c}" if c in _MODEL_ONLY
                        else f"m.{c}" for c in _MODEL_COLUMNS)
    with connection.transaction(), connection.cursor(name="gatewayz_export_models") as cursor:
        cursor.itersize = chunk
        cursor.execute(
            f"""SELECT {columns},
                       (SELECT coalesce(c.status_reason, 'a held list-API price jump') FROM model_price_candidates c
                        WHERE c.model_id = m.id AND c.source = 'list_api' AND c.status = 'disputed' LIMIT 1)
                FROM models_current m JOIN providers p ON p.id = m.provider_id JOIN models mm ON mm.id = m.id
                WHERE m.is_active AND p.is_active ORDER BY m.provider_slug, m.provider_model_id"""
        )
        for _ in range(10_000_000 // chunk):
            rows = cursor.fetchmany(chunk)
            if not rows:
                return
            records = [{**dict(zip(_MODEL_COLUMNS, row[:-1], strict=True)), "price_held": row[-1]} for row in rows]
            prices = _prices(connection, [record["id"] for record in records])
            yield from (_model(record, prices[record["id"]]) for record in records)
        raise RuntimeError("more than 10,000,000 active models")


def _model(row: dict[str, Any], prices: list[ExportPrice]) -> ExportModel:
    def modalities(value) -> tuple[str, ...] | None:
        return None if value is None else tuple(value)

    provenance = _field_provenance(row)
    return ExportModel(
        id=row["id"], provider=row["provider_slug"], provider_name=row["provider_name"], model_id=row["provider_model_id"],
        name=row["name"], description=row["description"], kind=row["kind"], alias_of=row["alias_of"],
        context_length=row["context_length"], max_output_tokens=row["max_output_tokens"],
        input_modalities=modalities(row["input_modalities"]), output_modalities=modalities(row["output_modalities"]),
        capabilities={name: row[column] for name, column in CAPABILITY_COLUMNS.items()},
        deprecation_date=row["deprecation_date"], shutdown_date=row["shutdown_date"], lifecycle=row["lifecycle"],
        is_free=row["is_free"], first_seen_at=row["first_seen_at"], last_seen_at=row["last_seen_at"],
        price_source=row["price_source"], price_confidence=row["price_confidence"],
        price_source_version=row["price_source_version"], price_checked_at=row["price_checked_at"],
        price_dispute=row["price_dispute"], price_unknown_reason=row["price_unknown_reason"],
        price_is_variable=bool(row["price_is_variable"]), price_held=row["price_held"], prices=tuple(prices),
        field_sources={name: entry["source"] for name, entry in provenance.items()}, field_provenance=provenance,
        max_input_tokens=row["max_input_tokens"], replacement_model=row["replacement_model"],
    )


def catalog_last_sync(connection) -> datetime | None:
    """When the catalog last finished a model sync (dry runs aside)."""
    row = connection.execute("SELECT max(finished_at) FROM model_sync_runs WHERE NOT dry_run").fetchone()
    return row[0] if row else None


PRICE_HISTORY_KINDS = ("price_changed", "field_removed")


def price_changes(connection, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every recorded price change (`price_changed`, and `field_removed` of a price), oldest first, in batches."""
    from .changes import PRICE_FIELDS, is_price_slug

    after = 0
    while True:
        rows = connection.execute(
            """SELECT c.id, c.detected_at, p.slug, c.provider_model_id, c.kind, c.field, c.old_value, c.new_value,
                      c.source
               FROM model_changes c JOIN providers p ON p.id = c.provider_id
               WHERE c.id > %s AND c.kind = ANY(%s) ORDER BY c.id LIMIT %s""",
            (after, list(PRICE_HISTORY_KINDS), batch),
        ).fetchall()
        if not rows:
            return
        for change_id, at, slug, model_id, kind, name, old, new, source in rows:
            if kind == "field_removed" and not (name in PRICE_FIELDS or is_price_slug(name or "")):
                continue
            yield {"id": change_id, "at": at, "provider": slug, "model": model_id, "kind": kind, "field": name,
                   "old": old, "new": new, "source": source}
        after = rows[-1][0]
