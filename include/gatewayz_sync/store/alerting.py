"""Whether alerting works: each DAG's last alerting outcome (`alert_outcomes`), kept where `/health` reads it.

A failure (an alert that could not be computed or was not delivered to every URL) sets `failing_since` once and
`last_error` every time; the next attempt that delivers every alert clears both. A run with nothing to tell
proves nothing about the receiver and changes neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class BrokenAlerting:
    """A DAG whose alerts fail: since when, in which run last, and the latest error."""

    dag_id: str
    since: datetime
    dag_run_id: str | None
    error: str

    def sentence(self) -> str:
        return f"alerting broken since {self.since.isoformat()}: {self.error} ({self.dag_id})"

    def as_dict(self) -> dict[str, str | None]:
        return {"dag_id": self.dag_id, "since": self.since.isoformat(), "dag_run_id": self.dag_run_id,
                "error": self.error}


def record_alerting_failed(connection, dag_id: str, dag_run_id: str | None, error: str) -> None:
    error = " ".join(error.split())[:MAX_ERROR_CHARS] or "unknown error"
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO alert_outcomes (dag_id, last_attempt_at, last_dag_run_id, failing_since, failed_dag_run_id,
                                           last_error)
               VALUES (%(dag_id)s, now(), %(run)s, now(), %(run)s, %(error)s)
               ON CONFLICT (dag_id) DO UPDATE SET
                   last_attempt_at = now(), last_dag_run_id = %(run)s,
                   failing_since = COALESCE(alert_outcomes.failing_since, now()),
                   failed_dag_run_id = %(run)s, last_error = %(error)s""",
            {"dag_id": dag_id, "run": dag_run_id, "error": error},
        )


def record_alerting_sent(connection, dag_id: str, dag_run_id: str | None) -> None:
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO alert_outcomes (dag_id, last_attempt_at, last_dag_run_id, last_sent_at)
               VALUES (%(dag_id)s, now(), %(run)s, now())
               ON CONFLICT (dag_id) DO UPDATE SET
                   last_attempt_at = now(), last_dag_run_id = %(run)s, last_sent_at = now(),
                   failing_since = NULL, failed_dag_run_id = NULL, last_error = NULL""",
            {"dag_id": dag_id, "run": dag_run_id},
        )


def broken_alerting(connection) -> list[BrokenAlerting]:
    """Every DAG whose alerting is failing now, longest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT dag_id, failing_since, failed_dag_run_id, last_error FROM alert_outcomes
               WHERE failing_since IS NOT NULL ORDER BY failing_since, dag_id"""
        )
        return [BrokenAlerting(*row) for row in cursor.fetchall()]
