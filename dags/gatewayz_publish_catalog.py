"""Catalog publish: the catalog in the formats other tools read, written through Airflow's object storage."""

from datetime import datetime, timedelta

from airflow.sdk import AssetAny, TriggerRule, dag, task

from include.gatewayz_sync import tasks
from include.gatewayz_sync.assets import MODELS_ASSET, PRICES_ASSET, published_assets
from include.gatewayz_sync.config import PublishSettings, TaskRetrySettings

PUBLISHED = published_assets(PublishSettings.from_env().base_url)


@dag(
    dag_id="gatewayz_publish_catalog",
    schedule=AssetAny(MODELS_ASSET, PRICES_ASSET),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["gatewayz", "catalog", "publish"],
    default_args=TaskRetrySettings.from_env().default_args(),
    doc_md="""
    Publishes the catalog under `GATEWAYZ_PUBLISH_URL` (`file://`, `s3://`, `gs://`, ... through
    `ObjectStoragePath`; `GATEWAYZ_PUBLISH_CONN_ID` for a remote store): LiteLLM's cost map
    (`model_prices_and_context_window.json`), an OpenRouter-style `models.json`, `catalog.json` with every
    meter and each field's source, `price-history.jsonl`, and `manifest.json`. Runs after every model sync and
    price run (assets `gatewayz_models`, `gatewayz_prices`) and on demand. A new version is written only when
    the content hash changed (`versions/<version>/` first, then the stable copies, then the manifest); the
    newest `GATEWAYZ_PUBLISH_KEEP_VERSIONS` are kept. A model failing a billing check is left out of the
    LiteLLM map and the OpenRouter list and named in the manifest. A failed publish alerts like a failed sync
    and shows on /health; `finalize` updates one asset per published file, with its counts in the extra.
    """,
)
def gatewayz_publish_catalog():
    @task(multiple_outputs=False)
    def publish() -> dict:
        return tasks.publish_catalog()

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0, execution_timeout=timedelta(minutes=10),
          multiple_outputs=False)
    def notify(summary: dict | None) -> dict:
        return tasks.notify_publish(summary)

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0, multiple_outputs=False, outlets=list(PUBLISHED.values()))
    def finalize(summary: dict | None) -> dict:
        return tasks.finalize_publish(summary)

    summary = publish()
    notify(summary) >> finalize(summary)


gatewayz_publish_catalog()
