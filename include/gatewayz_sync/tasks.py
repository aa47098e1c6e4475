"""Task bodies for the DAGs: the only module that reaches for Airflow hooks, connections and the task context.

Each function is what one DAG task does, so the DAG files stay wiring. Airflow imports happen inside the
functions: importing this module at DAG-parse time costs nothing.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

from .config import ConcurrencySettings, FetchSettings, SyncSettings
from .store.connection import catalog_connector

log = logging.getLogger(__name__)

POOL_WAIT_XCOM_KEY = "pool_wait"
WAITING_STATES = (None, "scheduled")


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
    """The providers this run covers: conf `providers` if given, else every active, enabled provider.

    The schema is migrated first: on a new deployment the model sync may run (its cron fires on unpause) before
    the provider sync ever has, and it then finds no providers instead of failing on missing tables.
    """
    from .sources.registry import GATEWAY_REGISTRY
    from .store.providers import syncable_slugs

    requested = list(dict.fromkeys(params.get("providers") or []))
    unknown = [slug for slug in requested if slug not in GATEWAY_REGISTRY]
    if unknown:
        raise ValueError(f"unknown provider(s) {unknown}; known: {', '.join(sorted(GATEWAY_REGISTRY))}")
    migrate_catalog()
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
        log.error("%s sync failed: %s", slug, failure)
        if failure.retryable:
            raise
        raise AirflowFailException(str(failure)) from None
    return summary.as_dict()


def watch_http_pool(slugs: list[str] | None) -> dict[str, Any]:
    """End the run instead of letting it wait forever when no provider task can enter the named pool.

    Airflow 3 keeps a task whose pool does not exist `scheduled` for ever (the scheduler only logs a warning) and
    tasks cannot read pools, so this watches the mapped instances: once one of them has left `scheduled` the
    pool works. If none has within GATEWAYZ_HTTP_POOL_WAIT_SECONDS, the waiting instances are skipped, the
    reason goes to XCom and `finalize` fails the run with it.
    """
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import DownstreamTasksSkipped

    settings = ConcurrencySettings.from_env()
    ti = get_current_context()["ti"]
    slugs = list(slugs or [])
    if settings.pool is None or not slugs:
        return {"pool": settings.pool, "started": True}
    deadline = time.monotonic() + settings.pool_wait_seconds
    while True:
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=["sync_provider"], run_ids=[ti.run_id]).get(ti.run_id, {})
        waiting = [key for key, state in states.items() if state in WAITING_STATES]
        if states and len(waiting) < len(states):
            log.info("Pool %s admits provider tasks (%d of %d started)", settings.pool, len(states) - len(waiting),
                     len(states))
            return {"pool": settings.pool, "started": True}
        if time.monotonic() >= deadline:
            break
        time.sleep(min(2.0, settings.pool_wait_seconds))
    message = (
        f"No sync_provider task entered pool '{settings.pool}' within {settings.pool_wait_seconds:g} s: the pool "
        f"does not exist (Airflow then waits forever) or has no free slot. Create it with: "
        f"{settings.pool_command()} (or unset GATEWAYZ_HTTP_POOL; raise GATEWAYZ_HTTP_POOL_WAIT_SECONDS if it is "
        f"only busy)"
    )
    log.error("%s", message)
    ti.xcom_push(key=POOL_WAIT_XCOM_KEY, value={"pool": settings.pool, "message": message})
    stuck = [("sync_provider", int(key.rsplit("_", 1)[1])) for key in waiting]
    log.error("Skipping %d provider tasks that never started so the run ends now", len(stuck))
    raise DownstreamTasksSkipped(tasks=stuck)


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
    pool_wait = ti.xcom_pull(task_ids="watch_http_pool", key=POOL_WAIT_XCOM_KEY) if ConcurrencySettings.from_env().pool else None
    states = _provider_task_states(ti, slugs)
    connection = catalog_connector()()
    try:
        outcome = run_outcome(connection, ti.run_id, slugs, states)
        if pool_wait:
            for slug in slugs:
                if states.get(slug) == "skipped" and outcome.statuses.get(slug) == "failed":
                    outcome.errors[slug] = pool_wait["message"]
        record_dag_run(connection, ti.dag_id, ti.run_id, outcome, dry_run=bool(params.get("dry_run")))
    finally:
        connection.close()
    ok, failed, skipped = outcome.count("success") + outcome.count("dry_run"), outcome.count("failed"), outcome.count("skipped")
    line = f"Model sync complete: {ok} ok, {failed} failed, {skipped} skipped; {outcome.active_models} active models"
    log.info("%s", line)
    for slug, error in sorted(outcome.errors.items()):
        if outcome.statuses[slug] == "failed":
            log.error("%s sync failed: %s", slug, error)
        else:
            log.info("%s skipped: %s", slug, error)
    if pool_wait:
        raise AirflowFailException(f"{line}. {pool_wait['message']}")
    if failed:
        names = ", ".join(sorted(s for s, status in outcome.statuses.items() if status == "failed"))
        raise AirflowFailException(f"{line}. Failed providers: {names}")
    return {"ok": ok, "failed": 0, "skipped": skipped, "active_models": outcome.active_models}
