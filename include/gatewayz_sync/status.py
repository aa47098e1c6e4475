"""Read models over the catalog: one run's outcome per provider, and the status table operators look at."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from include.gatewayz_sync.records import dumps_json

FAILED_TASK_STATES = {"failed", "upstream_failed"}


@dataclass
class RunOutcome:
    statuses: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    active_models: int = 0


def run_outcomes(connection, dag_run_id: str, slugs: list[str], task_states: Mapping[str, Any]) -> RunOutcome:
    """Each provider's final status in one DAG run: its latest sync_runs row, overruled by a failed task."""
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
    for index, slug in enumerate(slugs):
        status, error = latest.get(slug, (None, None))
        task_state = task_states.get(f"sync_provider_{index}") or task_states.get("sync_provider")
        if task_state in FAILED_TASK_STATES and status != "failed":
            status = "failed"
            error = error or f"the sync_provider task for {slug} ended {task_state} without recording a result"
        if status is None:
            status = "failed"
            error = f"no result was recorded for {slug} (task state: {task_state or 'unknown'})"
        outcome.statuses[slug] = status
        if status in ("failed", "skipped") and error:
            outcome.errors[slug] = error
    return outcome


def record_model_sync_run(connection, dag_id: str, dag_run_id: str, outcome: RunOutcome, dry_run: bool) -> None:
    counts = {"success": 0, "failed": 0, "skipped": 0, "dry_run": 0}
    for status in outcome.statuses.values():
        counts[status] = counts.get(status, 0) + 1
    status = "failed" if counts["failed"] else "success"
    details = {"providers": outcome.statuses, "errors": outcome.errors}
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO model_sync_runs (dag_run_id, dag_id, finished_at, status, ok, failed, skipped,
                                            active_models, dry_run, details)
               VALUES (%s, %s, now(), %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (dag_run_id) DO UPDATE SET finished_at = now(), status = EXCLUDED.status,
                   ok = EXCLUDED.ok, failed = EXCLUDED.failed, skipped = EXCLUDED.skipped,
                   active_models = EXCLUDED.active_models, dry_run = EXCLUDED.dry_run, details = EXCLUDED.details""",
            (
                dag_run_id,
                dag_id,
                status,
                counts["success"] + counts["dry_run"],
                counts["failed"],
                counts["skipped"],
                outcome.active_models,
                dry_run,
                dumps_json(details).decode(),
            ),
        )
