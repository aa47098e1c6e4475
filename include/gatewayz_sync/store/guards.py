"""The content guards of a provider's load: fields a listing would take away, and list-API prices that jump.

Both run inside the load's transaction on the filled stage, after stored operator and reference prices were put
back into it, and compare like with like: only models both stored (active) and listed.

- Field loss: a price, limit, modality or capability that the listing would take away from more than
  `field_loss_ratio` (30%) of the models that had it, and from at least `field_loss_min_models` (5) of them,
  refuses the provider's load unless the run allows it; the loss is measured whatever `allow_shrink` says. A price
  is a flat column, or any list-API price row without one (any meter, unit and condition: `input/character`,
  `input_audio/minute`, `input/token>128000`, named by its slug), so a listing that drops every per-character
  price of a provider is refused like one that drops its per-token prices.
- Price jumps: a list-API price 10x or more away from the stored list-API price under the same meter, unit and
  condition (`price_jump` over the model's `model_prices` rows and the listing's price sheet; a token price the
  normalizer refused as absurd counts at its unbounded value) is held: the stage gets the stored prices back and
  keeps the stored price rows (`keeps_stored`), the row is marked (`held:` before its content hash) so the next
  listing is checked again, and the listed prices are kept as a disputed `list_api` candidate (every meter in its
  `meters`) until an operator accepts them (an `operator_prices` row, or a run with `accept_price_jumps`). A
  `price_held` change row names the price that jumped (a flat column, or a price's slug), once per new held
  value.
- Sibling outliers: a single listed price (no stored list-API price of the model vouches for it: a new model, or
  one priced until now by a reference or not at all, so the jump guard has nothing to compare it with; and no
  reference candidate agrees with it) that is 100x or more away (`LIST_PRICE_SIBLING_RATIO`, the smallest unit
  slip; why not 10x is said there) from every one of at least two priced siblings (the provider's other listed
  models of the same `kind`, as the listing or the catalog prices them) is not stored: the stage loses the listed
  prices (a stored reference price stays, as when the listing gives none), the row is marked `held:` like a jump
  and checked again on every listing, the listed prices wait as a disputed `list_api` candidate
  (`held_sibling_outlier`), and a `price_held` change names the price. Accepted the same way as a jump. This is
  row 6 of the billing-grade prices issue applied to a list-API price; a model with a stored list-API price is
  the jump guard's business and is never judged by its siblings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb

from ..catalog.meters import BASE_COLUMNS, CHARACTER, SERVICE_COLUMNS, TOKEN, PriceKey, PriceSheet, price_key
from ..catalog.records import FLAT_PRICE_COLUMNS, dumps_json
from ..catalog.units import InvalidPrice, usd_per_mtok
from ..prices.price_set import agrees, gap_name, gap_rank, price_jump
from ..prices.resolve import LIST_PRICE_SIBLING_RATIO, sibling_outliers
from ..sources.registry import GATEWAY_REGISTRY
from ..sources.specs import ListApiSpec
from .changes import REMOVABLE_FIELDS
from .model_sql import DATA_COLUMNS
from .price_rows import flat_keys, stored_sheets

MAX_EXAMPLES = 3
LIST_API = "list_api"
HELD_PREFIX = "held:"
LIST_PRICE_COLUMNS = FLAT_PRICE_COLUMNS
GUARDED_FIELDS = tuple(field for field in REMOVABLE_FIELDS if field in DATA_COLUMNS)

LOST_SQL = f"""
SELECT f.field, count(*), (array_agg(s.provider_model_id ORDER BY s.provider_model_id))[1:{MAX_EXAMPLES}]
FROM stage_models s
JOIN models m ON m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id AND m.is_active
CROSS JOIN LATERAL (VALUES
    {", ".join(f"('{c}', m.{c} IS NOT NULL AND s.{c} IS NULL)" for c in GUARDED_FIELDS)}
) AS f(field, lost)
WHERE s.changed AND f.lost
GROUP BY f.field
"""


@dataclass(frozen=True)
class FieldLoss:
    """How many of the listed models that had a field the listing would take it from, with a few ids."""

    field: str
    lost: int
    had: int
    examples: tuple[str, ...]

    def refused(self, ratio: float, min_models: int) -> bool:
        return self.lost >= min_models and self.lost > ratio * self.had

    def words(self) -> str:
        return f"{self.field} from {self.lost} of {self.had} models that had it (e.g. {', '.join(self.examples)})"

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "lost": self.lost, "had": self.had, "examples": list(self.examples)}


# The list-API price rows of the stored, listed models and whether the listing would take each away: a model the
# load rewrites (changed, keeping no stored price) whose staged rows lack the row's key.
LOST_PRICE_ROWS_SQL = """
WITH listed AS (
    SELECT m.id, s.provider_model_id, s.list_prices,
           s.changed AND NOT s.keeps_stored AND m.content_hash IS DISTINCT FROM s.content_hash AS rewritten
    FROM stage_models s
    JOIN models m ON m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id AND m.is_active
),
had AS (
    SELECT l.provider_model_id, p.meter, p.unit, p.above_input_tokens, p.service_tier, p.time_window, p.option,
           l.rewritten AND NOT EXISTS (
               SELECT 1 FROM jsonb_to_recordset(COALESCE(l.list_prices, '[]'::jsonb)) AS r(
                   meter text, unit text, above_input_tokens integer, service_tier text, time_window text, "option" text)
               WHERE (r.meter, r.unit, r.above_input_tokens, r.service_tier, r.time_window, r.option)
                   = (p.meter, p.unit, p.above_input_tokens, p.service_tier, p.time_window, p.option)) AS lost
    FROM listed l JOIN model_prices p ON p.model_id = l.id AND p.source = 'list_api'
)
SELECT meter, unit, above_input_tokens, service_tier, time_window, option, count(*) FILTER (WHERE lost), count(*),
       (array_agg(provider_model_id ORDER BY provider_model_id) FILTER (WHERE lost))[1:%(examples)s]
FROM had GROUP BY 1, 2, 3, 4, 5, 6 HAVING bool_or(lost)
"""


def _price_row_losses(cursor, provider_id: int) -> list[FieldLoss]:
    """Losses of list-API price rows that no flat column stands for (those are counted by column)."""
    cursor.execute(LOST_PRICE_ROWS_SQL, {"provider_id": provider_id, "examples": MAX_EXAMPLES})
    losses = []
    for meter, unit, above, tier, window, option, lost, had, examples in cursor.fetchall():
        key = price_key(meter, unit, above, tier, window, option)
        if key not in BASE_COLUMNS and key not in SERVICE_COLUMNS:
            losses.append(FieldLoss(key.slug(), lost, had, tuple(examples)))
    return losses


def _loss_order(loss: FieldLoss) -> tuple:
    position = GUARDED_FIELDS.index(loss.field) if loss.field in GUARDED_FIELDS else len(GUARDED_FIELDS)
    return -loss.lost, position, loss.field


def field_losses(cursor, provider_id: int) -> list[FieldLoss]:
    """Every field (flat column, or list-API price row by its slug) the staged listing would take from some stored,
    listed model, most models first."""
    row_losses = _price_row_losses(cursor, provider_id)
    cursor.execute(LOST_SQL, {"provider_id": provider_id})
    lost = {field: (count, tuple(examples)) for field, count, examples in cursor.fetchall()}
    if not lost:
        return sorted(row_losses, key=_loss_order)
    fields = sorted(lost)
    cursor.execute(
        f"""SELECT {", ".join(f"count(*) FILTER (WHERE m.{field} IS NOT NULL)" for field in fields)}
            FROM stage_models s
            JOIN models m ON m.provider_id = %s AND m.provider_model_id = s.provider_model_id AND m.is_active""",
        (provider_id,),
    )
    had = dict(zip(fields, cursor.fetchone(), strict=True))
    losses = [FieldLoss(field, lost[field][0], had[field], lost[field][1]) for field in fields]
    return sorted(losses + row_losses, key=_loss_order)


JUMP_SQL = """
SELECT m.id, s.provider_model_id, s.raw_pricing, s.list_prices
FROM stage_models s
JOIN models m ON m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id
WHERE s.changed AND NOT s.keeps_stored AND m.price_source = 'list_api'
  AND COALESCE(s.price_source, 'list_api') = 'list_api' AND m.content_hash IS DISTINCT FROM s.content_hash
  AND NOT EXISTS (SELECT 1 FROM operator_prices o
                  WHERE o.provider_slug = %(slug)s AND o.provider_model_id = s.provider_model_id)
  AND NOT EXISTS (SELECT 1 FROM operator_price_rows o
                  WHERE o.provider_slug = %(slug)s AND o.provider_model_id = s.provider_model_id)
ORDER BY s.provider_model_id
"""

HOLD_SQL = f"""
UPDATE stage_models s SET ({", ".join(LIST_PRICE_COLUMNS)}, price_source, price_is_variable, raw_pricing, is_free,
                           price_unknown_reason, keeps_stored)
    = ({", ".join(f"m.{c}" for c in LIST_PRICE_COLUMNS)}, m.price_source, m.price_is_variable, m.raw_pricing, m.is_free,
       m.price_unknown_reason, true),
    content_hash = '{HELD_PREFIX}' || s.content_hash
FROM models m
WHERE m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id
  AND s.provider_model_id = ANY(%(held)s)
"""

CANDIDATE_SQL = f"""
INSERT INTO model_price_candidates (model_id, source, source_model_id, match_rule, {", ".join(LIST_PRICE_COLUMNS)},
                                    meters, source_version, fetched_at, status, status_reason, detail, content_hash)
VALUES (%(model_id)s, '{LIST_API}', %(provider_model_id)s, %(rule)s,
        {", ".join(f"%({c})s" for c in LIST_PRICE_COLUMNS)}, %(meters)s, %(version)s, now(), 'disputed', %(reason)s,
        %(detail)s, %(hash)s)
ON CONFLICT (model_id, source) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in LIST_PRICE_COLUMNS)}, meters = EXCLUDED.meters,
    match_rule = EXCLUDED.match_rule,
    source_version = EXCLUDED.source_version, fetched_at = now(), status = EXCLUDED.status,
    status_reason = EXCLUDED.status_reason, detail = EXCLUDED.detail, content_hash = EXCLUDED.content_hash
WHERE model_price_candidates.content_hash IS DISTINCT FROM EXCLUDED.content_hash
RETURNING model_id
"""

RELEASE_SQL = """
DELETE FROM model_price_candidates c USING models m
WHERE c.model_id = m.id AND m.provider_id = %(provider_id)s AND c.source = 'list_api'
  AND m.provider_model_id <> ALL(%(held)s)
"""


@dataclass(frozen=True)
class PriceJump:
    """A listed price sheet 10x or more away from the stored list-API one: the widest price and its ratio."""

    model_id: int
    provider_model_id: str
    stored: PriceSheet
    listed: PriceSheet
    key: PriceKey
    ratio: Decimal

    @property
    def column(self) -> str:
        """The jump's `model_changes.field`: its flat column, or the price's slug."""
        flat = {**BASE_COLUMNS, **SERVICE_COLUMNS}
        if self.key in flat:
            return flat[self.key]
        if self.key in flat_keys(self.stored) and self.key.above_input_tokens:
            return f"price_{self.key.meter}_long_context_usd_per_mtok"
        return self.key.slug()

    @property
    def meter(self) -> str:
        return gap_name(self.key)

    def words(self) -> str:
        before, after = self.stored[self.key], self.listed[self.key]
        direction = "up" if after > before else "down"
        return (f"{self.meter} {self.ratio.quantize(Decimal(1)) if self.ratio >= 100 else round(self.ratio, 1)}x "
                f"{direction} from the stored list_api price ({before} -> {after})")

    def as_dict(self) -> dict[str, str]:
        return {"model": self.provider_model_id, "meter": self.meter, "ratio": str(round(self.ratio, 4)),
                "stored": str(self.stored[self.key]), "listed": str(self.listed[self.key])}


def _as_listed(listed: PriceSheet, raw_pricing: Any, spec: ListApiSpec | None, stored: PriceSheet) -> PriceSheet:
    """The listed prices, with a token price the normalizer refused as absurd (above MAX_USD_PER_MTOK, the mark of
    a unit slip) read without that bound: such a price is a jump to hold, not a price to drop. Per character where
    the stored price of that meter is."""
    if spec is None or not isinstance(raw_pricing, dict):
        return listed
    found = {}
    for meter, path in spec.fields.token_prices.items():
        unit = CHARACTER if PriceKey(meter, CHARACTER) in stored else TOKEN
        if PriceKey(meter, unit) not in listed and raw_pricing.get(path) is not None:
            try:
                found[PriceKey(meter, unit)] = usd_per_mtok(raw_pricing[path], spec.price_unit, bounded=False)
            except InvalidPrice:
                continue
    return PriceSheet({**dict(listed.items()), **found}) if found else listed


def price_jumps(cursor, provider_id: int, slug: str) -> list[PriceJump]:
    """Listed models whose list-API price moved 10x or more from the stored one on some price, compared meter by
    meter (no operator price decides it)."""
    cursor.execute(JUMP_SQL, {"provider_id": provider_id, "slug": slug})
    rows = cursor.fetchall()
    if not rows:
        return []
    provider = GATEWAY_REGISTRY.get(slug)
    spec = provider.list_api if provider else None
    stored_rows = stored_sheets(cursor, [row[0] for row in rows])
    jumps = []
    for model_id, provider_model_id, raw_pricing, list_prices in rows:
        stored = stored_rows.get(model_id, PriceSheet())
        listed = _as_listed(PriceSheet.from_rows(list_prices or ()), raw_pricing, spec, stored)
        gap = price_jump(stored, listed)
        if gap is not None:
            jumps.append(PriceJump(model_id, provider_model_id, stored, listed, gap[1], gap[0]))
    return jumps


def _candidate(jump: PriceJump, version: str) -> dict[str, Any]:
    listed = jump.listed.columns()
    meters = [{k: v for k, v in row.items() if k != "source"} for row in jump.listed.rows()]
    digest = hashlib.sha256(dumps_json(meters, sort_keys=True)).hexdigest()
    reason = f"{jump.words()}; held until accepted (an operator_prices row or a run with accept_price_jumps)"
    return {"model_id": jump.model_id, "provider_model_id": jump.provider_model_id, **listed, "version": version,
            "reason": reason, "hash": digest, "meters": Jsonb(meters), "rule": HELD_JUMP,
            "detail": Jsonb({"stored": {key.slug(): str(value) for key, value in jump.stored.items()},
                             "jump": jump.as_dict()})}


def hold_price_jumps(cursor, provider_id: int, run_id: int, jumps: list[PriceJump], version: str) -> int:
    """Keep the stored prices of `jumps` in the stage and their listed prices as disputed candidates; returns how
    many `price_held` change rows were written (one per model whose held value is new)."""
    if not jumps:
        return 0
    cursor.execute(HOLD_SQL, {"provider_id": provider_id, "held": [jump.provider_model_id for jump in jumps]})
    written = 0
    for jump in jumps:
        cursor.execute(CANDIDATE_SQL, _candidate(jump, version))
        if cursor.fetchone() is None:
            continue
        _held_change(cursor, provider_id, run_id, jump.model_id, jump.provider_model_id, jump.column,
                     jump.stored[jump.key], jump.listed[jump.key])
        written += 1
    return written


def release_held(cursor, provider_id: int, held: list[str]) -> None:
    """Drop the held list-API prices (jumps, sibling outliers) of the provider's models not held by this load."""
    cursor.execute(RELEASE_SQL, {"provider_id": provider_id, "held": held})


def _held_change(cursor, provider_id: int, run_id: int, model_id: int, provider_model_id: str, field: str,
                 old: Decimal | None, new: Decimal | None) -> None:
    cursor.execute(
        """INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value,
                                      sync_run_id, source)
           VALUES (%s, %s, %s, 'price_held', %s, %s, %s, %s, 'list_api')""",
        (provider_id, model_id, provider_model_id, field, _text(old), _text(new), run_id),
    )


HELD_JUMP, HELD_OUTLIER = "held_price_jump", "held_sibling_outlier"
ACCEPT = "held until accepted (an operator_prices row or a run with accept_price_jumps)"

# Listed prices no stored list-API price of the model vouches for, and no operator price replaces.
OUTLIER_CANDIDATES_SQL = """
SELECT s.provider_model_id, s.list_prices::text
FROM stage_models s
LEFT JOIN models m ON m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id
WHERE s.changed AND NOT s.keeps_stored AND s.price_source = 'list_api' AND s.list_prices IS NOT NULL
  AND m.price_source IS DISTINCT FROM 'list_api'
  AND NOT EXISTS (SELECT 1 FROM operator_prices o
                  WHERE o.provider_slug = %(slug)s AND o.provider_model_id = s.provider_model_id)
  AND NOT EXISTS (SELECT 1 FROM operator_price_rows o
                  WHERE o.provider_slug = %(slug)s AND o.provider_model_id = s.provider_model_id)
"""
VOUCHING_SQL = """
SELECT m.provider_model_id, c.meters FROM model_price_candidates c JOIN models m ON m.id = c.model_id
WHERE m.provider_id = %(provider_id)s AND m.provider_model_id = ANY(%(models)s) AND c.source <> 'list_api'
"""
# Every listed model's prices as this load would leave them: the listing's for a model it rewrites, else the
# stored rows (an unchanged model, or one keeping an operator, reference or held price).
SIBLINGS_SQL = """
SELECT s.provider_model_id, COALESCE(s.kind, m.kind), m.id,
       s.changed AND NOT s.keeps_stored AS rewritten, s.list_prices::text
FROM stage_models s
LEFT JOIN models m ON m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id
"""

REFUSE_SQL = f"""
UPDATE stage_models s SET ({", ".join(LIST_PRICE_COLUMNS)}, list_prices, price_source, is_free, price_is_variable,
                           price_unknown_reason)
    = ({", ".join("NULL" for _ in LIST_PRICE_COLUMNS)}, NULL, NULL, NULL, false, o.reason),
    content_hash = '{HELD_PREFIX}' || s.content_hash
FROM unnest(%(models)s::text[], %(reasons)s::text[]) AS o(provider_model_id, reason)
WHERE s.provider_model_id = o.provider_model_id
"""


@dataclass(frozen=True)
class ListedOutlier:
    """A listed price sheet 10x or more away from every priced sibling, with nothing stored to vouch for it."""

    provider_model_id: str
    listed: PriceSheet
    reason: str

    @property
    def key(self) -> PriceKey:
        return next(key for key in sorted(self.listed, key=gap_rank) if self.listed[key] > 0)

    @property
    def column(self) -> str:
        return {**BASE_COLUMNS, **SERVICE_COLUMNS}.get(self.key) or self.key.slug()

    def as_dict(self) -> dict[str, str]:
        return {"model": self.provider_model_id, "meter": gap_name(self.key), "listed": str(self.listed[self.key]),
                "reason": self.reason}


# Rows per message when the guard streams the stage: one row at a time cost a round of the protocol per model.
STREAM_CHUNK = 1_000


class _SheetCache:
    """One PriceSheet per distinct listed price list: a large listing repeats a few hundred price lists over
    thousands of models, and a sheet per model held every one of them in memory at once."""

    def __init__(self):
        self._sheets: dict[str | None, PriceSheet] = {}

    def __call__(self, rows_json: str | None) -> PriceSheet:
        sheet = self._sheets.get(rows_json)
        if sheet is None:
            sheet = self._sheets[rows_json] = PriceSheet.from_rows(json.loads(rows_json) if rows_json else ())
        return sheet


def listed_outliers(cursor, provider_id: int, slug: str) -> list[ListedOutlier]:
    """Listed prices, not vouched for by the model's stored list-API price, 10x or more from every sibling."""
    params = {"provider_id": provider_id, "slug": slug}
    sheet_of = _SheetCache()
    judged = {model: sheet_of(rows)
              for model, rows in cursor.stream(OUTLIER_CANDIDATES_SQL, params, size=STREAM_CHUNK)}
    cursor.execute(VOUCHING_SQL, {**params, "models": list(judged)})
    for model, meters in cursor.fetchall():
        if model in judged and agrees(PriceSheet.from_rows(meters or ()), judged[model]):
            del judged[model]  # a reference agrees: not a single-source price
    if not judged:
        return []
    siblings = [(name, kind, sheet_of(list_prices) if rewritten else model_id)
                for name, kind, model_id, rewritten, list_prices in cursor.stream(SIBLINGS_SQL, params, size=STREAM_CHUNK)]
    stored = stored_sheets(cursor, [held for _, _, held in siblings if isinstance(held, int)])
    by_kind: dict[str | None, dict[str, PriceSheet]] = {}
    for name, kind, held in siblings:
        sheet = held if isinstance(held, PriceSheet) else stored.get(held, PriceSheet())
        if sheet.any_positive:
            by_kind.setdefault(kind, {})[name] = sheet
    outliers = []
    for sheets in by_kind.values():
        reasons = sibling_outliers(sheets, sorted(set(judged) & set(sheets)), "single list-API price",
                                   LIST_PRICE_SIBLING_RATIO)
        outliers += [ListedOutlier(name, sheets[name], reason) for name, reason in sorted(reasons.items())]
    return outliers


def refuse_listed_outliers(cursor, outliers: list[ListedOutlier]) -> None:
    """Take the outliers' listed prices out of the stage (the stored prices are put back by the caller's keep
    step, as for a listing without a price) and mark them held, so that the next listing checks them again."""
    if outliers:
        cursor.execute(REFUSE_SQL, {"models": [o.provider_model_id for o in outliers],
                                    "reasons": [f"the listed price was refused: {o.reason}; {ACCEPT}" for o in outliers]})


def record_listed_outliers(cursor, provider_id: int, run_id: int, outliers: list[ListedOutlier], version: str) -> int:
    """After the upsert (a new model has an id now): each outlier's listed prices as a disputed `list_api`
    candidate and, when that value is new, a `price_held` change; returns how many changes were written."""
    if not outliers:
        return 0
    cursor.execute("SELECT provider_model_id, id FROM models WHERE provider_id = %s AND provider_model_id = ANY(%s)",
                   (provider_id, [o.provider_model_id for o in outliers]))
    ids = dict(cursor.fetchall())
    written = 0
    for outlier in outliers:
        meters = [{k: v for k, v in row.items() if k != "source"} for row in outlier.listed.rows()]
        cursor.execute(CANDIDATE_SQL, {
            "model_id": ids[outlier.provider_model_id], "provider_model_id": outlier.provider_model_id,
            **outlier.listed.columns(), "version": version, "reason": f"{outlier.reason}; {ACCEPT}",
            "hash": hashlib.sha256(dumps_json(meters, sort_keys=True)).hexdigest(), "meters": Jsonb(meters),
            "rule": HELD_OUTLIER, "detail": Jsonb({"sibling_outlier": outlier.as_dict()}),
        })
        if cursor.fetchone() is None:
            continue
        _held_change(cursor, provider_id, run_id, ids[outlier.provider_model_id], outlier.provider_model_id,
                     outlier.column, None, outlier.listed[outlier.key])
        written += 1
    return written


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
