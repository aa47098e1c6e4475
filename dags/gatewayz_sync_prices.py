"""Reference prices: every reference source refreshed (one mapped task each), then every model's price resolved."""

from datetime import datetime

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, TriggerRule, dag, task

from include.gatewayz_sync import tasks
from include.gatewayz_sync.assets import MODELS_ASSET, PRICES_ASSET
from include.gatewayz_sync.config import TaskRetrySettings


@dag(
    dag_id="gatewayz_sync_prices",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * *", timezone="UTC"), assets=[MODELS_ASSET]
    ),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["gatewayz", "catalog", "prices"],
    default_args=TaskRetrySettings.from_env().default_args(),
    doc_md="""
    Refreshes each reference price source (genai-prices, models.dev, LiteLLM, fetched like a provider's list;
    OpenRouter's listing, read from the catalog; one mapped task each) into `model_price_candidates`, then
    stores every active model's prices, every meter and tier as a row of `model_prices`, by precedence
    (operator > list API > reference), the 10x unit-error and sibling guards, recency and agreement. Runs after
    each model sync and daily. A source that cannot be read fails its own task and the run; the others still
    apply. A successful `resolve_prices` updates the asset `gatewayz_prices`, which starts the catalog publish.
    """,
)
def gatewayz_sync_prices():
    @task
    def list_sources() -> list[str]:
        return tasks.list_reference_sources()

    @task(map_index_template="{{ slug_label }}", max_active_tis_per_dagrun=3, multiple_outputs=False)
    def refresh_source(slug: str) -> dict:
        return tasks.refresh_reference_source(slug)

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0, multiple_outputs=False, outlets=[PRICES_ASSET])
    def resolve_prices(slugs: list[str]) -> dict:
        return tasks.resolve_reference_prices(slugs)

    slugs = list_sources()
    refresh_source.expand(slug=slugs) >> resolve_prices(slugs)


gatewayz_sync_prices()
