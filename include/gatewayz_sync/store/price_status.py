"""Read models over prices: per-provider coverage, the acceptance checks, and the candidates listing.

Coverage splits each provider's active models into priced by the list API, by an operator, by a reference
(confirmed, single or disputed) and not priced; `retired` counts models past their shutdown date (the
`lifecycle` of `models_current`); `held` counts models whose new list-API price jumped 10x or more and waits, as
a disputed `list_api` candidate, for an operator to accept it.
"""

from __future__ import annotations

from typing import Any

from ..prices.price_set import COLUMNS, PriceSet, unit_error
from ..prices.sources import REFERENCE_NAMES
from .prices import PRICE_FIELDS, load_price_state

STATUS_FILTERS = ("disputed", "held", "confirmed", "single", "api", "operator", "reference", "none")
HELD = "EXISTS (SELECT 1 FROM model_price_candidates h WHERE h.model_id = m.id AND h.source = 'list_api')"
_FILTER_SQL = {
    "disputed": f"(m.price_confidence = 'disputed' OR {HELD})",
    "held": HELD,
    "confirmed": "m.price_confidence = 'confirmed'",
    "single": "m.price_confidence = 'single'",
    "api": "m.price_source = 'list_api'",
    "operator": "m.price_source = 'operator'",
    "reference": "m.price_source = ANY(%(references)s)",
    "none": "m.price_source IS NULL",
}
COVERAGE_KEYS = ("api", "operator", "reference_confirmed", "reference_single", "reference_disputed", "none")

COVERAGE_SQL = f"""
SELECT m.provider_slug, count(*),
       count(*) FILTER (WHERE m.price_source = 'list_api'),
       count(*) FILTER (WHERE m.price_source = 'operator'),
       count(*) FILTER (WHERE m.price_source = ANY(%(references)s) AND m.price_confidence = 'confirmed'),
       count(*) FILTER (WHERE m.price_source = ANY(%(references)s) AND m.price_confidence = 'single'),
       count(*) FILTER (WHERE m.price_source = ANY(%(references)s) AND m.price_confidence = 'disputed'),
       count(*) FILTER (WHERE m.price_source IS NULL),
       count(*) FILTER (WHERE m.price_source IS NULL AND m.price_confidence = 'disputed'),
       count(*) FILTER (WHERE m.price_confidence = 'disputed'),
       count(*) FILTER (WHERE m.lifecycle = 'retired'),
       count(*) FILTER (WHERE m.lifecycle = 'deprecated'),
       count(*) FILTER (WHERE {HELD})
FROM models_current m WHERE m.is_active AND (%(provider)s::text IS NULL OR m.provider_slug = %(provider)s)
GROUP BY m.provider_slug ORDER BY m.provider_slug
"""


def price_coverage(connection, provider: str | None = None) -> dict[str, dict[str, Any]]:
    """slug -> {active, api, operator, reference_confirmed/single/disputed, none, refused, disputed, retired,
    deprecated, held, priced_share}; `refused`: unpriced models whose every candidate the unit-error guard refused;
    `disputed`: models flagged disputed whatever their source; `held`: models with a held list-API price jump."""
    with connection.cursor() as cursor:
        cursor.execute(COVERAGE_SQL, {"references": list(REFERENCE_NAMES), "provider": provider})
        rows = cursor.fetchall()
    coverage = {}
    for slug, active, *counts in rows:
        entry = dict(zip((*COVERAGE_KEYS, "refused", "disputed", "retired", "deprecated", "held"), counts, strict=True))
        entry["active"] = active
        entry["priced_share"] = round((active - entry["none"]) / active, 4) if active else None
        coverage[slug] = entry
    return coverage


def reference_coverage(coverage: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The acceptance figure: of the active models of providers whose list API prices none of them, how many a
    reference prices (and with which confidence)."""
    unlisted = {slug: c for slug, c in coverage.items() if c["active"] and not c["api"]}
    models = sum(c["active"] for c in unlisted.values())
    by_confidence = {kind: sum(c[f"reference_{kind}"] for c in unlisted.values())
                     for kind in ("confirmed", "single", "disputed")}
    priced = sum(by_confidence.values())
    return {
        "providers": sorted(unlisted),
        "models": models,
        "reference_priced": priced,
        "share": round(priced / models, 4) if models else None,
        **{f"reference_{kind}": count for kind, count in by_confidence.items()},
        "operator": sum(c["operator"] for c in unlisted.values()),
    }


def unflagged_unit_errors(connection) -> list[tuple[str, str, str]]:
    """Stored prices 10x or more away from one of their candidates without the `disputed` flag (must be none)."""
    with connection.transaction(), connection.cursor() as cursor:
        states = load_price_state(cursor)
    found = []
    for state in states:
        stored = PriceSet.from_columns({c: state.values[c] for c in PRICE_FIELDS})
        if state.values["price_confidence"] == "disputed" or not stored.has_token_price:
            continue
        found += [(state.slug, state.provider_model_id, c.source) for c in state.candidates
                  if unit_error(stored, c.prices)]
    return found


def _prices(row: tuple, offset: int) -> dict[str, str]:
    values = dict(zip(COLUMNS, row[offset : offset + len(COLUMNS)], strict=True))
    return {name: str(value) for name, value in values.items() if value is not None}


def price_listing(connection, *, provider: str | None, status: str | None, limit: int, offset: int) -> list[dict]:
    """Active models with their stored price and every candidate side by side, by provider and model id."""
    where = _FILTER_SQL[status] if status else "true"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT m.id, m.provider_slug, m.provider_model_id, m.lifecycle, m.price_source, m.price_confidence,
                       m.price_source_version, m.price_checked_at, m.price_dispute,
                       {", ".join(f"m.{c}" for c in PRICE_FIELDS)}
                FROM models_current m
                WHERE m.is_active AND (%(provider)s::text IS NULL OR m.provider_slug = %(provider)s) AND {where}
                ORDER BY m.provider_slug, m.provider_model_id LIMIT %(limit)s OFFSET %(offset)s""",
            {"provider": provider, "references": list(REFERENCE_NAMES), "limit": limit, "offset": offset},
        )
        models = cursor.fetchall()
        cursor.execute(
            f"""SELECT model_id, source, source_model_id, match_rule, status, status_reason, source_version,
                       checked_at, fetched_at, {", ".join(PRICE_FIELDS)}
                FROM model_price_candidates WHERE model_id = ANY(%s) ORDER BY model_id, source""",
            ([row[0] for row in models],),
        )
        candidates: dict[int, list[dict]] = {}
        for row in cursor.fetchall():
            candidates.setdefault(row[0], []).append({
                "source": row[1], "source_model_id": row[2], "match_rule": row[3], "status": row[4],
                "reason": row[5], "source_version": row[6], "checked_at": row[7] and row[7].isoformat(),
                "fetched_at": row[8].isoformat(), "prices": _prices(row, 9),
            })
    return [
        {
            "provider": row[1], "model": row[2], "lifecycle": row[3],
            "stored": {"source": row[4], "confidence": row[5], "source_version": row[6],
                       "checked_at": row[7] and row[7].isoformat(), "dispute": row[8], "prices": _prices(row, 9)},
            "candidates": candidates.get(row[0], []),
        }
        for row in models
    ]
