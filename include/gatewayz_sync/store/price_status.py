"""Read models over prices: per-provider coverage, the acceptance checks, and the prices listing (every stored
price row beside every source's candidate).

Coverage splits each provider's active models into priced by the list API, by an operator, by a reference (one
count per confidence: the rule that decided) and not priced; `retired` counts models past their shutdown date
(the `lifecycle` of `models_current`); `held` counts models whose new list-API price jumped 10x or more and waits,
as a disputed `list_api` candidate, for an operator to accept it. A model is priced when it has a price source
(its rows are in `model_prices`).
"""

from __future__ import annotations

from typing import Any

from ..catalog.meters import PriceSheet
from ..catalog.routing import ROUTING_FIELDS, json_value
from ..prices.price_set import unit_error
from ..prices.resolve import CONFIDENCES
from ..prices.sources import REFERENCE_NAMES, RESELLER_NAMES
from .prices import load_price_state

STATUS_FILTERS = ("disputed", "held", "confirmed", "single", "newest", "majority", "preferred", "reseller", "api",
                  "operator", "reference", "none")
HELD = "EXISTS (SELECT 1 FROM model_price_candidates h WHERE h.model_id = m.id AND h.source = 'list_api')"
# The one meaning of "disputed" on every page and count: flagged disputed (whatever the source), or a held jump.
DISPUTED = f"(m.price_confidence = 'disputed' OR {HELD})"
_FILTER_SQL = {
    **{confidence: f"m.price_confidence = '{confidence}'" for confidence in CONFIDENCES},
    "disputed": DISPUTED,
    "held": HELD,
    "api": "m.price_source = 'list_api'",
    "operator": "m.price_source = 'operator'",
    "reference": "m.price_source = ANY(%(references)s)",
    "none": "m.price_source IS NULL",
}
REFERENCE_CONFIDENCES = tuple(c for c in CONFIDENCES)
COVERAGE_KEYS = ("api", "operator", *(f"reference_{c}" for c in REFERENCE_CONFIDENCES), "none")

COVERAGE_SQL = f"""
SELECT m.provider_slug, count(*),
       count(*) FILTER (WHERE m.price_source = 'list_api'),
       count(*) FILTER (WHERE m.price_source = 'operator'),
       {", ".join(f"count(*) FILTER (WHERE m.price_source = ANY(%(references)s) AND m.price_confidence = '{c}')"
                  for c in REFERENCE_CONFIDENCES)},
       count(*) FILTER (WHERE m.price_source IS NULL),
       count(*) FILTER (WHERE m.price_source IS NULL AND m.price_confidence = 'disputed'),
       count(*) FILTER (WHERE {DISPUTED}),
       count(*) FILTER (WHERE m.lifecycle = 'retired'),
       count(*) FILTER (WHERE m.lifecycle = 'deprecated'),
       count(*) FILTER (WHERE {HELD}),
       count(*) FILTER (WHERE m.kind = 'chat'),
       count(*) FILTER (WHERE m.kind = 'chat' AND m.price_source IS NOT NULL)
FROM models_current m WHERE m.is_active AND (%(provider)s::text IS NULL OR m.provider_slug = %(provider)s)
GROUP BY m.provider_slug ORDER BY m.provider_slug
"""


def price_coverage(connection, provider: str | None = None) -> dict[str, dict[str, Any]]:
    """slug -> {active, api, operator, reference_<confidence>..., none, refused, disputed, retired, deprecated,
    held, chat, chat_priced, priced_share}; `refused`: unpriced models whose every candidate a guard refused;
    `disputed`: what `price_listing(status="disputed")` lists (flagged disputed whatever their source, or
    holding a list-API price jump); `held`: models with a held list-API price jump."""
    with connection.cursor() as cursor:
        cursor.execute(COVERAGE_SQL, {"references": list(REFERENCE_NAMES), "provider": provider})
        rows = cursor.fetchall()
    coverage = {}
    keys = (*COVERAGE_KEYS, "refused", "disputed", "retired", "deprecated", "held", "chat", "chat_priced")
    for slug, active, *counts in rows:
        entry = dict(zip(keys, counts, strict=True))
        entry["active"] = active
        entry["reference"] = sum(entry[f"reference_{c}"] for c in REFERENCE_CONFIDENCES)
        entry["priced_share"] = round((active - entry["none"]) / active, 4) if active else None
        coverage[slug] = entry
    return coverage


def reference_coverage(coverage: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The acceptance figures: of the active models of providers whose list API prices none of them, how many a
    reference prices (and by which rule), and how many of their chat models are priced."""
    unlisted = {slug: c for slug, c in coverage.items() if c["active"] and not c["api"]}
    models = sum(c["active"] for c in unlisted.values())
    by_confidence = {kind: sum(c[f"reference_{kind}"] for c in unlisted.values()) for kind in REFERENCE_CONFIDENCES}
    priced = sum(by_confidence.values())
    chat = sum(c["chat"] for c in unlisted.values())
    chat_priced = sum(c["chat_priced"] for c in unlisted.values())
    return {
        "providers": sorted(unlisted),
        "models": models,
        "reference_priced": priced,
        "share": round(priced / models, 4) if models else None,
        **{f"reference_{kind}": count for kind, count in by_confidence.items()},
        "operator": sum(c["operator"] for c in unlisted.values()),
        "chat_models": chat,
        "chat_priced": chat_priced,
        "chat_share": round(chat_priced / chat, 4) if chat else None,
    }


def unflagged_unit_errors(connection) -> list[tuple[str, str, str]]:
    """Stored prices 10x or more away from one of their candidates without the `disputed` flag (must be none)."""
    with connection.transaction(), connection.cursor() as cursor:
        states = load_price_state(cursor, RESELLER_NAMES, REFERENCE_NAMES)
    found = []
    for state in states:
        if state.values["price_confidence"] == "disputed" or not state.stored:
            continue
        found += [(state.slug, state.provider_model_id, c.source) for c in state.candidates
                  if not c.reseller and unit_error(state.stored, c.prices)]
    return found


def _sheet_rows(meters: Any) -> list[dict[str, Any]]:
    sheet = PriceSheet.from_rows(meters or ())
    return [{**row, "condition": key.condition(), "unit_label": key.unit_label()}
            for key, row in zip(sheet, sheet.rows(), strict=True)]


def price_listing(connection, *, provider: str | None, status: str | None, limit: int, offset: int) -> list[dict]:
    """Active models with every stored price row (meter, unit, condition, source) and every candidate's prices
    side by side, by provider and model id."""
    where = _FILTER_SQL[status] if status else "true"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT m.id, m.provider_slug, m.provider_model_id, m.lifecycle, m.price_source, m.price_confidence,
                       m.price_source_version, m.price_checked_at, m.price_dispute, m.price_unknown_reason, m.kind,
                       m.alias_of, m.is_free, m.price_is_variable,
                       (SELECT jsonb_agg(jsonb_build_object('meter', p.meter, 'unit', p.unit,
                                'above_input_tokens', p.above_input_tokens, 'service_tier', p.service_tier,
                                'time_window', p.time_window, 'option', p.option, 'amount_usd', p.amount_usd::text,
                                'source', p.source) ORDER BY p.id)
                        FROM model_prices p WHERE p.model_id = m.id)
                FROM models_current m
                WHERE m.is_active AND (%(provider)s::text IS NULL OR m.provider_slug = %(provider)s) AND {where}
                ORDER BY m.provider_slug, m.provider_model_id LIMIT %(limit)s OFFSET %(offset)s""",
            {"provider": provider, "references": list(REFERENCE_NAMES), "limit": limit, "offset": offset},
        )
        models = cursor.fetchall()
        cursor.execute(
            """SELECT model_id, source, source_model_id, match_rule, status, status_reason, source_version,
                      checked_at, as_of, fetched_at, meters, unread
               FROM model_price_candidates WHERE model_id = ANY(%s) ORDER BY model_id, source""",
            ([row[0] for row in models],),
        )
        candidates: dict[int, list[dict]] = {}
        for row in cursor.fetchall():
            rows = _sheet_rows(row[10])
            candidates.setdefault(row[0], []).append({
                "source": row[1], "source_model_id": row[2], "match_rule": row[3], "status": row[4],
                "reason": row[5], "source_version": row[6], "checked_at": row[7] and row[7].isoformat(),
                "as_of": row[8] and row[8].isoformat(), "fetched_at": row[9].isoformat(),
                "prices": _headline(rows), "meters": rows, "unread": row[11] or [],
            })
        routing = _routing_fields(cursor, [row[0] for row in models])
    listing = []
    for row in models:
        rows = _sheet_rows(row[14])
        listing.append({
            "id": row[0], "provider": row[1], "model": row[2], "lifecycle": row[3], "kind": row[10], "alias_of": row[11],
            "stored": {"source": row[4], "confidence": row[5], "source_version": row[6],
                       "checked_at": row[7] and row[7].isoformat(), "dispute": row[8], "unknown_reason": row[9],
                       "is_free": row[12], "variable": row[13], "prices": _headline(rows), "meters": rows},
            "candidates": candidates.get(row[0], []),
            "fields": routing.get(row[0], {}),
        })
    return listing


def _routing_fields(cursor, model_ids: list[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """model id -> routing field -> its value, its recorded provenance and every reference's value with its
    standing (`catalog/routing.py`)."""
    cursor.execute(
        f"""SELECT id, field_sources, {", ".join(f"to_jsonb({name})" for name in ROUTING_FIELDS)}
            FROM models WHERE id = ANY(%s)""",
        (model_ids,),
    )
    found: dict[int, dict[str, dict[str, Any]]] = {}
    for model_id, sources, *values in cursor.fetchall():
        found[model_id] = {name: {"value": json_value(name, value), **((sources or {}).get(name) or {}),
                                  "candidates": []}
                           for name, value in zip(ROUTING_FIELDS, values, strict=True)}
    cursor.execute(
        """SELECT model_id, field, source, value, status, status_reason, source_model_id, source_version
           FROM model_field_candidates WHERE model_id = ANY(%s) ORDER BY model_id, field, source""",
        (model_ids,),
    )
    for model_id, name, source, value, status, reason, entry, version in cursor.fetchall():
        found[model_id][name]["candidates"].append({"source": source, "value": value, "status": status,
                                                    "reason": reason, "source_model_id": entry,
                                                    "source_version": version})
    return found


def _headline(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The unconditioned prices by `meter` (token meters) or `meter/unit`: the short form of a sheet."""
    headline = {}
    for row in rows:
        if row["condition"]:
            continue
        name = row["meter"] if row["unit"] == "token" else f"{row['meter']}/{row['unit']}"
        headline[name] = row["amount_usd"]
    return headline
