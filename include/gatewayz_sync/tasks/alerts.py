"""Task bodies that tell the operators (connection `gatewayz_alerts`): best-effort, never silent.

An alert that cannot be computed or delivered never changes a sync's outcome, but it is recorded in the catalog
(`alert_outcomes`, read by `/health` and the Model catalog page) and the model sync's `notify` task fails, so
broken alerting shows where operators look; the run's state still comes from `finalize` alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
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


@dataclass
class ModelSyncAlerts:
    """A model-sync run's alerts, and the retirement notices its digest (the last alert, if any) carries: they
    are recorded as sent only once that digest reached every URL. A dry run carries none: `withheld` are the
    lines of the notices it would have sent, reported and never recorded."""

    alerts: list = field(default_factory=list)
    notices: list = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)


def _model_sync_alerts(ti, slugs: list[str] | None, dry_run: bool = False) -> ModelSyncAlerts:
    from decimal import Decimal

    from ..config import AlertSettings
    from ..notify.digest import carried_notices, change_digest, retirement_groups, retirement_line
    from ..notify.messages import MAX_LISTED, failed_run_alert, failure_streak_alert, unlisted_run_alert
    from ..store.alerts import failure_streaks, refused_field_losses, run_changes
    from ..store.retirements import due_notices
    from ..store.runs import run_outcome

    settings = AlertSettings.from_env()
    run = _run_ref(ti)
    if slugs is None:
        return ModelSyncAlerts([unlisted_run_alert(run)])
    connection = catalog_connector()()
    try:
        outcome = run_outcome(connection, ti.run_id, [*slugs, *planned_skips(ti)],
                              provider_task_states(task_states(ti), slugs))
        failed = sorted(slug for slug, status in outcome.statuses.items() if status == "failed")
        streaks = failure_streaks(connection, failed)
        changes = run_changes(connection, ti.run_id, min_ratio=Decimal(str(settings.price_move_percent)) / 100,
                              lifecycle_days=settings.lifecycle_days, per_section=MAX_LISTED)
        losses = refused_field_losses(connection, ti.run_id) if failed else {}
        due = due_notices(connection)
    finally:
        connection.close()
    alerts = []
    if failed:
        alerts.append(failed_run_alert(run, outcome.statuses, outcome.errors, streaks, losses))
    reached = [streak for streak in streaks.values() if streak.runs == settings.failed_runs]
    if reached:
        alerts.append(failure_streak_alert(run, reached, settings.failed_runs))
    withheld = [retirement_line(group) for group in retirement_groups(due)] if dry_run else []
    notices = [] if dry_run else carried_notices(due, MAX_LISTED)
    digest = change_digest(changes, run, price_move_percent=settings.price_move_percent,
                           lifecycle_days=settings.lifecycle_days, notices=notices,
                           notices_due=0 if dry_run else len(due))
    if digest is not None:
        alerts.append(digest)
    for line in withheld:
        log.info("Dry run: retirement notice not sent (it stays due): %s", line)
    return ModelSyncAlerts(alerts, notices, withheld)


def _record_notices(ti, computed: ModelSyncAlerts, result: dict[str, Any]) -> str | None:
    """Record the digest's retirement notices once it was delivered everywhere; an undelivered digest leaves them
    due for the next run. Returns why recording failed (they would be sent again), or None."""
    from ..store.retirements import record_notices

    deliveries = result.get("alerts") or []
    if not computed.notices or len(deliveries) != len(computed.alerts) or deliveries[-1]["outcome"] != "sent":
        return None
    try:
        connection = catalog_connector()()
        try:
            record_notices(connection, computed.notices, ti.run_id)
        finally:
            connection.close()
    except Exception as error:
        log.exception("Retirement notices were sent but could not be recorded")
        return f"{len(computed.notices)} retirement notice(s) sent but not recorded (they will be sent again): " \
               f"{type(error).__name__}: {' '.join(str(error).split())}"
    return None


def _undelivered(result: dict[str, Any]) -> str | None:
    """What was not delivered, in one line, or None when every alert reached every URL."""
    failed = [d for d in result["alerts"] if d["outcome"] != "sent"]
    if not failed:
        return None
    shown = "; ".join(f"{d['title']!r} {d['outcome']} ({d['detail']})" for d in failed[:3])
    return f"{len(failed)} of {len(result['alerts'])} alert(s) not delivered: {shown}"


def _record_outcome(ti, error: str | None, sent: bool) -> None:
    """Remember the outcome in the catalog; a catalog that cannot be reached only costs this record."""
    from ..store.alerting import record_alerting_failed, record_alerting_sent

    try:
        connection = catalog_connector()()
        try:
            if error is not None:
                record_alerting_failed(connection, ti.dag_id, ti.run_id, error)
            elif sent:
                record_alerting_sent(connection, ti.dag_id, ti.run_id)
        finally:
            connection.close()
    except Exception as exc:
        log.warning("Could not record the alerting outcome in the catalog: %s", exc)


def _tell(compute) -> tuple[dict[str, Any], str | None]:
    """Compute and send the alerts; returns the result and the reason alerting failed (None when it worked)."""
    try:
        connection = _alerts_connection()
        if connection is None:
            return {"connection": False, "alerts": []}, None
        result = _send(connection, compute())
    except Exception as error:
        log.exception("Alerting failed; the sync's outcome is unchanged")
        reason = f"{type(error).__name__}: {' '.join(str(error).split())}"
        return {"connection": None, "alerts": [], "error": reason}, reason
    return result, _undelivered(result)


def notify_model_sync(slugs: list[str] | None) -> dict[str, Any]:
    """The failed-run alert, providers whose failed runs in a row reached GATEWAYZ_ALERT_FAILED_RUNS, and the run's
    change digest with the retirement notices due (recorded once delivered). A dry run sends no retirement notice
    and records none: the result lists those it would have sent (`retirement_notices_withheld`). Never touches the
    sync's outcome; fails itself (after recording why) when alerting failed."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    context = get_current_context()
    ti = context["ti"]
    dry_run = bool(context["params"].get("dry_run"))
    computed = ModelSyncAlerts()

    def compute() -> list:
        nonlocal computed
        computed = _model_sync_alerts(ti, None if slugs is None else list(slugs), dry_run)
        return computed.alerts

    result, failure = _tell(compute)
    if computed.withheld:
        result["retirement_notices_withheld"] = computed.withheld
    failure = failure or _record_notices(ti, computed, result)
    _record_outcome(ti, failure, sent=bool(result["alerts"]))
    if failure is not None:
        raise AirflowFailException(f"Alerting failed (the sync's outcome is unchanged; see finalize): {failure}")
    return result


def notify_provider_sync(summary: dict[str, Any] | None) -> dict[str, Any]:
    """Tell the alert connection which providers the provider sync deactivated. It is this DAG's leaf, so a failure
    does not fail the task (the run's state is the provider sync's); it is recorded for `/health` and logged."""
    from airflow.sdk import get_current_context

    from ..notify.messages import deactivation_alert

    ti = get_current_context()["ti"]

    def compute() -> list:
        deactivated = list((summary or {}).get("deactivated") or [])
        if not deactivated:
            return []
        return [deactivation_alert(_run_ref(ti), deactivated, int(summary.get("models_deactivated") or 0))]

    result, failure = _tell(compute)
    _record_outcome(ti, failure, sent=bool(result["alerts"]))
    if failure is not None:
        log.error("Alerting failed (recorded for /health): %s", failure)
        result["error"] = failure
    return result


def notify_publish(summary: dict[str, Any] | None) -> dict[str, Any]:
    """Tell the alert connection that a catalog publish failed, like a failed sync. Fails itself (after recording why,
    for /health) when alerting fails; the run's state still comes from `finalize`."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from ..notify.messages import publish_failed_alert
    from ..store.publications import run_attempts

    ti = get_current_context()["ti"]

    def compute() -> list:
        if summary:
            return []
        connection = catalog_connector()()
        try:
            attempts = run_attempts(connection, ti.run_id)
        finally:
            connection.close()
        failed = [attempt for attempt in attempts if attempt["status"] == "failed"]
        last = attempts[-1] if attempts else {}
        error = last.get("error") or "the publish task ended without recording a result; see its log"
        return [publish_failed_alert(_run_ref(ti), error, last.get("base_url"), max(len(failed), 1))]

    result, failure = _tell(compute)
    _record_outcome(ti, failure, sent=bool(result["alerts"]))
    if failure is not None:
        raise AirflowFailException(f"Alerting failed (the publish's outcome is unchanged; see finalize): {failure}")
    return result
