"""The stored prices of active models, as the price resolver reads them and writes back what it decided.

Reading and writing happen in one transaction that holds every provider's model lock (the one each provider's
load takes), so a model sync never interleaves with a resolution. Only rows whose decision differs are
written; every change of a stored price or of its source becomes a `price_changed` row of `model_changes`
with the source of the new value (a flat column by its name, any other price by its slug, `store/price_rows.py`;
`field_removed` when a price goes away). A held list-API price jump (a `list_api` candidate, see `guards.py`) is
the model sync's business and is not read here; a listed price the model sync refused as a sibling outlier is read,
so that the model says why it has no price.

An operator's price for a model is its `operator_prices` columns and its `operator_price_rows` (any meter, unit
and condition) together, a row winning over a column that stands for the same key (`operator_sheets`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..catalog.meters import FLAT_COLUMNS, PriceSheet, price_key
from ..prices.resolve import Candidate
from .changes import PRICE_CHANGED, change_kind
from .copy_text import encode_row
from .guards import HELD_OUTLIER
from .listing import MODELS_LOCK_PREFIX
from .price_rows import stored_sheets

PRICE_FIELDS = FLAT_COLUMNS
META_FIELDS = ("price_source", "price_confidence", "price_source_version", "price_checked_at", "price_dispute")
FLAG_FIELDS = ("is_free", "price_is_variable", "price_unknown_reason")
WRITTEN_FIELDS = (*PRICE_FIELDS, *META_FIELDS, *FLAG_FIELDS)
TRACKED_FIELDS = (*PRICE_FIELDS, "price_source")


@dataclass(frozen=True)
class StoredCandidate(Candidate):
    """A reference candidate as stored, with its standing against the model's stored price."""

    status: str | None = None
    status_reason: str | None = None
    source_model_id: str | None = None
    unread: tuple[str, ...] = ()


@dataclass
class PriceState:
    """One active model's stored price fields and rows, its operator price (if any) and its reference candidates."""

    model_id: int
    provider_id: int
    slug: str
    provider_model_id: str
    values: dict[str, Any]
    kind: str | None = None
    alias_of: str | None = None
    stored: PriceSheet = field(default_factory=PriceSheet)
    operator: PriceSheet | None = None
    operator_version: str | None = None
    candidates: list[StoredCandidate] = field(default_factory=list)
    # why the model sync refused the listing's own price (a sibling outlier), while it holds it
    refused_list_price: str | None = None

    @property
    def source(self) -> str | None:
        return self.values["price_source"]


def lock_for_resolution(cursor) -> None:
    cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('gatewayz.prices', 0))")
    cursor.execute(
        """SELECT pg_advisory_xact_lock(hashtextextended(%s || slug, 0))
           FROM (SELECT slug FROM providers ORDER BY slug) p""",
        (MODELS_LOCK_PREFIX,),
    )


OPERATOR_ROWS_SQL = """
SELECT r.provider_slug, r.provider_model_id, r.meter, r.unit, r.above_input_tokens, r.service_tier, r.time_window,
       r.option, r.amount_usd, r.updated_by, r.updated_at
FROM operator_price_rows r
ORDER BY r.provider_slug, r.provider_model_id, r.updated_at
"""
OPERATOR_COLUMNS_SQL = f"""
SELECT o.provider_slug, o.provider_model_id, o.updated_by, o.updated_at, {", ".join(f"o.{c}" for c in PRICE_FIELDS)}
FROM operator_prices o
"""


@dataclass(frozen=True)
class OperatorPrice:
    """An operator's negotiated prices for one model, and who last set them, when."""

    sheet: PriceSheet
    updated_by: str | None
    updated_at: datetime

    @property
    def version(self) -> str:
        return f"operator_prices ({self.updated_by or 'operator'}, {self.updated_at:%Y-%m-%d %H:%M} UTC)"


def operator_sheets(cursor) -> dict[tuple[str, str], OperatorPrice]:
    """(provider slug, provider model id) -> the operator's price: flat columns and price rows merged, a row
    winning over the column that stands for its key; the newest edit of either names the version."""
    found: dict[tuple[str, str], OperatorPrice] = {}
    cursor.execute(OPERATOR_COLUMNS_SQL)
    for provider_slug, model_id, updated_by, updated_at, *columns in cursor.fetchall():
        sheet = PriceSheet.from_columns(dict(zip(PRICE_FIELDS, columns, strict=True)))
        found[(provider_slug, model_id)] = OperatorPrice(sheet, updated_by, updated_at)
    rows: dict[tuple[str, str], list[tuple]] = {}
    cursor.execute(OPERATOR_ROWS_SQL)
    for provider_slug, model_id, *row in cursor.fetchall():
        rows.setdefault((provider_slug, model_id), []).append(tuple(row))
    for name, model_rows in rows.items():
        amounts = {price_key(meter, unit, above, tier, window, option): amount
                   for meter, unit, above, tier, window, option, amount, _, _ in model_rows}
        *_, updated_by, updated_at = model_rows[-1]
        flat = found.get(name)
        merged = {**(dict(flat.sheet.items()) if flat else {}), **amounts}
        if flat is not None and flat.updated_at > updated_at:
            updated_by, updated_at = flat.updated_by, flat.updated_at
        found[name] = OperatorPrice(PriceSheet(merged), updated_by, updated_at)
    return found


def load_price_state(cursor, reseller_sources: Sequence[str] = (),
                     reference_sources: Sequence[str] | None = None) -> list[PriceState]:
    """Every active model's price state. Only candidates of `reference_sources` (all when None) take part: a
    candidate another writer holds under another source (a list-API price held back by a guard) is not one."""
    operators = operator_sheets(cursor)
    cursor.execute(
        f"""SELECT m.id, m.provider_id, p.slug, m.provider_model_id, m.kind, m.alias_of,
                   {", ".join(f"m.{c}" for c in WRITTEN_FIELDS)}
            FROM models m JOIN providers p ON p.id = m.provider_id
            WHERE m.is_active ORDER BY m.id"""
    )
    states: dict[int, PriceState] = {}
    width = len(WRITTEN_FIELDS)
    for row in cursor.fetchall():
        model_id, provider_id, slug, provider_model_id, kind, alias_of = row[:6]
        values = dict(zip(WRITTEN_FIELDS, row[6 : 6 + width], strict=True))
        state = PriceState(model_id, provider_id, slug, provider_model_id, values, kind, alias_of)
        if (operator := operators.get((slug, provider_model_id))) is not None:
            state.operator, state.operator_version = operator.sheet, operator.version
        states[model_id] = state
    for model_id, sheet in stored_sheets(cursor, list(states)).items():
        states[model_id].stored = sheet
    cursor.execute(
        """SELECT c.model_id, c.status_reason FROM model_price_candidates c JOIN models m ON m.id = c.model_id
           WHERE m.is_active AND c.source = 'list_api' AND c.match_rule = %s""",
        (HELD_OUTLIER,),
    )
    for model_id, reason in cursor.fetchall():
        states[model_id].refused_list_price = reason
    # by source, not by row id: ids follow the order the refreshes happened to finish in
    cursor.execute(
        """SELECT c.model_id, c.source, c.source_version, c.checked_at, c.as_of, c.status, c.status_reason,
                  c.source_model_id, c.meters, c.unread, c.no_price
           FROM model_price_candidates c JOIN models m ON m.id = c.model_id
           WHERE m.is_active AND c.source <> 'list_api' AND (%s::text[] IS NULL OR c.source = ANY(%s::text[]))
           ORDER BY c.model_id, c.source, c.source_model_id""",
        (reference_sources and list(reference_sources), reference_sources and list(reference_sources)),
    )
    for model_id, source, version, checked_at, as_of, status, reason, source_id, meters, unread, no_price in (
            cursor.fetchall()):
        prices = PriceSheet.from_rows(meters or ())
        states[model_id].candidates.append(StoredCandidate(
            source, prices, version, checked_at, as_of, source in reseller_sources, zero_only=not prices,
            no_price=no_price, status=status, status_reason=reason,
            source_model_id=source_id, unread=tuple(unread or ()),
        ))
    return list(states.values())


def raw_records(cursor, model_ids: Sequence[int]) -> dict[int, Any]:
    cursor.execute("SELECT id, raw FROM models WHERE id = ANY(%s)", (list(model_ids),))
    return dict(cursor.fetchall())


@dataclass(frozen=True)
class PriceChange:
    state: PriceState
    field: str
    old: Any
    new: Any
    source: str | None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def apply_decisions(
    cursor,
    rows: Iterable[tuple[int, dict[str, Any]]],
    changes: Iterable[PriceChange],
    statuses: Iterable[tuple[int, str, str, str | None]],
) -> tuple[int, int, int]:
    """Write changed model rows, their change rows and candidate statuses; returns how many of each."""
    cursor.execute(
        "CREATE TEMP TABLE stage_prices ON COMMIT DROP AS "
        f"SELECT id AS model_id, {', '.join(WRITTEN_FIELDS)} FROM models WITH NO DATA"
    )
    written = 0
    with cursor.copy(f"COPY stage_prices (model_id, {', '.join(WRITTEN_FIELDS)}) FROM STDIN") as copy:
        for model_id, values in rows:
            copy.write(encode_row((model_id, *(_text(values[c]) for c in WRITTEN_FIELDS))))
            written += 1
    if written:
        cursor.execute(
            f"""UPDATE models m SET {", ".join(f"{c} = s.{c}" for c in WRITTEN_FIELDS)}, updated_at = now()
                FROM stage_prices s WHERE m.id = s.model_id"""
        )
    recorded = 0
    with cursor.copy(
        "COPY model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value, source) "
        "FROM STDIN"
    ) as copy:
        for change in changes:
            state = change.state
            kind = change_kind(PRICE_CHANGED, change.field, change.old, change.new)
            copy.write(encode_row((state.provider_id, state.model_id, state.provider_model_id, kind,
                                   change.field, _text(change.old), _text(change.new), change.source)))
            recorded += 1
    cursor.execute("CREATE TEMP TABLE stage_status (model_id bigint, source text, status text, reason text) ON COMMIT DROP")
    marked = 0
    with cursor.copy("COPY stage_status (model_id, source, status, reason) FROM STDIN") as copy:
        for status_row in statuses:
            copy.write(encode_row(status_row))
            marked += 1
    if marked:
        cursor.execute(
            """UPDATE model_price_candidates c SET status = s.status, status_reason = s.reason
               FROM stage_status s WHERE c.model_id = s.model_id AND c.source = s.source"""
        )
    return written, recorded, marked
