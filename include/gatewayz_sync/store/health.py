"""Health as an outside monitor needs it: fresh or stale, and the cause in words whenever it can be named.

Runs that are never created (the DAG paused, the scheduler down) cannot alert from inside Airflow; an external
monitor polling `/admin/model-sync/health` sees the catalog go stale, and this report says why: "model sync
paused", "scheduler not heartbeating since ...", "no model-sync run since ...", failing or stale providers.
Alerting that fails is a cause of its own ("alerting broken since ...: <error>"): the catalog may be fresh, but
nobody would be told when it is not, so the report is not healthy either. So is a catalog publish that fails
("catalog publish failing since ...: <error>"): the tools reading the published files see a stale catalog.

A dead Airflow component is a 503 at once, not a cause that waits for the catalog to go stale: the scheduler or
the dag-processor without a heartbeat within its threshold (Airflow's own `/api/v2/monitor/health` verdict), the
triggerer too when the model sync has a deadline alert (only the triggerer fires it). Under `make up`, its
supervisor's record of restarts shows as `supervisor`, and a component it gave up on is a cause of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .alerting import BrokenAlerting
from .publications import BrokenPublishing
from .status import ProviderStatus, health

MAX_NAMED = 10


@dataclass(frozen=True)
class LastRun:
    """The newest `model_sync_runs` row that was not a dry run."""

    dag_run_id: str
    finished_at: datetime
    status: str


def last_model_sync_run(connection) -> LastRun | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT dag_run_id, finished_at, status FROM model_sync_runs WHERE NOT dry_run "
            "ORDER BY finished_at DESC LIMIT 1"
        )
        row = cursor.fetchone()
    return LastRun(*row) if row else None


def _named(entries: list[dict[str, Any]], with_error: bool) -> str:
    shown = [f"{e['slug']} ({e['error']})" if with_error and e.get("error") else e["slug"] for e in entries[:MAX_NAMED]]
    more = f" and {len(entries) - MAX_NAMED} more" if len(entries) > MAX_NAMED else ""
    return ", ".join(shown) + more


def components_down(airflow: dict[str, Any] | None, *, needs_triggerer: bool,
                    supervisor: dict[str, Any] | None = None) -> list[str]:
    """A sentence per Airflow component that is not alive: from Airflow's health verdict (`get_airflow_health()`:
    status `unhealthy` once the last heartbeat is older than the component's threshold; None when no such
    component ever ran) and, under `make up`, the components its supervisor gave up restarting."""
    found = []
    airflow = airflow or {}
    if (airflow.get("metadatabase") or {}).get("status") == "unhealthy":
        found.append("Airflow's metadata database is unreachable")
    checked = [("scheduler", "scheduler", True), ("dag_processor", "dag-processor", True),
               ("triggerer", "triggerer", needs_triggerer)]
    for key, name, required in checked:
        entry = airflow.get(key)
        if not required or not entry or "status" not in entry:
            continue
        beat = entry.get(f"latest_{key}_heartbeat")
        if entry["status"] == "unhealthy" or (entry["status"] is None and key == "triggerer"):
            sentence = f"{name} not heartbeating since {beat}" if beat else f"no {name} has ever heartbeated"
            if key == "triggerer":
                sentence += ": the model sync's deadline alert cannot fire (MODEL_SYNC_DEADLINE_MINUTES=0 turns it off)"
            found.append(sentence)
    for name, record in sorted(((supervisor or {}).get("components") or {}).items()):
        if record.get("state") == "gave up":
            found.append(f"{name} stopped: make up's supervisor gave up restarting it after {record.get('restarts', 0)} "
                         f"restarts (last exit: {record.get('last_exit')}; `make logs`)")
    return found


def causes(stale: list[dict[str, Any]], *, stale_hours: float, now: datetime, last_run: LastRun | None,
           paused: bool | None) -> list[str]:
    """Every reason the catalog is, or is about to go, stale; the likeliest root cause first."""
    found = []
    if paused:
        found.append("model sync paused: no runs are created until gatewayz_sync_models is unpaused")
    if last_run is None:
        found.append("no model-sync run has finished yet")
    else:
        age_hours = (now - last_run.finished_at).total_seconds() / 3600
        if age_hours > stale_hours:
            found.append(f"no model-sync run since {last_run.finished_at.isoformat()} ({age_hours:.1f} h ago)")
    failing = [entry for entry in stale if entry["state"] == "failed"]
    if failing:
        found.append(f"{len(failing)} provider(s) failing: {_named(failing, with_error=True)}")
    unsynced = [entry for entry in stale if entry["state"] != "failed"]
    if unsynced:
        found.append(f"{len(unsynced)} provider(s) with no success for over {stale_hours:g} h: "
                     f"{_named(unsynced, with_error=False)}")
    return found


def health_report(statuses: list[ProviderStatus], *, stale_hours: float, now: datetime, last_run: LastRun | None,
                  paused: bool | None, airflow: dict[str, Any] | None, needs_triggerer: bool = False,
                  supervisor: dict[str, Any] | None = None, alerting: list[BrokenAlerting] = (),
                  publishing: BrokenPublishing | None = None) -> tuple[bool, dict[str, Any]]:
    """Healthy when every tracked provider is fresh, every Airflow component the sync needs is alive, alerting works
    and publishing works (when it runs at all); the body names the causes either way."""
    fresh, stale = health(statuses)
    found = [broken.sentence() for broken in alerting]
    if publishing is not None:
        found.append(publishing.sentence())
    down = components_down(airflow, needs_triggerer=needs_triggerer, supervisor=supervisor)
    found += down
    found += causes(stale, stale_hours=stale_hours, now=now, last_run=last_run, paused=paused)
    healthy = fresh and not alerting and publishing is None and not down
    status = ("ok" if healthy else "component down" if down else "stale" if not fresh
              else "alerting broken" if alerting else "publish failing")
    return healthy, {
        "status": status,
        "cause": None if healthy else (found[0] if found else "stale providers"),
        "causes": found,
        "alerting": [broken.as_dict() for broken in alerting],
        "publishing": None if publishing is None else publishing.as_dict(),
        "stale_after_hours": stale_hours,
        "stale": stale,
        "paused": paused,
        "scheduler": (airflow or {}).get("scheduler"),
        "components": airflow,
        "supervisor": supervisor,
        "last_run": None if last_run is None else {
            "dag_run_id": last_run.dag_run_id,
            "finished_at": last_run.finished_at.isoformat(),
            "status": last_run.status,
        },
    }
