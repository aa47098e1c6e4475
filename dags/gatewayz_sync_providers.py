"""Provider sync: make the catalog's providers match the code registry. Run on every deploy."""

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from include.gatewayz_sync import tasks
from include.gatewayz_sync.assets import PROVIDERS_ASSET
from include.gatewayz_sync.config import TaskRetrySettings

RETRY = TaskRetrySettings.from_env()


@dag(
    dag_id="gatewayz_sync_providers",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["gatewayz", "catalog", "providers"],
    default_args={
        "owner": "gatewayz",
        "retries": RETRY.retries,
        "retry_delay": timedelta(seconds=RETRY.retry_delay_seconds),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(seconds=RETRY.max_retry_delay_seconds),
    },
    doc_md="""
    Migrates the catalog schema, upserts every provider of `GATEWAY_REGISTRY`, deactivates providers that
    left the registry (and their models) and never re-enables one an operator disabled. Trigger it on
    deploy: `airflow dags trigger gatewayz_sync_providers`. Its asset update starts a model sync.
    """,
)
def gatewayz_sync_providers():
    @task
    def migrate_schema() -> str:
        return tasks.migrate_catalog()

    @task(outlets=[PROVIDERS_ASSET])
    def upsert_providers() -> dict:
        return tasks.sync_providers()

    migrate_schema() >> upsert_providers()


gatewayz_sync_providers()
