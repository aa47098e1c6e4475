"""What the alerts read: one model-sync run's notable changes, and how many runs in a row a provider failed.

The digest query returns every section's total and only its first rows, so a first sync of a thousand models
reads a handful of rows. Prices are compared as NUMERIC in SQL, never as floats.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from .changes import LIFECYCLE_FIELDS, PRICE_FIELDS, PRICE_SLUG

PRICE_MOVES, ADDED, REMOVED, REAPPEARED, LIFECYCLE = "price_moves", "added", "removed", "reappeared", "lifecycle"
FIELDS_REMOVED, PRICES_HELD, REPLACEMENTS = "fields_removed", "prices_held", "replacements"
SECTIONS = (PRICES_HELD, PRICE_MOVES, FIELDS_REMOVED, ADDED, REMOVED, REAPPEARED, LIFECYCLE, REPLACEMENTS)

# The run's rows are read first (MATERIALIZED: no condition below is pushed down to other runs' rows), and a
# value is cast only for the fields whose type says it holds one (store/changes.py): a price change row may be
# a price source (`genai-prices`), and PostgreSQL does not promise to evaluate AND/OR operands in order.
RUN_CHANGES_SQL = """
WITH run_rows AS MATERIALIZED (
    SELECT c.id, c.kind, c.field, c.old_value, c.new_value, c.provider_model_id, s.provider_slug AS provider
    FROM model_changes c JOIN sync_runs s ON s.id = c.sync_run_id
    WHERE s.dag_run_id = %(dag_run_id)s
),
run_changes AS (
    SELECT r.*,
           CASE WHEN r.kind IN ('price_changed', 'price_held', 'field_removed')
                     AND (r.field = ANY(%(price_fields)s) OR r.field ~ %(price_slug)s)
                THEN (r.new_value::numeric - r.old_value::numeric) / NULLIF(r.old_value::numeric, 0) END AS ratio,
           CASE WHEN r.kind = 'price_changed' AND (r.field = ANY(%(price_fields)s) OR r.field ~ %(price_slug)s)
                THEN 'price_moves'
                WHEN r.kind = 'price_held' THEN 'prices_held'
                WHEN r.kind = 'field_removed' THEN 'fields_removed'
                WHEN r.kind IN ('added', 'removed', 'reappeared') THEN r.kind
                WHEN r.kind = 'deprecated' AND r.field = ANY(%(date_fields)s) AND r.new_value IS NOT NULL
                THEN 'lifecycle'
                WHEN r.kind = 'deprecated' AND r.field = 'replacement_model' THEN 'replacements' END AS section,
           CASE WHEN r.kind = 'deprecated' AND r.field = ANY(%(date_fields)s) AND r.new_value IS NOT NULL
                THEN r.new_value::timestamptz <= catalog_now() + make_interval(days => %(lifecycle_days)s) END AS soon
    FROM run_rows r
),
notable AS (
    SELECT * FROM run_changes
    WHERE CASE section WHEN 'price_moves' THEN ratio IS NULL OR abs(ratio) >= %(min_ratio)s
                       WHEN 'lifecycle' THEN soon
                       ELSE section IS NOT NULL END
),
ranked AS (
    SELECT *, count(*) OVER (PARTITION BY section) AS total,
           row_number() OVER (PARTITION BY section ORDER BY abs(ratio) DESC NULLS FIRST, provider,
                                                            provider_model_id, field, id) AS position
    FROM notable
)
SELECT section, total, provider, provider_model_id, field, old_value, new_value, ratio
FROM ranked WHERE position <= %(per_section)s
ORDER BY section, position
"""


@dataclass(frozen=True)
class ChangeRow:
    """One notable change: a price move (field, old, new, ratio), a model event, or a lifecycle date."""

    provider: str
    model: str
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    ratio: Decimal | None = None


@dataclass
class RunChanges:
    """Each section's total and its first rows (most significant first), for one DAG run, and what each provider's
    listing changed in shape (`drift`: slug -> notes)."""

    totals: dict[str, int] = field(default_factory=dict)
    rows: dict[str, list[ChangeRow]] = field(default_factory=lambda: defaultdict(list))
    drift: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.totals.values())


def run_changes(connection, dag_run_id: str, *, min_ratio: Decimal, lifecycle_days: int,
                per_section: int) -> RunChanges:
    """The notable changes one DAG run recorded: list-API price jumps held, price moves of at least `min_ratio` (a
    price appearing or leaving zero always counts), fields removed, added, removed and reappeared models, and
    deprecation or shutdown dates that fall within `lifecycle_days` from now, and replacement models a listing
    named, changed or stopped naming."""
    changes = RunChanges()
    with connection.cursor() as cursor:
        cursor.execute(RUN_CHANGES_SQL, {"dag_run_id": dag_run_id, "min_ratio": min_ratio,
                                         "lifecycle_days": lifecycle_days, "per_section": per_section,
                                         "price_fields": list(PRICE_FIELDS), "price_slug": PRICE_SLUG,
                                         "date_fields": list(LIFECYCLE_FIELDS)})
        for section, total, provider, model, field_name, old_value, new_value, ratio in cursor.fetchall():
            changes.totals[section] = total
            changes.rows[section].append(ChangeRow(provider, model, field_name, old_value, new_value, ratio))
        cursor.execute(DRIFT_SQL, (dag_run_id,))
        changes.drift = {slug: list(notes) for slug, notes in cursor.fetchall() if notes}
    return changes


DRIFT_SQL = """
SELECT DISTINCT ON (provider_slug) provider_slug, details -> 'drift'
FROM sync_runs WHERE dag_run_id = %s AND status <> 'running'
ORDER BY provider_slug, id DESC
"""


FAILURE_STREAKS_SQL = """
WITH attempts AS (
    SELECT DISTINCT ON (provider_slug, dag_run_id) provider_slug, dag_run_id, id, status, started_at, error
    FROM sync_runs
    WHERE provider_slug = ANY(%(slugs)s) AND dag_run_id IS NOT NULL AND status IN ('success', 'dry_run', 'failed')
    ORDER BY provider_slug, dag_run_id, id DESC
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY provider_slug ORDER BY id DESC) AS recency FROM attempts
),
last_success AS (
    SELECT provider_slug, min(recency) FILTER (WHERE status <> 'failed') AS recency FROM ranked GROUP BY provider_slug
)
SELECT r.provider_slug, count(*), min(r.started_at), (array_agg(r.error ORDER BY r.recency))[1]
FROM ranked r JOIN last_success s USING (provider_slug)
WHERE r.status = 'failed' AND r.recency < COALESCE(s.recency, 2147483647)
GROUP BY r.provider_slug
"""


@dataclass(frozen=True)
class FailureStreak:
    """A provider's failed DAG runs in a row, up to now: how many, since when, and the latest error."""

    slug: str
    runs: int
    since: datetime
    last_error: str | None


def failure_streaks(connection, slugs: list[str]) -> dict[str, FailureStreak]:
    """Consecutive failed DAG runs per provider, newest back to its last success (a run's retries count once;
    skipped runs neither break nor extend a streak)."""
    if not slugs:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(FAILURE_STREAKS_SQL, {"slugs": list(slugs)})
        return {slug: FailureStreak(slug, runs, since, error) for slug, runs, since, error in cursor.fetchall()}


REFUSED_LOSSES_SQL = """
SELECT provider_slug, details -> 'field_loss' FROM (
    SELECT DISTINCT ON (provider_slug) provider_slug, status, error, details
    FROM sync_runs WHERE dag_run_id = %s AND status <> 'running'
    ORDER BY provider_slug, id DESC
) latest
WHERE status = 'failed' AND error LIKE 'suspicious field loss%%' AND details ? 'field_loss'
"""


def refused_field_losses(connection, dag_run_id: str) -> dict[str, list[dict]]:
    """The providers whose load the field-loss guard refused in this run: slug -> every field the listing would
    have taken away (field, lost, had, examples), as the attempt recorded them."""
    with connection.cursor() as cursor:
        cursor.execute(REFUSED_LOSSES_SQL, (dag_run_id,))
        return {slug: list(losses) for slug, losses in cursor.fetchall()}
