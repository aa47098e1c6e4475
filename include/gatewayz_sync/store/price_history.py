"""Prices as they stood at a given time, rebuilt from `model_changes`.

The stored prices are today's; every change since is a `model_changes` row with the old value (a flat price column
under its name, a price without one under its slug such as `input/token>200000`, the price source as
`price_source`; `field_removed` when a price went away). Undoing, newest first, every change detected after the
time gives each model's prices at that time. `removed` and `reappeared` rows give whether the model was active
then; a model first seen after the time did not exist yet. A `price_held` row is a price that was never applied,
so it is not undone.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ..catalog.meters import LONG_CONTEXT_COLUMNS, THRESHOLD_COLUMN, PriceKey, PriceSheet
from ..catalog.price_slugs import COLUMN_KEYS, key_of_slug
from .price_rows import flat_keys

UNDONE_KINDS = ("price_changed", "field_removed", "removed", "reappeared")
def _state(flat: dict[str, Any], sheet: PriceSheet) -> dict[str, Any]:
    """A model's prices in the names its changes use: flat columns, plus a slug for every other price."""
    state = {column: value for column, value in flat.items()}
    covered = flat_keys(sheet)
    for key, amount in sheet.items():
        if key not in covered:
            state[key.slug()] = amount
    return state


def _sheet(state: dict[str, Any]) -> PriceSheet:
    amounts: dict[PriceKey, Decimal] = {}
    threshold = state.get(THRESHOLD_COLUMN)
    for name, value in state.items():
        if value is None:
            continue
        if name in COLUMN_KEYS:
            amounts[COLUMN_KEYS[name]] = Decimal(value)
        elif name in LONG_CONTEXT_COLUMNS.values():
            if threshold:
                meter = next(m for m, column in LONG_CONTEXT_COLUMNS.items() if column == name)
                amounts[PriceKey(meter, above_input_tokens=int(threshold))] = Decimal(value)
        elif "/" in name and (key := key_of_slug(name)) is not None:
            amounts[key] = Decimal(value)
    return PriceSheet(amounts)


def prices_as_of(connection, at: datetime, provider: str | None = None) -> list[dict[str, Any]]:
    """Every model that existed and was active at `at` (of one provider, when given), with its prices then."""
    from ..catalog.meters import FLAT_COLUMNS

    where = "AND p.slug = %(provider)s" if provider else ""
    rows = connection.execute(
        f"""SELECT m.id, p.slug, m.provider_model_id, m.is_active, m.price_source, m.first_seen_at,
                   {", ".join(f"m.{c}" for c in FLAT_COLUMNS)}
            FROM models m JOIN providers p ON p.id = m.provider_id
            WHERE m.first_seen_at <= %(at)s {where}
            ORDER BY p.slug, m.provider_model_id""",
        {"at": at, "provider": provider},
    ).fetchall()
    models: dict[int, dict[str, Any]] = {}
    for model_id, slug, provider_model_id, is_active, source, first_seen, *flat in rows:
        models[model_id] = {"provider": slug, "model": provider_model_id, "is_active": is_active,
                            "price_source": source, "first_seen_at": first_seen,
                            "flat": dict(zip(FLAT_COLUMNS, flat, strict=True))}
    if not models:
        return []
    ids = list(models)
    rows = connection.execute(
        """SELECT model_id, meter, unit, above_input_tokens, service_tier, time_window, option, amount_usd
           FROM model_prices WHERE model_id = ANY(%s)""",
        (ids,),
    ).fetchall()
    sheets: dict[int, dict[PriceKey, Decimal]] = {model_id: {} for model_id in ids}
    for model_id, meter, unit, above, tier, window, option, amount in rows:
        sheets[model_id][PriceKey(meter, unit, above, tier, window, option)] = Decimal(amount)
    states = {model_id: _state(model["flat"], PriceSheet(sheets[model_id])) for model_id, model in models.items()}
    changes = connection.execute(
        """SELECT model_id, kind, field, old_value FROM model_changes
           WHERE detected_at > %s AND model_id = ANY(%s) AND kind = ANY(%s) ORDER BY id DESC""",
        (at, ids, list(UNDONE_KINDS)),
    ).fetchall()
    for model_id, kind, name, old in changes:
        model, state = models[model_id], states[model_id]
        if kind == "removed":
            model["is_active"] = True
        elif kind == "reappeared":
            model["is_active"] = False
        elif name == "price_source":
            model["price_source"] = old
        elif name:
            state[name] = old
    result = []
    for model_id, model in models.items():
        if not model["is_active"]:
            continue
        sheet = _sheet(states[model_id])
        result.append({
            "provider": model["provider"], "model": model["model"], "price_source": model["price_source"],
            "first_seen_at": model["first_seen_at"].isoformat(),
            "prices": [{**key.as_dict(), "per_units": key.per_units, "amount_usd": format(amount, "f")}
                       for key, amount in sheet.items()],
        })
    return result
