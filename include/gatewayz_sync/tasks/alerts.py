"""Task bodies that tell the operators (connection `gatewayz_alerts`): best-effort, never failing a sync."""

from __future__ import annotations

import logging
from typing import Any

from ..store.connection import catalog_connector
from .models import planned_skips, provider_task_states, task_states

log = logging.getLogger(__name__)


def _alerts_connection():
    """The Apprise connection `gatewayz_alerts`, or None: then nothing is sent, and this says so once per run."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from ..config import ALERTS_CONN_ID

    try:
        return BaseHook.get_connection(ALERTS_CONN_ID)
    except AirflowNotFoundException:
        log.info("No connection %s: no alerts are sent for this run (see the README, Alerts)", ALERTS_CONN_ID)
        return None


def _run_ref(ti):
    from airflow.sdk.configuration import conf

    from ..notify.messages import RunRef

    return RunRef.of(conf.get("api", "base_url", fallback="http://localhost:8080"), ti.dag_id, ti.run_id)


def _send(connection, alerts: list) -> dict[str, Any]:
    from ..config import AlertSettings
    from ..notify.send import send_alerts

    if not alerts:
        log.info("Nothing to tell for this run")
        return {"connection": True, "alerts": []}
    deliveries = send_alerts(connection, alerts, AlertSettings.from_env().send_timeout_seconds)
    return {"connection": True, "alerts": [delivery.as_dict() for delivery in deliveries]}


def _model_sync_alerts(ti, slugs: list[str] | None) -> list:
    from decimal import Decimal

    from ..config import AlertSettings
    from ..notify.digest import change_digest
    from ..notify.messages import MAX_LISTED, failed_run_alert, failure_streak_alert, unlisted_run_alert
    from ..store.alerts import failure_streaks, run_changes
    from ..store.runs import run_outcome

    settings = AlertSettings.from_env()
    run = _run_ref(ti)
    if slugs is None:
        return [unlisted_run_alert(run)]
    connection = catalog_connector()()
    try:
        outcome = run_outcome(connection, ti.run_id, [*slugs, *planned_skips(ti)],
                              provider_task_states(task_states(ti), slugs))
        failed = sorted(slug for slug, status in outcome.statuses.items() if status == "failed")
        streaks = failure_streaks(connection, failed)
        changes = run_changes(connection, ti.run_id, min_ratio=Decimal(str(settings.price_move_percent)) / 100,
                              lifecycle_days=settings.lifecycle_days, per_section=MAX_LISTED)
    finally:
        connection.close()
    alerts = []
    if failed:
        alerts.append(failed_run_alert(run, outcome.statuses, outcome.errors, streaks))
    reached = [streak for streak in streaks.values() if streak.runs == settings.failed_runs]
    if reached:
        alerts.append(failure_streak_alert(run, reached, settings.failed_runs))
    digest = change_digest(changes, run, price_move_percent=settings.price_move_percent,
                           lifecycle_days=settings.lifecycle_days)
    if digest is not None:
        alerts.append(digest)
    return alerts


def notify_model_sync(slugs: list[str] | None) -> dict[str, Any]:
    """Best-effort, never raising: the failed-run alert, providers whose failed runs in a row reached
    GATEWAYZ_ALERT_FAILED_RUNS, and the run's change digest."""
    from airflow.sdk import get_current_context

    ti = get_current_context()["ti"]
    try:
        connection = _alerts_connection()
        if connection is None:
            return {"connection": False, "alerts": []}
        return _send(connection, _model_sync_alerts(ti, None if slugs is None else list(slugs)))
    except Exception:
        log.exception("Alerting failed; the sync's outcome is unchanged")
        return {"connection": None, "alerts": [], "error": "alerting failed; see the task log"}


def notify_provider_sync(summary: dict[str, Any] | None) -> dict[str, Any]:
    """Best-effort, never raising: tell the alert connection which providers the provider sync deactivated."""
    from airflow.sdk import get_current_context

    from ..notify.messages import deactivation_alert

    ti = get_current_context()["ti"]
    try:
        connection = _alerts_connection()
        if connection is None:
            return {"connection": False, "alerts": []}
        deactivated = list((summary or {}).get("deactivated") or [])
        alerts = []
        if deactivated:
            alerts.append(deactivation_alert(_run_ref(ti), deactivated, int(summary.get("models_deactivated") or 0)))
        return _send(connection, alerts)
    except Exception:
        log.exception("Alerting failed; the provider sync's outcome is unchanged")
        return {"connection": None, "alerts": [], "error": "alerting failed; see the task log"}
