"""Provider sync: make the catalog's providers match the code registry. Run on every deploy."""

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from include.gatewayz_sync import tasks
from include.gatewayz_sync.assets import PROVIDERS_ASSET
from include.gatewayz_sync.config import TaskRetrySettings


@dag(
    dag_id="gatewayz_sync_providers",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["gatewayz", "catalog", "providers"],
    default_args=TaskRetrySettings.from_env().default_args(),
    doc_md="""
    Migrates the catalog schema, upserts every provider of `GATEWAY_REGISTRY`, deactivates providers that
    left the registry (and their models) and never re-enables one an operator disabled. Trigger it on
    deploy: `airflow dags trigger gatewayz_sync_providers`. Its asset update starts a model sync.
    `notify` tells the `gatewayz_alerts` connection which providers were deactivated (best-effort; a failed send is
    recorded for /health and logged, and does not fail this run).
    """,
)
def gatewayz_sync_providers():
    @task
    def migrate_schema() -> str:
        return tasks.migrate_catalog()

    @task(outlets=[PROVIDERS_ASSET], multiple_outputs=False)
    def upsert_providers() -> dict:
        return tasks.sync_providers()

    @task(retries=0, execution_timeout=timedelta(minutes=10), multiple_outputs=False)
    def notify(summary: dict) -> dict:
        return tasks.notify_provider_sync(summary)

    upserted = upsert_providers()
    migrate_schema() >> upserted
    notify(upserted)


gatewayz_sync_providers()
