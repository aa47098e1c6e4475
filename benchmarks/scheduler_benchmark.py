"""`make bench-scheduler`: the model sync through the real scheduler, against a no-op DAG of the same shape.

For each executor (LocalExecutor, then CeleryExecutor with two workers): a fresh catalog database and a fresh
deployment (`deployment.py`), the synthetic catalog served by the replay server, and REST-triggered runs in
this order: no-op warm-up (not counted), then no-op / cold, no-op / unchanged, no-op / churn. The floor is the
median of the three counted no-op runs. Per run: wall time from the trigger to success, its ratio to the
floor, the slowest mapped task, the queued-to-running delays (task-instance timestamps), the peak RSS of the
largest provider's task process, rows written and model_changes.
"""

from __future__ import annotations

import contextlib
import secrets
import statistics
import time
from datetime import datetime
from pathlib import Path

from benchmarks.deployment import Deployment
from benchmarks.measure import (
    PG_DSN,
    RESULTS,
    catalog_connection,
    create_database,
    drop_database,
    load_average,
    mapped_width,
    prepare_catalog,
    row_versions,
    rows_written,
    run_summary,
)
from benchmarks.profile import Profiler
from benchmarks.replay_process import ReplayProcess
from benchmarks.task_memory import TaskMemoryWatcher

MODEL_DAG, NOOP_DAG = "gatewayz_sync_models", "gatewayz_bench_noop"
MAPPED = {MODEL_DAG: "sync_provider", NOOP_DAG: "no_op"}
SYNC_CONF = {"providers": [], "dry_run": False, "allow_shrink": False}


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _spread(values: list[float]) -> dict:
    if not values:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def task_instance_timings(tis: list[dict], mapped_task: str, watcher: TaskMemoryWatcher) -> dict:
    """What the task-instance rows say: scheduler delays, the slowest mapped task, the largest task process."""
    queued_to_running, scheduled_to_queued, mapped = [], [], []
    for ti in tis:
        scheduled, queued, started, ended = (_at(ti.get(k)) for k in ("scheduled_when", "queued_when", "start_date",
                                                                        "end_date"))
        if queued and started:
            queued_to_running.append((started - queued).total_seconds())
        if scheduled and queued:
            scheduled_to_queued.append((queued - scheduled).total_seconds())
        if ti["task_id"] == mapped_task and started and ended:
            mapped.append(((ended - started).total_seconds(), ti))
    slowest_seconds, slowest = max(mapped, key=lambda item: item[0], default=(None, {}))
    peaks = [(watcher.peak(ti["id"]), ti) for ti in tis if watcher.peak(ti["id"])]
    largest_rss, largest_ti = max(peaks, key=lambda item: item[0], default=(None, {}))
    return {
        "task_instances": len(tis),
        "states": sorted({ti["state"] for ti in tis}),
        "queued_to_running_seconds": _spread(queued_to_running),
        "scheduled_to_queued_seconds": _spread(scheduled_to_queued),
        "mapped_task_seconds": _spread([seconds for seconds, _ in mapped]),
        "slowest_mapped_task": {"label": slowest.get("rendered_map_index"), "seconds": slowest_seconds and round(
            slowest_seconds, 3)},
        "largest_task_process": {"label": largest_ti.get("rendered_map_index") or largest_ti.get("task_id"),
                                 "peak_rss_bytes": largest_rss},
        "task_processes_sampled": len(peaks),
        "timeline": timeline(tis, mapped_task),
    }


def timeline(tis: list[dict], mapped_task: str) -> dict:
    """Each task's [start, end] in seconds after the run's first task started, the mapped task's instances as one
    span (first start, last end): where a run's time goes before, between and after its providers."""
    spans: dict[str, list[datetime]] = {}
    for ti in tis:
        started, ended = _at(ti.get("start_date")), _at(ti.get("end_date"))
        if started is None or ended is None:
            continue
        span = spans.setdefault(ti["task_id"], [started, ended])
        span[0], span[1] = min(span[0], started), max(span[1], ended)
    if not spans:
        return {}
    first = min(start for start, _ in spans.values())
    ordered = sorted(spans.items(), key=lambda item: item[1][0])
    return {("mapped" if task_id == mapped_task else task_id): [round((start - first).total_seconds(), 2),
                                                                round((end - first).total_seconds(), 2)]
            for task_id, (start, end) in ordered}


def _long_pole(largest: dict, tis: list[dict], sync_run: dict | None) -> dict:
    """When the largest provider's task started and ended after the run's first task started, its map index, and
    its sync's own phases (`sync_runs` timings): what the run's tail is made of."""
    starts = [_at(ti.get("start_date")) for ti in tis if ti.get("start_date")]
    started, ended = _at(largest.get("start_date")), _at(largest.get("end_date"))
    if not starts or started is None or ended is None:
        return {}
    first = min(starts)
    timings = ((sync_run or {}).get("details") or {}).get("timings", {})
    return {"map_index": largest.get("map_index"), "started_after_seconds": round((started - first).total_seconds(), 2),
            "ended_after_seconds": round((ended - first).total_seconds(), 2), "sync_timings": timings}


def run_once(deployment: Deployment, watcher: TaskMemoryWatcher, dag_id: str, conf: dict,
             profile_to: Path | None = None) -> dict:
    load = load_average()
    profiler = Profiler(deployment.root_pids(), profile_to) if profile_to else contextlib.nullcontext()
    with profiler:
        started = time.perf_counter()
        run_id = deployment.trigger(dag_id, conf)
        run = deployment.wait(dag_id, run_id)
        wall = time.perf_counter() - started
    queued, ended = _at(run.get("queued_at")), _at(run.get("end_date"))
    timings = task_instance_timings(deployment.task_instances(dag_id, run_id), MAPPED[dag_id], watcher)
    print(f"  {dag_id} {run['state']} in {wall:.1f} s (load {load[0]})", flush=True)
    result = {"run_id": run_id, "state": run["state"], "wall_seconds": round(wall, 2),
              "server_seconds": round((ended - queued).total_seconds(), 2) if queued and ended else None,
              "load_average_before": load, **timings}
    if profile_to:
        result["profile"] = {"py_spy_raw": str(profile_to), **profiler.summary()}
    return result


def _settle_first_scheduled_run(deployment: Deployment, connection) -> dict | None:
    """Unpausing a DAG whose cron has past ticks starts a run at once; let it find no provider and finish."""
    connection.execute("UPDATE providers SET disabled_by_operator = true")
    try:
        deployment.unpause(NOOP_DAG)
        deployment.unpause(MODEL_DAG)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            runs = deployment.runs(MODEL_DAG)
            if runs and all(run["state"] in ("success", "failed") for run in runs):
                return {"run_type": runs[0]["run_type"], "state": runs[0]["state"]}
            time.sleep(2)
        raise TimeoutError("the model sync's first scheduled run did not finish within 600 s")
    finally:
        connection.execute("UPDATE providers SET disabled_by_operator = false")


def bench_executor(executor: str, workdir: Path, catalogs: Path, churned: Path, sync_env: dict,
                   profile: bool = False) -> dict:
    from benchmarks.catalog import LARGEST
    from include.gatewayz_sync.dev.local import catalog_connection_json

    database = f"gatewayz_bench_sched_{secrets.token_hex(3)}"
    create_database(database)
    prepare_catalog(database)
    connection = catalog_connection(database)
    replay = ReplayProcess(catalogs)
    env = {**sync_env, "AIRFLOW_CONN_GATEWAYZ_DB": catalog_connection_json(PG_DSN, database),
           "GATEWAYZ_BASE_URL_OVERRIDE": f"{replay.url}/{{slug}}"}
    started = time.perf_counter()
    deployment = Deployment(workdir / executor, executor, env)
    watcher = None
    try:
        deployment.start()
        ready_seconds = time.perf_counter() - started
        print(f"{executor}: deployment ready in {ready_seconds:.0f} s", flush=True)
        watcher = TaskMemoryWatcher(deployment.session_ids())
        watcher.start()
        first_scheduled = _settle_first_scheduled_run(deployment, connection)
        width = mapped_width(connection, sync_env)
        noop_conf = {"width": width}
        warm_up = run_once(deployment, watcher, NOOP_DAG, noop_conf)
        noop, runs = [], {}
        profiles = RESULTS.parent / "profiles" / executor
        for name in ("cold", "unchanged", "churn"):
            noop.append(run_once(deployment, watcher, NOOP_DAG, noop_conf,
                                 profiles / f"noop-before-{name}" if profile else None))
            if name == "churn":
                replay = replay.swap(churned)
            before = row_versions(connection)
            run = run_once(deployment, watcher, MODEL_DAG, SYNC_CONF, profiles / name if profile else None)
            summary = run_summary(connection, run["run_id"])
            tis = deployment.task_instances(MODEL_DAG, run["run_id"])
            largest = next((ti for ti in tis if ti.get("rendered_map_index") == LARGEST), {})
            run.update(providers=summary["statuses"], rows=summary["totals"],
                       model_rows_written=rows_written(before, row_versions(connection)),
                       model_changes=summary["model_changes"],
                       largest_provider={"slug": LARGEST, "seconds": largest.get("duration"),
                                         "peak_rss_bytes": watcher.peak(largest["id"]) if largest else None,
                                         **_long_pole(largest, tis, summary["providers"].get(LARGEST))})
            runs[name] = run
        floor = statistics.median(run["wall_seconds"] for run in noop)
        for run in runs.values():
            run["ratio_to_noop_floor"] = round(run["wall_seconds"] / floor, 2)
        return {
            "executor": executor,
            "workers": deployment.workers,
            "worker_concurrency": deployment.concurrency if deployment.workers else None,
            "mapped_tasks": width,
            "deployment_ready_seconds": round(ready_seconds, 1),
            "profiled": profile,
            "first_scheduled_run": first_scheduled,
            "noop_warm_up": warm_up,
            "noop_runs": noop,
            "noop_floor_seconds": round(floor, 2),
            "runs": runs,
            "targets": {"cold_le_1_3x_noop": runs["cold"]["ratio_to_noop_floor"] <= 1.3,
                        "unchanged_le_1_1x_noop": runs["unchanged"]["ratio_to_noop_floor"] <= 1.1,
                        "unchanged_writes_0_rows": runs["unchanged"]["model_rows_written"] == 0},
        }
    finally:
        if watcher is not None:
            watcher.stop()
        deployment.stop()
        replay.stop()
        connection.close()
        drop_database(database)
