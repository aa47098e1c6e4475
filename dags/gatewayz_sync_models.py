"""Model sync: every provider's model list, fetched and loaded one mapped task per provider."""

from datetime import datetime, timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, TriggerRule, dag, task

from include.gatewayz_sync import tasks
from include.gatewayz_sync.assets import MODELS_ASSET, PROVIDERS_ASSET
from include.gatewayz_sync.config import ConcurrencySettings, TaskRetrySettings, model_sync_cron
from include.gatewayz_sync.notify.deadline import model_sync_deadline
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY, provider_names

CONCURRENCY = ConcurrencySettings.from_env()
PROVIDER_NAMES = provider_names()


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
            type=["array", "null"],
            items={"type": "string", "enum": sorted(GATEWAY_REGISTRY)},
            uniqueItems=True,
            examples=list(PROVIDER_NAMES),
            values_display=PROVIDER_NAMES,
            title="Providers",
            description="The providers to sync. Leave it empty to sync every active provider that an operator has "
            "not disabled. A provider without a model-list API or without credentials is recorded as skipped.",
        ),
        "dry_run": Param(
            False,
            type=["boolean", "null"],
            title="Dry run",
            description="Fetch, normalize and compare with the catalog, then roll back: models, model changes and "
            "providers stay as they are. Only the run's own records are written: sync_runs rows (status dry_run for "
            "each listing compared) and the run's model_sync_runs row.",
        ),
        "allow_shrink": Param(
            False,
            type=["boolean", "null"],
            title="Allow shrink",
            description="Load a listing even when it is empty or holds fewer than MODEL_SHRINK_GUARD_RATIO (default "
            "70%) of the provider's active models; without it such a listing fails the provider and leaves its models "
            "untouched. Each model missing from a loaded listing counts a miss and is deactivated after "
            "MODEL_MISS_THRESHOLD (default 2) misses in a row, so removing them takes that many runs with this on.",
        ),
        "allow_field_loss": Param(
            False,
            type=["boolean", "null"],
            title="Allow field loss",
            description="Load a listing even when it takes a field (a price, the context length, max output, "
            "modalities, a capability) away from more than MODEL_FIELD_LOSS_GUARD_RATIO (default 30%) of the "
            "provider's listed models that had it, and from at least MODEL_FIELD_LOSS_GUARD_MIN_MODELS (default 5); "
            "without it such a listing fails the provider and writes nothing. Checked with allow_shrink too.",
        ),
        "accept_price_jumps": Param(
            False,
            type=["boolean", "null"],
            title="Accept price jumps",
            description="Store list-API prices that moved 10x or more from the stored ones. Without it such a price "
            "is held: the stored price stays and the new value waits as a disputed list_api candidate (see /prices) "
            "until a run with this on, or an operator_prices row, accepts it.",
        ),
    },
    doc_md="""
    Fetches every provider's model list (one mapped task per provider, at most `GATEWAYZ_MAX_ACTIVE_PROVIDERS`
    at once, in the pool `GATEWAYZ_HTTP_POOL` only if one is named), normalizes prices to exact USD per 1M
    tokens and loads each provider in one transaction. A provider known to skip (no list API, no credentials,
    disabled by an operator) gets no task: `list_providers` records it as skipped, with the reason.
    The final task fails the run when any provider failed, or when no provider task could enter the named pool.
    Conf: `{"providers": ["openai"], "dry_run": true}`.
    `notify` tells the `gatewayz_alerts` connection about failures and changes (best-effort: it never changes a
    sync's outcome, but fails itself, and shows on /health, when alerting fails; it runs before `finalize` so
    that `finalize` alone decides the run's state); a run unfinished MODEL_SYNC_DEADLINE_MINUTES after it was
    queued raises a Deadline Alert.
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
