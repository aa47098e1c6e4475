"""The SQL of a provider's model load, built once from the column lists: change rows, upsert, misses.

Every statement reads the temp table `stage_models` the load fills by COPY, and writes `models` and
`model_changes` for one provider (`%(provider_id)s`), tagged with the attempt's `%(run_id)s`. A model sync
writes list-API prices only: `KEEP_STORED_PRICES_SQL` first puts an operator price, or a reference price the
listing has nothing to replace with, back into the stage (with its free flag, variable flag and unknown-price
reason) and marks the row `keeps_stored`, so neither is overwritten nor reported as a change. The listing's
price sheet travels in the stage's `list_prices` (JSON rows, exact strings) and becomes `model_prices` rows
(`store/price_rows.py`) for every changed model that does not keep a stored price.
"""

from __future__ import annotations

from ..catalog.records import CAPABILITY_COLUMNS, FLAT_PRICE_COLUMNS
from ..catalog.routing import ROUTING_FIELDS
from .changes import LIFECYCLE_FIELDS, REMOVABLE_FIELDS

DATA_COLUMNS = (
    "name",
    "description",
    "context_length",
    "max_output_tokens",
    "max_input_tokens",
    "input_modalities",
    "output_modalities",
    *FLAT_PRICE_COLUMNS,
    "price_source",
    "price_is_variable",
    "raw_pricing",
    *CAPABILITY_COLUMNS.values(),
    "is_free",
    "deprecation_date",
    "shutdown_date",
    "replacement_model",
    "raw",
    "content_hash",
    "kind",
    "alias_of",
    "price_unknown_reason",
    "field_sources",
)
# The COPY's column order: the content hash last, so an unchanged row is its id, NULLs and its hash.
STAGE_COLUMNS = ("provider_model_id", "changed", *(c for c in DATA_COLUMNS if c != "content_hash"), "list_prices",
                 "content_hash")
KEPT_WITH_PRICES = (*FLAT_PRICE_COLUMNS, "price_source", "price_is_variable", "is_free", "price_unknown_reason")

_TRACKED_FIELDS = (
    *(("price_changed", column) for column in FLAT_PRICE_COLUMNS),
    ("price_changed", "price_source"),
    ("price_changed", "price_is_variable"),
    ("limits_changed", "context_length"),
    ("limits_changed", "max_output_tokens"),
    ("limits_changed", "max_input_tokens"),
    *(("capabilities_changed", column) for column in CAPABILITY_COLUMNS.values()),
    ("capabilities_changed", "input_modalities"),
    ("capabilities_changed", "output_modalities"),
    ("deprecated", "deprecation_date"),
    ("deprecated", "shutdown_date"),
    # the model the provider names as the one to move to: named, changed or no longer named
    ("deprecated", "replacement_model"),
)


def _change_values() -> str:
    """One VALUES row per tracked field; a removable field that goes from a value to NULL is `field_removed`."""
    rows = []
    for kind, column in _TRACKED_FIELDS:
        differs = f"m.{column} IS DISTINCT FROM s.{column}"
        if column in LIFECYCLE_FIELDS:
            differs += f" AND s.{column} IS NOT NULL"
        recorded = f"CASE WHEN s.{column} IS NULL THEN 'field_removed' ELSE '{kind}' END" \
            if column in REMOVABLE_FIELDS else f"'{kind}'"
        rows.append(f"({recorded}, '{column}', m.{column}::text, s.{column}::text, {differs})")
    return ",\n        ".join(rows)


KEEP_STORED_PRICES_SQL = f"""
UPDATE stage_models s SET ({", ".join(KEPT_WITH_PRICES)}, keeps_stored)
    = ({", ".join(f"m.{c}" for c in KEPT_WITH_PRICES)}, true)
FROM models m
WHERE m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id AND s.changed
  AND (m.price_source = 'operator'
       OR (s.price_source IS NULL AND m.price_source IS NOT NULL AND m.price_source <> 'list_api'))
"""



def _kept(column: str) -> str:
    """An operator's value stays; so does a reference's where the listing gives none (`price_sync.resolve_fields`
    decides those, after the model sync)."""
    source = f"m.field_sources -> '{column}' ->> 'source'"
    return f"({source} = 'operator' OR (s.{column} IS NULL AND {source} <> 'list_api'))"


# A routing field an operator set, or a reference filled where the listing gives nothing, is put back into the
# stage with its source, so the listing neither overwrites it nor reports it as a change or a loss.
KEEP_STORED_FIELDS_SQL = f"""
UPDATE stage_models s SET ({", ".join(ROUTING_FIELDS)}, field_sources) = (
    {", ".join(f"CASE WHEN {_kept(c)} THEN m.{c} ELSE s.{c} END" for c in ROUTING_FIELDS)},
    coalesce(s.field_sources, '{{}}'::jsonb) || jsonb_strip_nulls(jsonb_build_object(
        {", ".join(f"'{c}', CASE WHEN {_kept(c)} THEN m.field_sources -> '{c}' END" for c in ROUTING_FIELDS)})))
FROM models m
WHERE m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id AND s.changed
  AND m.field_sources IS NOT NULL
"""

FIELD_CHANGES_SQL = f"""
INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value, sync_run_id,
                           source)
SELECT m.provider_id, m.id, m.provider_model_id, c.kind, c.field, c.old_value, c.new_value, %(run_id)s,
       CASE WHEN c.field IN ({", ".join(f"'{column}'" for kind, column in _TRACKED_FIELDS if kind == "price_changed")})
            THEN 'list_api' END
FROM stage_models s
JOIN models m ON m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id
CROSS JOIN LATERAL (VALUES
        {_change_values()}
) AS c(kind, field, old_value, new_value, differs)
WHERE s.changed AND m.content_hash IS DISTINCT FROM s.content_hash AND c.differs
RETURNING kind
"""

REAPPEARED_SQL = """
INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value, sync_run_id)
SELECT m.provider_id, m.id, m.provider_model_id, 'reappeared', 'is_active', 'false', 'true', %(run_id)s
FROM stage_models s
JOIN models m ON m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id
WHERE s.changed AND NOT m.is_active
RETURNING kind
"""

UPSERT_SQL = f"""
WITH written AS (
    INSERT INTO models (provider_id, provider_model_id, {", ".join(DATA_COLUMNS)},
                        first_seen_at, last_seen_at, missing_count, is_active)
    SELECT %(provider_id)s, provider_model_id, {", ".join(DATA_COLUMNS)}, now(), now(), 0, true
    FROM stage_models WHERE changed
    ON CONFLICT (provider_id, provider_model_id) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in DATA_COLUMNS)},
        last_seen_at = now(),
        missing_count = 0,
        is_active = true,
        deactivated_at = NULL,
        updated_at = now()
    WHERE models.content_hash IS DISTINCT FROM EXCLUDED.content_hash
       OR NOT models.is_active
       OR models.missing_count <> 0
    RETURNING id, provider_model_id, (xmax = 0) AS inserted
),
added AS (
    INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, sync_run_id)
    SELECT %(provider_id)s, id, provider_model_id, 'added', %(run_id)s FROM written WHERE inserted
    RETURNING 1
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), (SELECT count(*) FROM added)
FROM written
"""

MISSES_SQL = """
WITH missed AS (
    UPDATE models m SET
        missing_count = m.missing_count + 1,
        last_seen_at = COALESCE(p.models_listed_at, m.last_seen_at),
        is_active = m.missing_count + 1 < %(miss_threshold)s,
        deactivated_at = CASE WHEN m.missing_count + 1 >= %(miss_threshold)s THEN now() END,
        updated_at = now()
    FROM providers p
    WHERE p.id = m.provider_id AND m.provider_id = %(provider_id)s AND m.is_active
      AND NOT EXISTS (SELECT 1 FROM stage_models s WHERE s.provider_model_id = m.provider_model_id)
    RETURNING m.id, m.provider_model_id, m.is_active, m.missing_count
),
removed AS (
    INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value, sync_run_id)
    SELECT %(provider_id)s, id, provider_model_id, 'removed', 'missing_count',
           (missing_count - 1)::text, missing_count::text, %(run_id)s
    FROM missed WHERE NOT is_active
    RETURNING 1
)
SELECT count(*), count(*) FILTER (WHERE NOT is_active) FROM missed
"""


# The listing's price rows, set-based: every written model that keeps no stored price (`scope_prices`, with
# whether the load just inserted it). A new model's rows go straight from its JSON rows into `model_prices`; only
# the rows of a model that was already stored are set out (`listed_prices`), to be compared with its stored ones:
# one that differs goes through `price_rows.write_price_sheets`.
SCOPE_PRICES_SQL = """
CREATE TEMP TABLE scope_prices ON COMMIT DROP AS
SELECT m.id AS model_id, m.first_seen_at = now() AS is_new, s.list_prices
FROM stage_models s
JOIN models m ON m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id
WHERE s.changed AND NOT s.keeps_stored AND m.content_hash = s.content_hash
"""

def _listed_rows(stored: bool) -> str:
    """The price rows the stage lists for the new models in scope, or for those already stored."""
    return f"""SELECT sc.model_id, r.meter, r.unit, r.above_input_tokens, r.service_tier, r.time_window, r.option,
       r.amount_usd::numeric AS amount_usd
FROM scope_prices sc
CROSS JOIN LATERAL jsonb_to_recordset(sc.list_prices) AS r(meter text, unit text, above_input_tokens integer,
                                                             service_tier text, time_window text, "option" text,
                                                             amount_usd text)
WHERE {"NOT " if stored else ""}sc.is_new AND sc.list_prices IS NOT NULL"""


INSERT_NEW_PRICES_SQL = f"""
INSERT INTO model_prices (model_id, meter, unit, above_input_tokens, service_tier, time_window, option, amount_usd,
                          source)
SELECT listed.*, 'list_api' FROM ({_listed_rows(stored=False)}) listed
"""

LISTED_PRICES_SQL = f"""
CREATE TEMP TABLE listed_prices ON COMMIT DROP AS
{_listed_rows(stored=True)}
"""

PRICES_DIFFER_SQL = """
SELECT DISTINCT model_id FROM (
    (SELECT model_id, meter, unit, above_input_tokens, service_tier, time_window, option, amount_usd, 'list_api',
            NULL::text, NULL::text, NULL::date
     FROM listed_prices
     EXCEPT
     SELECT p.model_id, p.meter, p.unit, p.above_input_tokens, p.service_tier, p.time_window, p.option, p.amount_usd,
            p.source, p.source_model_id, p.source_version, p.checked_at
     FROM model_prices p JOIN scope_prices sc ON sc.model_id = p.model_id AND NOT sc.is_new)
    UNION ALL
    (SELECT p.model_id, p.meter, p.unit, p.above_input_tokens, p.service_tier, p.time_window, p.option, p.amount_usd,
            p.source, p.source_model_id, p.source_version, p.checked_at
     FROM model_prices p JOIN scope_prices sc ON sc.model_id = p.model_id AND NOT sc.is_new
     EXCEPT
     SELECT model_id, meter, unit, above_input_tokens, service_tier, time_window, option, amount_usd, 'list_api',
            NULL::text, NULL::text, NULL::date
     FROM listed_prices)
) differing
"""

ALIAS_LIMITS_SQL = """
WITH aligned AS (
    UPDATE models a SET context_length = t.context_length, max_output_tokens = t.max_output_tokens,
        field_sources = (coalesce(a.field_sources, '{}'::jsonb) - 'context_length' - 'max_output_tokens')
            || jsonb_strip_nulls(jsonb_build_object('context_length', t.field_sources -> 'context_length',
                                                    'max_output_tokens', t.field_sources -> 'max_output_tokens')),
        updated_at = now()
    FROM models t, models old
    WHERE a.provider_id = %(provider_id)s AND a.is_active AND t.provider_id = a.provider_id
      AND t.provider_model_id = a.alias_of AND t.is_active AND old.id = a.id
      AND (a.context_length, a.max_output_tokens) IS DISTINCT FROM (t.context_length, t.max_output_tokens)
      AND 'operator' IS DISTINCT FROM a.field_sources -> 'context_length' ->> 'source'
      AND 'operator' IS DISTINCT FROM a.field_sources -> 'max_output_tokens' ->> 'source'
    RETURNING a.id, a.provider_model_id, old.context_length AS old_context, a.context_length,
              old.max_output_tokens AS old_output, a.max_output_tokens
)
INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value, sync_run_id)
SELECT %(provider_id)s, id, provider_model_id, 'limits_changed', c.field, c.old_value, c.new_value, %(run_id)s
FROM aligned CROSS JOIN LATERAL (VALUES
    ('context_length', old_context::text, context_length::text),
    ('max_output_tokens', old_output::text, max_output_tokens::text)
) AS c(field, old_value, new_value)
WHERE c.old_value IS DISTINCT FROM c.new_value
RETURNING kind
"""

SETTLED_SQL = """SELECT provider_model_id, content_hash FROM models
                 WHERE provider_id = %s AND is_active AND missing_count = 0"""

PENDING_MISSES = "EXISTS (SELECT 1 FROM models m WHERE m.provider_id = p.id AND m.is_active AND m.missing_count > 0)"

PREVIOUS_SHAPE_SQL = """SELECT details -> 'shape', details -> 'normalize' FROM sync_runs
                        WHERE provider_slug = %s AND status = 'success' AND details ? 'shape'
                        ORDER BY id DESC LIMIT 1"""
