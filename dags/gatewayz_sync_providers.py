"""Provider sync: make the catalog's providers match the code registry. Run on every deploy."""

from datetime import datetime

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
    """,
)
def gatewayz_sync_providers():
    @task
    def migrate_schema() -> str:
        return tasks.migrate_catalog()

    @task(outlets=[PROVIDERS_ASSET], multiple_outputs=False)
    def upsert_providers() -> dict:
        return tasks.sync_providers()

    migrate_schema() >> upsert_providers()


gatewayz_sync_providers()
