"""Task bodies of the model sync: which providers a run covers, one provider's sync, the pool watcher, the
run's outcome."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from ..config import ConcurrencySettings, FetchSettings, SyncSettings
from ..store.connection import catalog_connector
from .providers import migrate_catalog

log = logging.getLogger(__name__)


POOL_WAIT_XCOM_KEY = "pool_wait"
WAITING_STATES = (None, "scheduled")
MODEL_SYNC_CONF_KEYS = ("providers", "dry_run", "allow_shrink", "allow_field_loss", "accept_price_jumps")
MAX_CONF_BYTES = 16_384


def _conf_problem(conf: dict[str, Any]) -> str | None:
    """Airflow validates the declared params but lets any other key through; a run with a typo is refused here."""
    unknown = sorted(set(conf) - set(MODEL_SYNC_CONF_KEYS))
    if unknown:
        return f"unknown conf key(s) {unknown}; a model sync accepts only {list(MODEL_SYNC_CONF_KEYS)}"
    try:
        size = len(json.dumps(conf))
    except (TypeError, ValueError, RecursionError):
        return "the run conf is not plain JSON"
    if size > MAX_CONF_BYTES:
        return f"the run conf is {size} bytes; at most {MAX_CONF_BYTES} are accepted"
    return None


def requested_providers(params: dict[str, Any]) -> list[str]:
    """The providers a run's params name, in order, once each; [] (or a cleared form's None) means all of them."""
    from ..sources.registry import GATEWAY_REGISTRY

    requested = list(dict.fromkeys(params.get("providers") or []))
    unknown = [slug for slug in requested if slug not in GATEWAY_REGISTRY]
    if unknown:
        raise ValueError(f"unknown provider(s) {unknown}; known: {', '.join(sorted(GATEWAY_REGISTRY))}")
    return requested


def list_provider_slugs() -> list[str]:
    """The providers this run fetches: conf `providers` if given, else every active, enabled provider, less those
    known to skip (`sync_plan`), whose `skipped` rows this records in one statement and whose reasons it pushes as
    the XCom `skipped`. Only the returned providers become `sync_provider` task instances.

    A conf with unknown keys fails the run before any provider is fetched, and leaves a failed model_sync_runs row.
    The schema is migrated first: on a new deployment the model sync may run (its cron fires on unpause) before
    the provider sync ever has, and it then finds no providers instead of failing on missing tables.
    """
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from ..store.providers import catalog_skip_reasons, syncable_slugs
    from ..store.runs import RunInfo, RunOutcome, last_sync_seconds, record_dag_run, record_skipped_runs
    from ..sync_plan import SKIPPED_XCOM_KEY, plan_sync

    context = get_current_context()
    params, dag_run, ti = context["params"], context["dag_run"], context["ti"]
    migrate_catalog()
    problem = _conf_problem(dict(dag_run.conf or {}))
    connection = catalog_connector()()
    try:
        if problem:
            record_dag_run(connection, dag_run.dag_id, dag_run.run_id, RunOutcome(), dry_run=False, error=problem)
            raise AirflowFailException(f"Model sync refused: {problem}")
        slugs = requested_providers(params)
        if slugs:
            log.info("Syncing the providers named in the run conf: %s", ", ".join(slugs))
        else:
            slugs = syncable_slugs(connection)
            if not slugs:
                log.warning("No active providers in the catalog; has gatewayz_sync_providers run?")
        plan = plan_sync(slugs, catalog_skip_reasons(connection, slugs), provider_connection, os.environ,
                         last_seconds=last_sync_seconds(connection, slugs))
        record_skipped_runs(connection, RunInfo.of_task(ti), plan.skipped)
    finally:
        connection.close()
    ti.xcom_push(key=SKIPPED_XCOM_KEY, value=plan.skipped)
    for slug, reason in plan.skipped.items():
        log.info("%s skipped: %s", slug, reason)
    log.info("Syncing %d providers: %s", len(plan.fetch), ", ".join(plan.fetch))
    return plan.fetch


def planned_skips(ti) -> dict[str, str]:
    """The providers `list_providers` recorded as skipped in this run (none if it did not finish)."""
    from ..sync_plan import SKIPPED_XCOM_KEY

    return dict(ti.xcom_pull(task_ids="list_providers", key=SKIPPED_XCOM_KEY) or {})


def provider_connection(provider):
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(provider.connection_id)
    except AirflowNotFoundException:
        return None


def _mask_key(provider, connection) -> None:
    """Tell Airflow's secret masker every form of the provider's key, so no task log line can show it (an env-var
    key is not masked by Airflow on its own)."""
    from airflow.sdk.log import mask_secret

    from ..sources.endpoints import configured_key
    from ..sources.redaction import key_forms

    key = configured_key(provider, connection, os.environ)
    for form in key_forms(key) if key else ():
        mask_secret(form)


def sync_provider(slug: str) -> dict[str, Any]:
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from ..errors import ProviderSkipped, ProviderSyncError
    from ..model_sync import sync_provider_models
    from ..sources.registry import get_provider
    from ..store.listing import LoadOptions
    from ..store.runs import RunInfo

    context = get_current_context()
    context["slug_label"] = slug
    params = context["params"]
    provider = get_provider(slug)
    airflow_connection = provider_connection(provider)
    _mask_key(provider, airflow_connection)
    ti = context["ti"]
    settings = SyncSettings.from_env()
    run = RunInfo.of_task(ti)
    options = LoadOptions.from_settings(
        settings, allow_shrink=bool(params.get("allow_shrink")), dry_run=bool(params.get("dry_run")),
        allow_field_loss=bool(params.get("allow_field_loss")),
        accept_price_jumps=bool(params.get("accept_price_jumps")),
    )
    try:
        summary = sync_provider_models(
            provider,
            catalog_connector(),
            run,
            options,
            connection_for=lambda _provider: airflow_connection,
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
        states = _run_task_states(ti, ["sync_provider"])
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
    stuck = [("sync_provider", _map_index(key)) for key in waiting]
    log.error("Skipping %d provider tasks that never started so the run ends now", len(stuck))
    raise DownstreamTasksSkipped(tasks=stuck)


def _run_task_states(ti, task_ids: list[str]) -> dict[str, str]:
    """These tasks' states in this run; Airflow keys mapped instances `<task id>_<map index>`."""
    return ti.get_task_states(dag_id=ti.dag_id, task_ids=task_ids, run_ids=[ti.run_id]).get(ti.run_id, {})


def _map_index(key: str) -> int:
    return int(key.rsplit("_", 1)[1])


def task_states(ti) -> dict[str, str]:
    """This run's list and provider task states, or none when Airflow cannot say."""
    try:
        return _run_task_states(ti, ["list_providers", "sync_provider"])
    except Exception as exc:
        log.warning("could not read this run's task states (%s); relying on sync_runs", exc)
        return {}


def provider_task_states(by_key: dict[str, str], slugs: list[str]) -> dict[str, str]:
    states = {}
    for index, slug in enumerate(slugs):
        state = by_key.get(f"sync_provider_{index}") or by_key.get("sync_provider")
        if state:
            states[slug] = state
    return states


def finalize_model_sync(slugs: list[str] | None) -> dict[str, Any]:
    """Summarize the run from sync_runs and the mapped task states (`slugs`: the providers fetched, by map index;
    those that skipped without a task come from `list_providers`); fail the run if any provider failed, or if the
    providers could not even be listed (a run that synced nothing is never reported as a success)."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from ..store.runs import RunOutcome, record_dag_run, run_outcome

    context = get_current_context()
    ti = context["ti"]
    dry_run = bool(context["params"].get("dry_run"))
    states = task_states(ti)
    listed = states.get("list_providers")
    pool_wait = ti.xcom_pull(task_ids="watch_http_pool", key=POOL_WAIT_XCOM_KEY) if ConcurrencySettings.from_env().pool else None
    connection = catalog_connector()()
    try:
        if slugs is None or listed not in (None, "success"):
            reason = f"list_providers ended {listed or 'without a result'}, so no provider was synced; see its log"
            record_dag_run(connection, ti.dag_id, ti.run_id, RunOutcome(), dry_run, error=reason, replace=False)
            raise AirflowFailException(f"Model sync failed: {reason}")
        provider_states = provider_task_states(states, slugs)
        outcome = run_outcome(connection, ti.run_id, [*slugs, *planned_skips(ti)], provider_states)
        if pool_wait:
            for slug in slugs:
                if provider_states.get(slug) == "skipped" and outcome.statuses.get(slug) == "failed":
                    outcome.errors[slug] = pool_wait["message"]
        record_dag_run(connection, ti.dag_id, ti.run_id, outcome, dry_run=dry_run)
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
