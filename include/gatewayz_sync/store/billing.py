"""The billing checks over the stored prices (read models for the billing report of `make demo` and the tests).

Each returns what a gateway billing from this catalog must know: $0 prices on models that are not free, prices in
a wrong unit, alias groups that disagree, per source the prices its entries have against those stored, and the
unpriced models by reason.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from typing import Any

from ..catalog.kinds import declared_kind
from ..catalog.meters import FLAT_COLUMNS, METER_UNITS, PriceSheet
from ..sources.registry import GATEWAY_REGISTRY

_REASON_CATEGORIES = (
    (r"^listed as 0", "listed as 0 by the provider, not an explicit free variant"),
    (r"^the listing marks the price as variable", "variable price in the provider's listing"),
    (r"^no (usable )?price in the listing", "no price in the provider's listing"),
    (r"price refused: single source", "no list price; the only reference price is 10x from every sibling"),
    (r"every reference price was refused", "no list price; every reference price refused (10x apart)"),
    (r"the listed price was refused", "the listed price refused: 100x from every sibling (held)"),
    (r"open-weight model \(", "no list price; open-weight model priced only by OpenRouter (another host's price)"),
    (r"listed only as [^;]*China-region", "no list price; listed only in another region's price list"),
    (r"listed only as [^;]*subscription plan", "no list price; listed only on a subscription plan"),
    (r"lists? it at 0", "no list price; references list it only at 0"),
    (r": listed without a price", "no list price; references list it without a price"),
    (r"undocumented unit", "the listing's prices are in an undocumented unit (not read)"),
    (r"no reference source covers", "no list price; no reference source covers the provider"),
    (r"no reference source lists", "no list price; no reference source lists it"),
)


def reason_category(reason: str | None) -> str:
    if not reason:
        return "no reason given"
    return next((name for pattern, name in _REASON_CATEGORIES if re.search(pattern, reason)), reason.split(";")[0])


def zero_prices_not_free(connection) -> list[str]:
    zero = " OR ".join(f"m.{column} = 0" for column in FLAT_COLUMNS)
    rows = connection.execute(
        f"""SELECT p.slug || '/' || m.provider_model_id FROM models m JOIN providers p ON p.id = m.provider_id
            WHERE m.is_active AND m.is_free IS NOT TRUE
              AND ({zero} OR EXISTS (SELECT 1 FROM model_prices r WHERE r.model_id = m.id AND r.amount_usd = 0))
            ORDER BY 1"""
    ).fetchall()
    return [name for (name,) in rows]


def wrong_units(connection) -> tuple[list[str], int, int]:
    """(problems, price rows checked, per-character list prices found stored per character)."""
    problems, checked, per_character = [], 0, 0
    rows = connection.execute(
        f"""SELECT p.slug, m.provider_model_id, m.raw, {", ".join(f"m.{c}" for c in FLAT_COLUMNS)},
                   (SELECT jsonb_agg(jsonb_build_object('meter', r.meter, 'unit', r.unit,
                            'above_input_tokens', r.above_input_tokens, 'service_tier', r.service_tier,
                            'time_window', r.time_window, 'option', r.option, 'amount_usd', r.amount_usd::text,
                            'source', r.source)) FROM model_prices r WHERE r.model_id = m.id)
            FROM models m JOIN providers p ON p.id = m.provider_id WHERE m.is_active"""
    ).fetchall()
    for slug, model_id, raw, *rest in rows:
        flat, meters = dict(zip(FLAT_COLUMNS, rest[:-1], strict=True)), rest[-1] or []
        sheet = PriceSheet.from_rows(meters)
        checked += len(sheet)
        name = f"{slug}/{model_id}"
        for key in sheet:
            if key.unit not in METER_UNITS.get(key.meter, ("token",)):
                problems.append(f"{name}: {key.label()}")
        for column, value in sheet.columns().items():
            stored = flat[column]
            if (stored is None) != (value is None) or (stored is not None and Decimal(stored) != Decimal(value)):
                problems.append(f"{name}: {column} is {stored}, its price rows say {value}")
        spec = GATEWAY_REGISTRY[slug].list_api if slug in GATEWAY_REGISTRY else None
        rule = spec.fields.per_character if spec is not None else None
        if rule is not None and isinstance(raw, dict) and declared_kind(raw, ((rule, "tts"),)):
            listed = [key for key in sheet if sheet.source_of(key) == "list_api"]
            per_token = [key for key in listed if key.unit == "token"]
            per_character += sum(key.unit == "character" for key in listed)
            problems += [f"{name}: a per-character list price stored {key.label()}" for key in per_token]
    return problems, checked, per_character


def alias_disagreements(connection) -> tuple[list[str], int]:
    rows = connection.execute(
        """SELECT a.provider_model_id, t.provider_model_id, a.context_length IS DISTINCT FROM t.context_length
                  OR a.max_output_tokens IS DISTINCT FROM t.max_output_tokens,
                  (SELECT coalesce(jsonb_agg(jsonb_build_array(r.meter, r.unit, r.above_input_tokens, r.service_tier,
                          r.time_window, r.option, r.amount_usd::text) ORDER BY r.meter, r.unit, r.above_input_tokens,
                          r.service_tier, r.time_window, r.option), '[]') FROM model_prices r WHERE r.model_id = a.id),
                  (SELECT coalesce(jsonb_agg(jsonb_build_array(r.meter, r.unit, r.above_input_tokens, r.service_tier,
                          r.time_window, r.option, r.amount_usd::text) ORDER BY r.meter, r.unit, r.above_input_tokens,
                          r.service_tier, r.time_window, r.option), '[]') FROM model_prices r WHERE r.model_id = t.id)
           FROM models a JOIN models t ON t.provider_id = a.provider_id AND t.provider_model_id = a.alias_of
           WHERE a.is_active AND t.is_active"""
    ).fetchall()
    problems = [f"{alias} -> {target}: " + ("limits" if limits else "prices")
                for alias, target, limits, mine, theirs in rows if limits or mine != theirs]
    groups = len({target for _, target, *_ in rows})
    return problems, groups


def meters_per_source(connection) -> dict[str, dict[str, Any]]:
    """Per source: over the models whose stored price it chose, the prices its entries have and how many of
    them are stored, tiers apart, and the price fields it has that were not understood."""
    per_source: dict[str, dict[str, Any]] = {}
    rows = connection.execute(
        """SELECT c.source, c.meters, c.unread,
                  (SELECT count(*) FROM model_prices r WHERE r.model_id = c.model_id AND r.source = c.source),
                  (SELECT count(*) FROM model_prices r WHERE r.model_id = c.model_id AND r.source = c.source
                     AND (r.above_input_tokens > 0 OR r.service_tier <> 'standard' OR r.time_window <> ''
                          OR r.option <> ''))
           FROM model_price_candidates c JOIN models m ON m.id = c.model_id
           WHERE m.is_active AND c.status = 'stored'"""
    ).fetchall()
    for source, meters, unread, stored, stored_conditional in rows:
        sheet = PriceSheet.from_rows(meters or ())
        entry = per_source.setdefault(source, {"entries": 0, "has": 0, "has_conditional": 0, "stored": 0,
                                               "stored_conditional": 0, "not_per_token": 0, "unread": Counter()})
        entry["entries"] += 1
        entry["has"] += len(sheet)
        entry["has_conditional"] += sum(not key.is_base for key in sheet)
        entry["not_per_token"] += sum(key.unit != "token" for key in sheet)
        entry["stored"] += stored
        entry["stored_conditional"] += stored_conditional
        entry["unread"].update(unread or ())
    listed = connection.execute(
        """SELECT p.slug, m.raw, (SELECT count(*) FROM model_prices r WHERE r.model_id = m.id AND r.source = 'list_api')
           FROM models m JOIN providers p ON p.id = m.provider_id
           WHERE m.is_active AND m.price_source = 'list_api'"""
    ).fetchall()
    from ..catalog.normalize import RecordNormalizer

    normalizers = {}
    entry = {"entries": 0, "has": 0, "has_conditional": 0, "stored": 0, "stored_conditional": 0, "not_per_token": 0,
             "unread": Counter()}
    for slug, raw, stored in listed:
        spec = GATEWAY_REGISTRY[slug].list_api
        normalizer = normalizers.setdefault(slug, RecordNormalizer(spec))
        model = normalizer.normalize(raw)
        if model is None:
            continue
        entry["entries"] += 1
        entry["has"] += len(model.prices)
        entry["not_per_token"] += sum(key.unit != "token" for key in model.prices)
        entry["stored"] += stored
    if entry["entries"]:
        per_source["list_api"] = entry
    return dict(sorted(per_source.items()))


def unpriced_by_reason(connection) -> tuple[Counter, int]:
    rows = connection.execute(
        "SELECT price_unknown_reason FROM models WHERE is_active AND price_source IS NULL AND is_free IS NOT TRUE"
    ).fetchall()
    return Counter(reason_category(reason) for (reason,) in rows), sum(reason is None for (reason,) in rows)
