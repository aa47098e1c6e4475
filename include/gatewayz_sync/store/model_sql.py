"""The SQL of a provider's model load, built once from the column lists: change rows, upsert, misses.

Every statement reads the temp table `stage_models` the load fills by COPY, and writes `models` and
`model_changes` for one provider (`%(provider_id)s`), tagged with the attempt's `%(run_id)s`. A model sync
writes list-API prices only: `KEEP_STORED_PRICES_SQL` first puts an operator price, or a reference price the
listing has nothing to replace with, back into the stage, so neither is overwritten nor reported as a change.
"""

from __future__ import annotations

from ..catalog.records import CAPABILITY_COLUMNS, PRICE_COLUMNS
from .changes import REMOVABLE_FIELDS

DATA_COLUMNS = (
    "name",
    "description",
    "context_length",
    "max_output_tokens",
    "input_modalities",
    "output_modalities",
    *PRICE_COLUMNS.values(),
    "price_source",
    "price_is_variable",
    "raw_pricing",
    *CAPABILITY_COLUMNS.values(),
    "is_free",
    "deprecation_date",
    "shutdown_date",
    "raw",
    "content_hash",
)
STAGE_COLUMNS = ("provider_model_id", "changed", *DATA_COLUMNS)

_TRACKED_FIELDS = (
    *(("price_changed", column) for column in PRICE_COLUMNS.values()),
    ("price_changed", "price_source"),
    ("price_changed", "price_is_variable"),
    ("limits_changed", "context_length"),
    ("limits_changed", "max_output_tokens"),
    *(("capabilities_changed", column) for column in CAPABILITY_COLUMNS.values()),
    ("capabilities_changed", "input_modalities"),
    ("capabilities_changed", "output_modalities"),
    ("deprecated", "deprecation_date"),
    ("deprecated", "shutdown_date"),
)


def _change_values() -> str:
    """One VALUES row per tracked field; a removable field that goes from a value to NULL is `field_removed`."""
    rows = []
    for kind, column in _TRACKED_FIELDS:
        differs = f"m.{column} IS DISTINCT FROM s.{column}"
        if kind == "deprecated":
            differs += f" AND s.{column} IS NOT NULL"
        recorded = f"CASE WHEN s.{column} IS NULL THEN 'field_removed' ELSE '{kind}' END" \
            if column in REMOVABLE_FIELDS else f"'{kind}'"
        rows.append(f"({recorded}, '{column}', m.{column}::text, s.{column}::text, {differs})")
    return ",\n        ".join(rows)


KEEP_STORED_PRICES_SQL = f"""
UPDATE stage_models s SET ({", ".join(PRICE_COLUMNS.values())}, price_source)
    = ({", ".join(f"m.{c}" for c in PRICE_COLUMNS.values())}, m.price_source)
FROM models m
WHERE m.provider_id = %(provider_id)s AND m.provider_model_id = s.provider_model_id AND s.changed
  AND (m.price_source = 'operator'
       OR (s.price_source IS NULL AND m.price_source IS NOT NULL AND m.price_source <> 'list_api'))
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


SETTLED_SQL = """SELECT provider_model_id, content_hash FROM models
                 WHERE provider_id = %s AND is_active AND missing_count = 0"""

PENDING_MISSES = "EXISTS (SELECT 1 FROM models m WHERE m.provider_id = p.id AND m.is_active AND m.missing_count > 0)"

PREVIOUS_SHAPE_SQL = """SELECT details -> 'shape', details -> 'normalize' FROM sync_runs
                        WHERE provider_slug = %s AND status = 'success' AND details ? 'shape'
                        ORDER BY id DESC LIMIT 1"""
