"""Model sync: every provider's model list, fetched and loaded one mapped task per provider."""

from datetime import datetime, timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, TriggerRule, dag, task

from include.gatewayz_sync import tasks
from include.gatewayz_sync.assets import MODELS_ASSET, PROVIDERS_ASSET
from include.gatewayz_sync.config import ConcurrencySettings, TaskRetrySettings, model_sync_cron
from include.gatewayz_sync.notify.deadline import model_sync_deadline
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY

CONCURRENCY = ConcurrencySettings.from_env()


@dag(
    dag_id="gatewayz_sync_models",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(model_sync_cron(), timezone="UTC"), assets=[PROVIDERS_ASSET]
    ),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["gatewayz", "catalog", "models"],
    default_args=TaskRetrySettings.from_env().default_args(),
    deadline=model_sync_deadline(),
    params={
        "providers": Param(
            [],
            type="array",
            items={"type": "string", "enum": sorted(GATEWAY_REGISTRY)},
            uniqueItems=True,
            description="Provider slugs to sync; empty means every active, enabled provider.",
        ),
        "dry_run": Param(False, type="boolean", description="Fetch and diff, but write only a dry_run sync_runs row."),
        "allow_shrink": Param(
            False,
            type="boolean",
            description="Deactivate models even when a listing holds fewer than MODEL_SHRINK_GUARD_RATIO "
            "(default 70%) of the provider's active models.",
        ),
    },
    doc_md="""
    Fetches every provider's model list (one mapped task per provider, at most `GATEWAYZ_MAX_ACTIVE_PROVIDERS`
    at once, in the pool `GATEWAYZ_HTTP_POOL` only if one is named), normalizes prices to exact USD per 1M
    tokens and loads each provider in one transaction. The final task fails the run when any provider failed,
    or when no provider task could enter the named pool. Conf: `{"providers": ["openai"], "dry_run": true}`.
    `notify` tells the `gatewayz_alerts` connection about failures and changes (best-effort; it runs before
    `finalize` so that `finalize` alone decides the run's state); a run unfinished MODEL_SYNC_DEADLINE_MINUTES
    after it was queued raises a Deadline Alert.
    """,
)
def gatewayz_sync_models():
    @task
    def list_providers() -> list[str]:
        return tasks.list_provider_slugs()

    @task(
        pool=CONCURRENCY.task_pool,
        max_active_tis_per_dagrun=CONCURRENCY.max_active_providers,
        map_index_template="{{ slug_label }}",
        multiple_outputs=False,
    )
    def sync_provider(slug: str) -> dict:
        return tasks.sync_provider(slug)

    @task(retries=0, multiple_outputs=False)
    def watch_http_pool(slugs: list[str]) -> dict:
        return tasks.watch_http_pool(slugs)

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0, multiple_outputs=False, outlets=[MODELS_ASSET])
    def finalize(slugs: list[str]) -> dict:
        return tasks.finalize_model_sync(slugs)

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0, execution_timeout=timedelta(minutes=10),
          multiple_outputs=False)
    def notify(slugs: list[str]) -> dict:
        return tasks.notify_model_sync(slugs)

    slugs = list_providers()
    synced = [sync_provider.expand(slug=slugs)]
    if CONCURRENCY.pool:
        synced.append(watch_http_pool(slugs))
    alerts = notify(slugs)
    final = finalize(slugs)
    synced >> alerts >> final
    synced >> final


gatewayz_sync_models()
