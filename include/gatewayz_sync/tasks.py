"""Task bodies for the DAGs: the only module that reaches for Airflow hooks, connections and the task context.

Each function is what one DAG task does, so the DAG files stay wiring. Airflow imports happen inside the
functions: importing this module at DAG-parse time costs nothing.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from .config import CATALOG_CONN_ID, FetchSettings, SyncSettings

log = logging.getLogger(__name__)


class CatalogUnreachable(Exception):
    """The catalog database refused the connection; the task fails (and is retried) with this message."""


def catalog_connector():
    """A factory of autocommit psycopg connections to the catalog database (connection `gatewayz_db`)."""
    import psycopg
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(postgres_conn_id=CATALOG_CONN_ID)

    def connect():
        try:
            connection = hook.get_conn()
        except psycopg.OperationalError as error:
            reason = " ".join(str(error).split())
            message = f"the catalog database (connection {CATALOG_CONN_ID}) is unreachable: {reason}"
            log.error("%s", message)
            raise CatalogUnreachable(message) from None
        connection.autocommit = True
        return connection

    return connect


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
    from .store.models import LoadOptions, RunInfo

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
    options = LoadOptions(
        miss_threshold=settings.miss_threshold,
        shrink_ratio=settings.shrink_guard_ratio,
        allow_shrink=bool(params.get("allow_shrink")),
        dry_run=bool(params.get("dry_run")),
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


def finalize_model_sync(slugs: list[str] | None) -> dict[str, Any]:
    """Summarize the run from sync_runs and the mapped task states; fail the run if any provider failed."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from .store.status import record_model_sync_run, run_outcomes

    context = get_current_context()
    ti = context["ti"]
    params = context["params"]
    slugs = list(slugs or [])
    try:
        task_states = ti.get_task_states(dag_id=ti.dag_id, task_ids=["sync_provider"], run_ids=[ti.run_id])
        states = task_states.get(ti.run_id, {})
    except Exception as exc:
        log.warning("could not read mapped task states (%s); relying on sync_runs", exc)
        states = {}
    connection = catalog_connector()()
    try:
        outcome = run_outcomes(connection, ti.run_id, slugs, states)
        record_model_sync_run(connection, ti.dag_id, ti.run_id, outcome, dry_run=bool(params.get("dry_run")))
    finally:
        connection.close()
    counts = Counter(status for status in outcome.statuses.values())
    ok = counts["success"] + counts["dry_run"]
    line = (
        f"Model sync complete: {ok} ok, {counts['failed']} failed, {counts['skipped']} skipped; "
        f"{outcome.active_models} active models"
    )
    log.info("%s", line)
    for slug, error in sorted(outcome.errors.items()):
        if outcome.statuses[slug] == "failed":
            log.error("%s failed: %s", slug, error)
        else:
            log.info("%s skipped: %s", slug, error)
    if counts["failed"]:
        failed = ", ".join(sorted(s for s, status in outcome.statuses.items() if status == "failed"))
        raise AirflowFailException(f"{line}. Failed providers: {failed}")
    return {"ok": ok, "failed": 0, "skipped": counts["skipped"], "active_models": outcome.active_models}
