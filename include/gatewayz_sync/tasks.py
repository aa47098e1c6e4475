"""Task bodies for the DAGs: the only module that reaches for Airflow hooks, connections and the task context.

Each function is what one DAG task does, so the DAG files stay wiring. Airflow imports happen inside the
functions: importing this module at DAG-parse time costs nothing.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

from .config import FetchSettings, SyncSettings
from .store.connection import catalog_connector

log = logging.getLogger(__name__)


def migrate_catalog() -> str:
    from .store import schema

    before, after = schema.migrate(catalog_connector())
    if before == after:
        log.info("Catalog schema already at revision %s; nothing to migrate", after)
    else:
        log.info("Catalog schema migrated from %s to %s", before or "empty", after)
    return after


def sync_providers() -> dict[str, Any]:
    from .sources.registry import GATEWAY_REGISTRY
    from .store.providers import sync_registry

    connection = catalog_connector()()
    try:
        result = sync_registry(connection, GATEWAY_REGISTRY.values())
    finally:
        connection.close()
    log.info("%s", result.summary_line())
    return {
        "total": result.total,
        "added": result.added,
        "updated": result.updated,
        "deactivated": result.deactivated,
        "unchanged": len(result.unchanged),
        "models_deactivated": result.models_deactivated,
    }


def list_provider_slugs(params: dict[str, Any]) -> list[str]:
    """The providers this run covers: conf `providers` if given, else every active, enabled provider."""
    from .sources.registry import GATEWAY_REGISTRY
    from .store.providers import syncable_slugs

    requested = list(dict.fromkeys(params.get("providers") or []))
    unknown = [slug for slug in requested if slug not in GATEWAY_REGISTRY]
    if unknown:
        raise ValueError(f"unknown provider(s) {unknown}; known: {', '.join(sorted(GATEWAY_REGISTRY))}")
    if requested:
        log.info("Syncing the providers named in the run conf: %s", ", ".join(requested))
        return requested
    connection = catalog_connector()()
    try:
        slugs = syncable_slugs(connection)
    finally:
        connection.close()
    if not slugs:
        log.warning("No active providers in the catalog; has gatewayz_sync_providers run?")
    log.info("Syncing %d providers: %s", len(slugs), ", ".join(slugs))
    return slugs


def _provider_connection(provider):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(provider.connection_id)
    except AirflowNotFoundException:
        return None


def sync_provider(slug: str) -> dict[str, Any]:
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from .errors import ProviderSkipped, ProviderSyncError
    from .model_sync import sync_provider_models
    from .sources.registry import get_provider
    from .store.load import LoadOptions
    from .store.runs import RunInfo

    context = get_current_context()
    context["slug_label"] = slug
    params = context["params"]
    ti = context["ti"]
    settings = SyncSettings.from_env()
    run = RunInfo(
        dag_id=ti.dag_id,
        dag_run_id=ti.run_id,
        try_number=ti.try_number,
        started_at=datetime.now(UTC),
    )
    options = LoadOptions.from_settings(
        settings, allow_shrink=bool(params.get("allow_shrink")), dry_run=bool(params.get("dry_run"))
    )
    try:
        summary = sync_provider_models(
            get_provider(slug),
            catalog_connector(),
            run,
            options,
            connection_for=_provider_connection,
            env=os.environ,
            fetch_settings=FetchSettings.from_env(),
        )
    except ProviderSkipped as skipped:
        raise AirflowSkipException(f"{slug} skipped: {skipped.reason}") from None
    except ProviderSyncError as failure:
        if failure.retryable:
            raise
        raise AirflowFailException(str(failure)) from None
    return summary.as_dict()


def _provider_task_states(ti, slugs: list[str]) -> dict[str, str]:
    """Each provider's sync_provider task state: Airflow keys mapped instances `sync_provider_<map index>`."""
    try:
        by_key = ti.get_task_states(dag_id=ti.dag_id, task_ids=["sync_provider"], run_ids=[ti.run_id]).get(ti.run_id, {})
    except Exception as exc:
        log.warning("could not read mapped task states (%s); relying on sync_runs", exc)
        return {}
    states = {}
    for index, slug in enumerate(slugs):
        state = by_key.get(f"sync_provider_{index}") or by_key.get("sync_provider")
        if state:
            states[slug] = state
    return states


def finalize_model_sync(slugs: list[str] | None) -> dict[str, Any]:
    """Summarize the run from sync_runs and the mapped task states; fail the run if any provider failed."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from .store.runs import record_dag_run, run_outcome

    context = get_current_context()
    ti = context["ti"]
    params = context["params"]
    slugs = list(slugs or [])
    connection = catalog_connector()()
    try:
        outcome = run_outcome(connection, ti.run_id, slugs, _provider_task_states(ti, slugs))
        record_dag_run(connection, ti.dag_id, ti.run_id, outcome, dry_run=bool(params.get("dry_run")))
    finally:
        connection.close()
    ok, failed, skipped = outcome.count("success") + outcome.count("dry_run"), outcome.count("failed"), outcome.count("skipped")
    line = f"Model sync complete: {ok} ok, {failed} failed, {skipped} skipped; {outcome.active_models} active models"
    log.info("%s", line)
    for slug, error in sorted(outcome.errors.items()):
        if outcome.statuses[slug] == "failed":
            log.error("%s failed: %s", slug, error)
        else:
            log.info("%s skipped: %s", slug, error)
    if failed:
        names = ", ".join(sorted(s for s, status in outcome.statuses.items() if status == "failed"))
        raise AirflowFailException(f"{line}. Failed providers: {names}")
    return {"ok": ok, "failed": 0, "skipped": skipped, "active_models": outcome.active_models}


def _alerts_connection():
    """The Apprise connection `gatewayz_alerts`, or None: then nothing is sent, and this says so once per run."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from .config import ALERTS_CONN_ID

    try:
        return BaseHook.get_connection(ALERTS_CONN_ID)
    except AirflowNotFoundException:
        log.info("No connection %s: no alerts are sent for this run (see the README, Alerts)", ALERTS_CONN_ID)
        return None


def _run_ref(ti):
    from airflow.sdk.configuration import conf

    from .notify.messages import RunRef

    return RunRef.of(conf.get("api", "base_url", fallback="http://localhost:8080"), ti.dag_id, ti.run_id)


def _send(connection, alerts: list) -> dict[str, Any]:
    from .config import AlertSettings
    from .notify.send import send_alerts

    if not alerts:
        log.info("Nothing to tell for this run")
        return {"connection": True, "alerts": []}
    deliveries = send_alerts(connection, alerts, AlertSettings.from_env().send_timeout_seconds)
    return {"connection": True, "alerts": [delivery.as_dict() for delivery in deliveries]}


def _model_sync_alerts(ti, slugs: list[str] | None) -> list:
    from decimal import Decimal

    from .config import AlertSettings
    from .notify.digest import change_digest
    from .notify.messages import MAX_LISTED, failed_run_alert, failure_streak_alert, unlisted_run_alert
    from .store.alerts import failure_streaks, run_changes
    from .store.runs import run_outcome

    settings = AlertSettings.from_env()
    run = _run_ref(ti)
    if slugs is None:
        return [unlisted_run_alert(run)]
    connection = catalog_connector()()
    try:
        outcome = run_outcome(connection, ti.run_id, slugs, _provider_task_states(ti, slugs))
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

    from .notify.messages import deactivation_alert

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
