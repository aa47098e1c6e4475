"""Run records, in one place: a `sync_runs` row per provider attempt and a `model_sync_runs` row per DAG run.

A provider attempt that loads models opens its row as `running` inside the load's transaction and finishes it
there; any other attempt (failed, skipped, dry run, an unchanged listing) is recorded finished in one insert.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..catalog.records import dumps_json

SKIPPED, FAILED, SUCCESS, DRY_RUN = "skipped", "failed", "success", "dry_run"


@dataclass(frozen=True)
class RunInfo:
    """Which DAG run and task attempt a provider sync belongs to."""

    dag_id: str | None
    dag_run_id: str | None
    try_number: int | None
    started_at: datetime

    @classmethod
    def of_task(cls, ti) -> RunInfo:
        """The attempt an Airflow task instance is making, starting now."""
        return cls(dag_id=ti.dag_id, dag_run_id=ti.run_id, try_number=ti.try_number, started_at=datetime.now(UTC))


@dataclass
class FetchCounts:
    """What the listing held: records seen, rejected and duplicated, over how many pages."""

    fetched: int = 0
    rejected: int = 0
    duplicates: int = 0
    pages: int = 0


@dataclass
class LoadResult:
    """What the load did to the provider's rows, and the change rows it wrote (by kind)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    missed: int = 0
    deactivated: int = 0
    active_before: int = 0
    changes: Counter = field(default_factory=Counter)


@dataclass
class Timings:
    fetch_seconds: float = 0.0
    parse_seconds: float = 0.0
    normalize_seconds: float = 0.0
    load_seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {name: round(value, 4) for name, value in vars(self).items()}


@dataclass
class RunResult:
    """One provider attempt: its outcome, counts and details; becomes its `sync_runs` row."""

    status: str
    fetch: FetchCounts = field(default_factory=FetchCounts)
    load: LoadResult = field(default_factory=LoadResult)
    timings: Timings = field(default_factory=Timings)
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    sync_run_id: int | None = None

    def details_json(self) -> str | None:
        if not self.details:
            return None
        document = {**self.details, "timings": self.timings.as_dict()}
        if self.status in (SUCCESS, DRY_RUN):
            document["active_before"] = self.load.active_before
        if self.load.changes:
            document["changes"] = dict(sorted(self.load.changes.items()))
        return dumps_json(document).decode()


_COUNT_COLUMNS = ("fetched", "rejected", "duplicates", "pages", "inserted", "updated", "unchanged", "missed",
                  "deactivated", "changes")


def _counts(result: RunResult) -> tuple:
    fetch, load = result.fetch, result.load
    return (fetch.fetched, fetch.rejected, fetch.duplicates, fetch.pages, load.inserted, load.updated,
            load.unchanged, load.missed, load.deactivated, sum(load.changes.values()))


def last_sync_seconds(connection, slugs: list[str]) -> dict[str, float]:
    """How long each provider's last finished sync attempt took, task start to end (a skip is no sync)."""
    rows = connection.execute(
        """SELECT DISTINCT ON (provider_slug) provider_slug, extract(epoch FROM finished_at - started_at)::float8
           FROM sync_runs WHERE provider_slug = ANY(%s) AND status = ANY(%s)
           ORDER BY provider_slug, id DESC""",
        (slugs, [SUCCESS, FAILED, DRY_RUN]),
    ).fetchall()
    return dict(rows)


def start_provider_run(cursor, run: RunInfo, provider_id: int, slug: str) -> int:
    """Open a `running` row in the caller's transaction (it vanishes with a rolled-back load)."""
    cursor.execute(
        """INSERT INTO sync_runs (dag_id, dag_run_id, try_number, provider_id, provider_slug, started_at, status)
           VALUES (%s, %s, %s, %s, %s, %s, 'running') RETURNING id""",
        (run.dag_id, run.dag_run_id, run.try_number, provider_id, slug, run.started_at),
    )
    return cursor.fetchone()[0]


def finish_provider_run(cursor, sync_run_id: int, result: RunResult) -> None:
    cursor.execute(
        f"""UPDATE sync_runs SET status = %s, finished_at = clock_timestamp(), error = %s, details = %s,
                {", ".join(f"{column} = %s" for column in _COUNT_COLUMNS)}
            WHERE id = %s""",
        (result.status, result.error, result.details_json(), *_counts(result), sync_run_id),
    )
    result.sync_run_id = sync_run_id


def record_provider_run(cursor, run: RunInfo, slug: str, result: RunResult) -> int:
    """Insert a finished attempt in the caller's transaction; the provider is looked up by slug (may be absent)."""
    cursor.execute(
        f"""INSERT INTO sync_runs (dag_id, dag_run_id, try_number, provider_id, provider_slug, started_at,
                                   finished_at, status, error, details, {", ".join(_COUNT_COLUMNS)})
            VALUES (%s, %s, %s, (SELECT id FROM providers WHERE slug = %s), %s, %s, clock_timestamp(), %s, %s, %s,
                    {", ".join("%s" for _ in _COUNT_COLUMNS)})
            RETURNING id""",
        (run.dag_id, run.dag_run_id, run.try_number, slug, slug, run.started_at, result.status, result.error,
         result.details_json(), *_counts(result)),
    )
    result.sync_run_id = cursor.fetchone()[0]
    return result.sync_run_id


def record_provider_run_alone(connection, run: RunInfo, slug: str, result: RunResult) -> int:
    """`record_provider_run` in a transaction of its own (autocommit connection)."""
    with connection.transaction(), connection.cursor() as cursor:
        return record_provider_run(cursor, run, slug, result)


def record_skipped_runs(connection, run: RunInfo, reasons: Mapping[str, str]) -> None:
    """One finished `skipped` attempt per provider (slug -> reason), all in one statement: the providers a run
    knows will skip before any of their tasks would start."""
    if not reasons:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO sync_runs (dag_id, dag_run_id, try_number, provider_id, provider_slug, started_at,
                                      finished_at, status, error)
               SELECT %s, %s, %s, p.id, skip.slug, %s, clock_timestamp(), %s, skip.reason
               FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS skip (slug, reason, position)
               LEFT JOIN providers p ON p.slug = skip.slug
               ORDER BY skip.position""",
            (run.dag_id, run.dag_run_id, run.try_number, run.started_at, SKIPPED, list(reasons),
             list(reasons.values())),
        )


def last_success_counts(cursor, slug: str) -> FetchCounts | None:
    """The fetch counts of the provider's last successful attempt (an unchanged listing repeats them)."""
    cursor.execute(
        """SELECT fetched, rejected, duplicates, pages FROM sync_runs
           WHERE provider_slug = %s AND status = 'success' ORDER BY id DESC LIMIT 1""",
        (slug,),
    )
    row = cursor.fetchone()
    return FetchCounts(*row) if row else None


@dataclass
class RunOutcome:
    """Each provider's final status in one DAG run, the errors of those that did not succeed, the catalog size."""

    statuses: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    active_models: int = 0

    def count(self, status: str) -> int:
        return sum(1 for value in self.statuses.values() if value == status)


def run_outcome(connection, dag_run_id: str, slugs: list[str], task_states: Mapping[str, str]) -> RunOutcome:
    """Each provider's latest `sync_runs` row in the run, overruled by a task that failed without recording one.

    `task_states` maps a slug to its task's final state (the caller knows how Airflow names mapped tasks).
    """
    outcome = RunOutcome()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT DISTINCT ON (provider_slug) provider_slug, status, error
               FROM sync_runs WHERE dag_run_id = %s AND status <> 'running'
               ORDER BY provider_slug, id DESC""",
            (dag_run_id,),
        )
        latest = {slug: (status, error) for slug, status, error in cursor.fetchall()}
        cursor.execute("SELECT count(*) FROM models WHERE is_active")
        outcome.active_models = cursor.fetchone()[0]
    for slug in slugs:
        status, error = latest.get(slug, (None, None))
        task_state = task_states.get(slug)
        if task_state in ("failed", "upstream_failed") and status != FAILED:
            status = FAILED
            error = error or f"the sync_provider task for {slug} ended {task_state} without recording a result"
        if status is None:
            status = FAILED
            error = f"no result was recorded for {slug} (task state: {task_state or 'unknown'})"
        outcome.statuses[slug] = status
        if status in (FAILED, SKIPPED) and error:
            outcome.errors[slug] = error
    return outcome


_REPLACE = """UPDATE SET finished_at = now(), status = EXCLUDED.status, ok = EXCLUDED.ok, failed = EXCLUDED.failed,
    skipped = EXCLUDED.skipped, active_models = EXCLUDED.active_models, dry_run = EXCLUDED.dry_run,
    details = EXCLUDED.details"""


def record_dag_run(
    connection, dag_id: str, dag_run_id: str, outcome: RunOutcome, dry_run: bool, error: str | None = None,
    replace: bool = True,
) -> None:
    """One `model_sync_runs` row per DAG run (a rerun of the final task replaces it, unless `replace` is off);
    `error` fails the whole run."""
    failed = outcome.count(FAILED)
    details: dict[str, Any] = {"providers": outcome.statuses, "errors": outcome.errors}
    if error:
        details["error"] = error
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO model_sync_runs (dag_run_id, dag_id, finished_at, status, ok, failed, skipped,
                                             active_models, dry_run, details)
                VALUES (%s, %s, now(), %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (dag_run_id) DO {_REPLACE if replace else "NOTHING"}""",
            (dag_run_id, dag_id, FAILED if failed or error else SUCCESS, outcome.count(SUCCESS) + outcome.count(DRY_RUN),
             failed, outcome.count(SKIPPED), outcome.active_models, dry_run, dumps_json(details).decode()),
        )
