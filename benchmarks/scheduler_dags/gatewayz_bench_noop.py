"""The scheduler benchmark's floor: the model sync's shape with no work in it (one list task, `width` mapped
no-op tasks, then the two closing tasks the model sync has, `notify` and the final one), bounded like the model
sync's mapped task. It ships with the benchmark and is
deployed only by it, as a bundle of its own; it never belongs in dags/."""

import os
from datetime import datetime

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task

# The model sync's mapped-task bound (GATEWAYZ_MAX_ACTIVE_PROVIDERS, default 8), so both DAGs run as wide.
MAX_ACTIVE_PROVIDERS = int(os.environ.get("GATEWAYZ_MAX_ACTIVE_PROVIDERS", "8"))


@dag(
    dag_id="gatewayz_bench_noop",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["gatewayz", "benchmark"],
    params={"width": Param(30, type="integer", minimum=1, maximum=1024, description="How many mapped tasks.")},
)
def gatewayz_bench_noop():
    @task
    def list_items(**context) -> list[str]:
        return [f"item-{index:02d}" for index in range(context["params"]["width"])]

    @task(max_active_tis_per_dagrun=MAX_ACTIVE_PROVIDERS, map_index_template="{{ item_label }}",
          multiple_outputs=False)
    def no_op(item: str) -> dict:
        get_current_context()["item_label"] = item
        return {"item": item}

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0, multiple_outputs=False)
    def notify(items: list[str]) -> dict:
        return {"alerts": 0}

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0, multiple_outputs=False)
    def finish(items: list[str]) -> dict:
        return {"items": len(items)}

    items = list_items()
    mapped = no_op.expand(item=items)
    final = finish(items)
    mapped >> notify(items) >> final
    mapped >> final


gatewayz_bench_noop()
