"""Read models for the catalog browser: a filtered, sorted page of models, and one model with its prices and history.

Models are read through the view `models_current`, which carries each model's `lifecycle` (derived from its dates),
its `price_source` and `price_confidence`, and the live `last_seen_at`. `removed` models (no longer active) are
listed only with `include_removed` or when that lifecycle is asked for; `retiring_within` keeps active models whose
retirement date (`catalog/lifecycle.py`) falls within that many days. Every piece of SQL text comes from the
fixed names below; values travel as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..catalog.lifecycle import RETIRES_AT
from ..catalog.meters import PriceKey, PriceSheet
from ..catalog.records import CAPABILITY_COLUMNS, PRICE_COLUMNS
from ..catalog.routing import ROUTING_FIELDS
from ..prices.resolve import CONFIDENCES, LIST_API, OPERATOR
from ..prices.sources import REFERENCE_NAMES
from .price_rows import flat_keys

PRICE_SOURCES = (LIST_API, OPERATOR, *REFERENCE_NAMES)
PRICE_CONFIDENCES = CONFIDENCES
LIFECYCLES = ("active", "deprecated", "retired", "removed")
SORTS = ("model", "price", "-price", "context", "-context")
PRICE_FIELDS = ("input", "output")
NUMERIC_OID = 1700

@dataclass(frozen=True)
class ModelQuery:
    """The browser's filters, sort and page; values are checked against the fixed names by the web layer."""

    provider: str | None = None
    capabilities: tuple[str, ...] = ()
    price_field: str = "input"
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    price_source: str | None = None
    price_confidence: str | None = None
    lifecycle: str | None = None
    retiring_within: int | None = None
    search: str | None = None
    include_removed: bool = False
    sort: str = "model"
    page: int = 1
    per_page: int = 50

    @property
    def price_column(self) -> str:
        return PRICE_COLUMNS[self.price_field]

    def order_by(self) -> str:
        column = {"price": f"m.{self.price_column}", "context": "m.context_length"}.get(self.sort.lstrip("-"))
        if column is None:
            return "p.slug, m.provider_model_id"
        direction = "DESC" if self.sort.startswith("-") else "ASC"
        return f"{column} {direction} NULLS LAST, p.slug, m.provider_model_id"

    def where(self) -> tuple[str, dict[str, Any]]:
        conditions, params = ["true"], {}
        if not self.include_removed and self.lifecycle != "removed":
            conditions.append("m.is_active")
        if self.provider:
            conditions.append("p.slug = %(provider)s")
            params["provider"] = self.provider
        conditions.extend(f"mm.{CAPABILITY_COLUMNS[name]}" for name in self.capabilities)
        if self.price_min is not None:
            conditions.append(f"m.{self.price_column} >= %(price_min)s")
            params["price_min"] = self.price_min
        if self.price_max is not None:
            conditions.append(f"m.{self.price_column} <= %(price_max)s")
            params["price_max"] = self.price_max
        for name in ("price_source", "price_confidence"):
            value = getattr(self, name)
            if value:
                conditions.append(f"m.{name} IS NULL" if value == "none" else f"m.{name} = %({name})s")
                params[name] = value
        if self.lifecycle:
            conditions.append("m.lifecycle = %(lifecycle)s")
            params["lifecycle"] = self.lifecycle
        if self.retiring_within is not None:
            conditions.append(f"m.is_active AND {RETIRES_AT} > catalog_now() "
                              f"AND {RETIRES_AT} <= catalog_now() + make_interval(days => %(retiring_within)s)")
            params["retiring_within"] = self.retiring_within
        if self.search:
            escaped = self.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append("(m.provider_model_id ILIKE %(pattern)s OR m.name ILIKE %(pattern)s)")
            params["pattern"] = f"%{escaped}%"
        return " AND ".join(conditions), params


@dataclass
class ModelPage:
    rows: list[dict[str, Any]]
    total: int
    query: ModelQuery

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.per_page))


def list_models(connection, query: ModelQuery) -> ModelPage:
    where, params = query.where()
    # capabilities are read from `models` (the view carries the first four only)
    capabilities = ", ".join(f"mm.{column} AS {name}" for name, column in CAPABILITY_COLUMNS.items())
    joined = "models_current m JOIN providers p ON p.id = m.provider_id JOIN models mm ON mm.id = m.id"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {joined} WHERE {where}", params)
        total = cursor.fetchone()[0]
        cursor.execute(
            f"""SELECT m.id, p.slug AS provider, m.provider_model_id, m.name, m.context_length, m.max_output_tokens,
                       m.price_input_usd_per_mtok AS input_price, m.price_output_usd_per_mtok AS output_price,
                       {capabilities}, m.is_active, m.lifecycle, m.price_source, m.price_confidence
                FROM {joined}
                WHERE {where}
                ORDER BY {query.order_by()}
                LIMIT %(limit)s OFFSET %(offset)s""",
            {**params, "limit": query.per_page, "offset": (query.page - 1) * query.per_page},
        )
        _, rows = _rows(cursor)
    return ModelPage(rows, total, query)


def provider_choices(connection) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT slug, name FROM providers ORDER BY slug")
        return cursor.fetchall()


@dataclass
class ModelDetail:
    """One model: every stored field, each price with its source, the change history and the charted prices."""

    fields: dict[str, Any]
    prices: list[dict[str, Any]]
    history_columns: list[str]
    history: list[dict[str, Any]]
    price_steps: dict[str, list[tuple[datetime, Decimal | None]]] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    price_rows: list[dict[str, Any]] = field(default_factory=list)
    step_units: dict[str, str] = field(default_factory=dict)
    # each routing field's value and where it came from; every reference's value of each, with its standing
    routing_fields: list[dict[str, Any]] = field(default_factory=list)
    field_candidates: list[dict[str, Any]] = field(default_factory=list)


def _rows(cursor) -> tuple[list[str], list[dict[str, Any]]]:
    names = [column.name for column in cursor.description]
    return names, [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _decimal(text: str | None) -> Decimal | None:
    try:
        return None if text is None else Decimal(text)
    except InvalidOperation:
        return None


def charted_prices(current: dict[str, Any], sheet: PriceSheet) -> list[tuple[str, str, Decimal | None, str]]:
    """(series name, history field, current value, unit label) of each charted price: input and output, then each
    long-context tier of them (`input above 200,000 tokens`), and a headline price in another unit (per character)."""
    charted = [(name, PRICE_COLUMNS[name], current.get(PRICE_COLUMNS[name]), "USD per 1M tokens") for name in PRICE_FIELDS]
    flat = flat_keys(sheet)
    for key, value in sheet.items():
        if key.meter not in PRICE_FIELDS or key.service_tier != "standard" or key.time_window or key.option:
            continue
        if key.unit == "token" and not key.above_input_tokens:
            continue
        name = f"{key.meter} above {key.above_input_tokens:,} tokens" if key.above_input_tokens else f"{key.meter} per {key.unit}"
        column = f"price_{key.meter}_long_context_usd_per_mtok" if key in flat else key.slug()
        charted.append((name, column, value, key.unit_label()))
    return charted


def price_steps(first_seen: datetime, current: dict[str, Any], history: list[dict[str, Any]],
                sheet: PriceSheet | None = None) -> dict[str, list]:
    """Each charted price from first seen, one point per recorded change (history in the order written)."""
    steps = {}
    for name, column, value, _ in charted_prices(current, sheet or PriceSheet()):
        changes = [c for c in history if c["kind"] == "price_changed" and c["field"] == column]
        start = _decimal(changes[0]["old_value"]) if changes else value
        steps[name] = [(first_seen, start), *((c["detected_at"], _decimal(c["new_value"])) for c in changes)]
    return steps


def model_detail(connection, model_id: int) -> ModelDetail | None:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT p.slug AS provider_slug, p.name AS provider_name, m.*, v.last_seen_at AS listed_last_seen_at,
                       v.lifecycle AS effective_lifecycle, v.price_source AS effective_price_source
                FROM models m JOIN providers p ON p.id = m.provider_id JOIN models_current v ON v.id = m.id
                WHERE m.id = %s""",
            (model_id,),
        )
        numeric = {column.name for column in cursor.description if column.type_code == NUMERIC_OID}
        _, found = _rows(cursor)
        if not found:
            return None
        fields = found[0]
        # One `last_seen_at` on the page: the live one (the stored column moves only when the row is written).
        fields["last_seen_at"] = fields.pop("listed_last_seen_at")
        cursor.execute(
            """SELECT c.*, s.dag_run_id FROM model_changes c LEFT JOIN sync_runs s ON s.id = c.sync_run_id
               WHERE c.model_id = %s ORDER BY c.id""",
            (model_id,),
        )
        history_columns, history = _rows(cursor)
        candidates = _price_candidates(cursor, model_id)
        cursor.execute(
            """SELECT field, source, value, status, status_reason, source_model_id, source_version, as_of, checked_at
               FROM model_field_candidates WHERE model_id = %s ORDER BY field, source""",
            (model_id,),
        )
        field_candidates = _rows(cursor)[1]
        cursor.execute(
            """SELECT meter, unit, above_input_tokens, service_tier, time_window, option, amount_usd, source,
                      source_version, checked_at FROM model_prices WHERE model_id = %s
               ORDER BY meter, unit, service_tier, above_input_tokens, time_window, option""",
            (model_id,),
        )
        rows = _rows(cursor)[1]
    sheet = PriceSheet.from_rows(rows)
    price_rows = [{**row, "condition": PriceKey(row["meter"], row["unit"], row["above_input_tokens"], row["service_tier"],
                                                  row["time_window"], row["option"]).condition(),
                   "unit_label": PriceKey(row["meter"], row["unit"]).unit_label()} for row in rows]
    source = fields["effective_price_source"]
    prices = [
        {"name": name.removeprefix("price_"), "value": value, "source": source if value is not None else None}
        for name, value in fields.items()
        if name.startswith("price_") and name in numeric
    ]
    hidden = {"provider_id", "model_id", "provider_model_id"}
    return ModelDetail(
        fields=fields,
        prices=prices,
        history_columns=[name for name in history_columns if name not in hidden],
        history=history,
        price_steps=price_steps(fields["first_seen_at"], fields, history, sheet),
        candidates=candidates,
        price_rows=price_rows,
        step_units={name: unit for name, _, _, unit in charted_prices(fields, sheet)},
        routing_fields=routing_fields(fields),
        field_candidates=field_candidates,
    )


def routing_fields(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Each routing field (`catalog/routing.py`) of a model row: its value and its recorded provenance."""
    sources = fields.get("field_sources") or {}
    return [{"field": name, "value": fields.get(name), **(sources.get(name) or {})} for name in ROUTING_FIELDS]


def _price_candidates(cursor, model_id: int) -> list[dict[str, Any]]:
    """Every reference source's prices for the model, side by side."""
    cursor.execute("SELECT * FROM model_price_candidates WHERE model_id = %s ORDER BY source", (model_id,))
    return _rows(cursor)[1]
