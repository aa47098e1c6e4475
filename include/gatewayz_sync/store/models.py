"""Load one provider's normalized models in one transaction, writing only what changed.

Per provider: advisory lock -> lock the provider row -> COPY into a temp stage (full columns only for rows
whose content hash or state differs; bare ids for the rest) -> shrink guard -> change rows -> upsert -> count
misses and deactivate after `miss_threshold` consecutive misses -> stamp the provider's listing time ->
sync_runs row. A dry run does all of it and rolls back, keeping only the counts.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..catalog.records import CAPABILITY_COLUMNS, PRICE_COLUMNS, NormalizedModel
from ..errors import CatalogUnavailable, ProviderSkipped, SuspiciousShrink
from .copy_text import encode_row

DATA_COLUMNS = (
    "name",
    "description",
    "context_length",
    "max_output_tokens",
    "input_modalities",
    "output_modalities",
    *PRICE_COLUMNS.values(),
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
LARGE_STAGE = 2_000

_TRACKED_FIELDS = (
    *(("price_changed", column) for column in PRICE_COLUMNS.values()),
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
    rows = []
    for kind, column in _TRACKED_FIELDS:
        differs = f"m.{column} IS DISTINCT FROM s.{column}"
        if kind == "deprecated":
            differs += f" AND s.{column} IS NOT NULL"
        rows.append(f"('{kind}', '{column}', m.{column}::text, s.{column}::text, {differs})")
    return ",\n        ".join(rows)


FIELD_CHANGES_SQL = f"""
INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value, sync_run_id)
SELECT m.provider_id, m.id, m.provider_model_id, c.kind, c.field, c.old_value, c.new_value, %(run_id)s
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


@dataclass(frozen=True)
class LoadOptions:
    miss_threshold: int = 2
    allow_shrink: bool = False
    dry_run: bool = False
    shrink_ratio: float = 0.7


@dataclass(frozen=True)
class RunInfo:
    dag_id: str | None
    dag_run_id: str | None
    try_number: int | None
    started_at: datetime


@dataclass
class LoadResult:
    sync_run_id: int | None
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    missed: int = 0
    deactivated: int = 0
    active_before: int = 0
    changes: Counter = field(default_factory=Counter)


class _DryRunRollback(Exception):
    """Raised at the end of a dry run's transaction so that everything it computed is rolled back."""


def row_values(model: NormalizedModel) -> tuple:
    """The stage table's columns for one model (see STAGE_COLUMNS), as Python values."""
    return (
        model.provider_model_id,
        True,
        model.name,
        model.description,
        model.context_length,
        model.max_output_tokens,
        None if model.input_modalities is None else list(model.input_modalities),
        None if model.output_modalities is None else list(model.output_modalities),
        *(model.prices.get(meter) for meter in PRICE_COLUMNS),
        model.price_is_variable,
        None if model.raw_pricing is None else _json_text(model.raw_pricing),
        *(model.capabilities.get(name) for name in CAPABILITY_COLUMNS),
        model.is_free,
        model.deprecation_date,
        model.shutdown_date,
        model.raw_json.decode(),
        model.content_hash,
    )


_UNCHANGED_MIDDLE = b"\tf\t" + b"\\N\t" * (len(DATA_COLUMNS) - 1)


@dataclass(slots=True)
class StagedModel:
    """A model waiting to be loaded: its id, its hash and its full stage row as one COPY line.

    `copy_line` is None for a record recognized as unchanged (its hash equals the stored row's).
    """

    provider_model_id: str
    content_hash: str
    copy_line: bytes | None

    @classmethod
    def of(cls, model: NormalizedModel) -> StagedModel:
        return cls(model.provider_model_id, model.content_hash, encode_row(row_values(model)))

    def unchanged_line(self) -> bytes:
        return encode_row((self.provider_model_id,)) [:-1] + _UNCHANGED_MIDDLE + self.content_hash.encode() + b"\n"


def _json_text(value: Any) -> str:
    from ..catalog.records import dumps_json

    return dumps_json(value, sort_keys=True).decode()


_SETTLED_SQL = """SELECT provider_model_id, content_hash FROM models
                  WHERE provider_id = %s AND is_active AND missing_count = 0"""


def _settled(cursor, provider_id: int) -> dict[str, str]:
    cursor.execute(_SETTLED_SQL, (provider_id,))
    return dict(cursor.fetchall())


@dataclass(frozen=True)
class ListingState:
    """What the last successful load left: settled rows' hashes, and the listing digest when nothing is pending."""

    known_hashes: dict[str, str]
    listing_digest: str | None


def listing_state(connection, slug: str) -> ListingState:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT p.id, p.listing_digest,
                      EXISTS (SELECT 1 FROM models m WHERE m.provider_id = p.id AND m.is_active AND m.missing_count > 0)
               FROM providers p WHERE p.slug = %s""",
            (slug,),
        )
        row = cursor.fetchone()
        if row is None:
            return ListingState({}, None)
        provider_id, digest, pending_misses = row
        return ListingState(_settled(cursor, provider_id), None if pending_misses else digest)


def confirm_unchanged_listing(connection, slug: str, run: RunInfo, digest: str, options: LoadOptions,
                              details: dict[str, Any]) -> LoadResult | None:
    """Record a byte-identical listing without re-parsing it; None if the catalog moved meanwhile."""
    started = time.monotonic()
    with connection.transaction(), connection.cursor() as cursor:
        provider_id = lock_provider(cursor, slug)
        cursor.execute(
            """SELECT p.listing_digest,
                      EXISTS (SELECT 1 FROM models m WHERE m.provider_id = p.id AND m.is_active AND m.missing_count > 0),
                      (SELECT count(*) FROM models m WHERE m.provider_id = p.id AND m.is_active)
               FROM providers p WHERE p.id = %s""",
            (provider_id,),
        )
        stored, pending, active = cursor.fetchone()
        if stored != digest or pending:
            return None
        cursor.execute(
            """SELECT fetched, rejected, duplicates, pages FROM sync_runs
               WHERE provider_slug = %s AND status = 'success' ORDER BY id DESC LIMIT 1""",
            (slug,),
        )
        fetched, rejected, duplicates, pages = cursor.fetchone() or (active, 0, 0, 1)
        if not options.dry_run:
            cursor.execute("UPDATE providers SET models_listed_at = now() WHERE id = %s", (provider_id,))
        merged = {
            **details,
            "listing": "byte-identical to the last loaded listing; not re-parsed",
            "fetch": {"fetched": fetched, "rejected": rejected, "duplicates": duplicates, "pages": pages},
            "active_before": active,
        }
        merged["timings"] = {**merged.get("timings", {}), "load_seconds": round(time.monotonic() - started, 4)}
        cursor.execute(
            """INSERT INTO sync_runs (dag_id, dag_run_id, try_number, provider_id, provider_slug, started_at,
                                      finished_at, status, fetched, unchanged, rejected, duplicates, pages, details)
               VALUES (%s, %s, %s, %s, %s, %s, clock_timestamp(), %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (run.dag_id, run.dag_run_id, run.try_number, provider_id, slug, run.started_at,
             "dry_run" if options.dry_run else "success", fetched, active, rejected, duplicates, pages,
             _json_text(merged)),
        )
        return LoadResult(
            sync_run_id=cursor.fetchone()[0], fetched=fetched, unchanged=active, active_before=active
        )


def lock_provider(cursor, slug: str) -> int:
    """Serialize writers of one provider's models and pin the provider row against concurrent deactivation."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('gatewayz.models.' || %s, 0))", (slug,))
    cursor.execute(
        "SELECT id, is_active, disabled_by_operator FROM providers WHERE slug = %s FOR NO KEY UPDATE", (slug,)
    )
    row = cursor.fetchone()
    if row is None:
        raise ProviderSkipped(slug, "not in the catalog yet (run gatewayz_sync_providers)")
    provider_id, is_active, disabled = row
    if not is_active:
        raise ProviderSkipped(slug, "no longer in the registry (deactivated)")
    if disabled:
        raise ProviderSkipped(slug, "disabled by an operator")
    return provider_id


def load_models(
    connection,
    slug: str,
    models: Sequence[StagedModel],
    run: RunInfo,
    options: LoadOptions,
    details: dict[str, Any] | None = None,
    listing_digest: str | None = None,
) -> LoadResult:
    """Write one provider's listing. `connection` must be in autocommit mode; this opens its own transaction."""
    started = time.monotonic()
    result = LoadResult(sync_run_id=None)
    try:
        with connection.transaction(), connection.cursor() as cursor:
            provider_id = lock_provider(cursor, slug)
            cursor.execute(
                """INSERT INTO sync_runs (dag_id, dag_run_id, try_number, provider_id, provider_slug, started_at, status)
                   VALUES (%s, %s, %s, %s, %s, %s, 'running') RETURNING id""",
                (run.dag_id, run.dag_run_id, run.try_number, provider_id, slug, run.started_at),
            )
            run_id = cursor.fetchone()[0]
            params = {"provider_id": provider_id, "run_id": run_id, "miss_threshold": options.miss_threshold}

            settled = _settled(cursor, provider_id)
            cursor.execute("SELECT count(*) FROM models WHERE provider_id = %s AND is_active", (provider_id,))
            result.active_before = cursor.fetchone()[0]

            cursor.execute(
                "CREATE TEMP TABLE stage_models ON COMMIT DROP AS "
                f"SELECT provider_model_id, true AS changed, {', '.join(DATA_COLUMNS)} FROM models WITH NO DATA"
            )
            changed_rows = 0
            with cursor.copy(f"COPY stage_models ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:
                for model in models:
                    changed = settled.get(model.provider_model_id) != model.content_hash
                    if changed and model.copy_line is None:
                        raise CatalogUnavailable(
                            slug, f"the stored models of {slug} changed while it was being synced; a retry reloads it"
                        )
                    changed_rows += changed
                    copy.write(model.copy_line if changed else model.unchanged_line())
            if len(models) >= LARGE_STAGE:
                cursor.execute("CREATE INDEX ON stage_models (provider_model_id)")
                cursor.execute("ANALYZE stage_models")

            shrunk = result.active_before > 0 and (
                not models or len(models) < result.active_before * options.shrink_ratio
            )
            if shrunk and not options.allow_shrink:
                raise SuspiciousShrink(slug, got=len(models), active=result.active_before)

            if changed_rows:
                cursor.execute(FIELD_CHANGES_SQL, params)
                result.changes.update(kind for (kind,) in cursor.fetchall())
                cursor.execute(REAPPEARED_SQL, params)
                result.changes.update(kind for (kind,) in cursor.fetchall())
                cursor.execute(UPSERT_SQL, params)
                result.inserted, result.updated, added = cursor.fetchone()
                if added:
                    result.changes["added"] += added
            cursor.execute(MISSES_SQL, params)
            result.missed, result.deactivated = cursor.fetchone()
            if result.deactivated:
                result.changes["removed"] += result.deactivated
            result.unchanged = len(models) - result.inserted - result.updated

            status = "dry_run" if options.dry_run else "success"
            if not options.dry_run:
                cursor.execute(
                    "UPDATE providers SET models_listed_at = now(), listing_digest = %s WHERE id = %s",
                    (listing_digest, provider_id),
                )
                _finish_run(cursor, run_id, status, result, details, time.monotonic() - started)
                result.sync_run_id = run_id
            else:
                raise _DryRunRollback
    except _DryRunRollback:
        result.sync_run_id = record_run(
            connection, slug, run, "dry_run", details=details, counts=result
        )
    return result


def _finish_run(
    cursor, run_id: int, status: str, result: LoadResult, details: dict[str, Any] | None, load_seconds: float
) -> None:
    merged = dict(details or {})
    merged["timings"] = {**merged.get("timings", {}), "load_seconds": round(load_seconds, 4)}
    merged["changes"] = dict(sorted(result.changes.items()))
    merged["active_before"] = result.active_before
    fetch = merged.get("fetch", {})
    cursor.execute(
        """UPDATE sync_runs SET status = %s, finished_at = clock_timestamp(), inserted = %s, updated = %s,
               unchanged = %s, missed = %s, deactivated = %s, changes = %s, details = %s,
               fetched = %s, rejected = %s, duplicates = %s, pages = %s
           WHERE id = %s""",
        (
            status,
            result.inserted,
            result.updated,
            result.unchanged,
            result.missed,
            result.deactivated,
            sum(result.changes.values()),
            _json_text(merged),
            fetch.get("fetched", 0),
            fetch.get("rejected", 0),
            fetch.get("duplicates", 0),
            fetch.get("pages", 0),
            run_id,
        ),
    )


def record_run(
    connection,
    slug: str,
    run: RunInfo,
    status: str,
    *,
    error: str | None = None,
    details: dict[str, Any] | None = None,
    counts: LoadResult | None = None,
) -> int:
    """Record a sync attempt that wrote no models (failed, skipped, dry run) in its own transaction."""
    counts = counts or LoadResult(sync_run_id=None)
    merged = dict(details or {})
    fetch = merged.get("fetch", {})
    if counts.changes:
        merged["changes"] = dict(sorted(counts.changes.items()))
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO sync_runs (dag_id, dag_run_id, try_number, provider_id, provider_slug, started_at,
                                      finished_at, status, inserted, updated, unchanged, missed, deactivated,
                                      changes, error, details, fetched, rejected, duplicates, pages)
               VALUES (%s, %s, %s, (SELECT id FROM providers WHERE slug = %s), %s, %s, clock_timestamp(), %s,
                       %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               RETURNING id""",
            (
                run.dag_id,
                run.dag_run_id,
                run.try_number,
                slug,
                slug,
                run.started_at,
                status,
                counts.inserted,
                counts.updated,
                counts.unchanged,
                counts.missed,
                counts.deactivated,
                sum(counts.changes.values()),
                error,
                _json_text(merged) if merged else None,
                fetch.get("fetched", 0),
                fetch.get("rejected", 0),
                fetch.get("duplicates", 0),
                fetch.get("pages", 0),
            ),
        )
        return cursor.fetchone()[0]
