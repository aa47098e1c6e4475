"""`make bench`: full model syncs at real scale through `dag.test()`, measured against the machine's floor.

Builds the synthetic catalog (benchmarks/catalog.py), serves it from the replay server in its own process, and
syncs into a fresh catalog database on the local PostgreSQL: cold then unchanged, three times over an emptied
catalog, then churn; in the first repeat the reference-price DAG runs after cold and after unchanged (its cost,
and that an unchanged run rewrites nothing). Reports wall times, per-phase times of the largest provider, row counts, model_changes
rows, peak RSS, the floor (json.loads of the same payload + a raw COPY of the same normalized rows) and DAG
parse times into the `dag_test` section of benchmarks/results/latest.json.

After the first repeat's price run, the catalog publish runs to a folder (benchmarks/publish.py): first, unchanged,
and alone in a fresh process. `--publish` does only that, after one cold sync and price run (`make bench-publish`).

`--scheduler` runs the same catalog through real Airflow deployments instead (scheduler_benchmark.py);
`--scale-point` syncs one provider of 22,000 and of 100,000 models (scale_point.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.floor import dag_parse_times, isolated_sync, measure_floor, measure_write_floor
from benchmarks.measure import (
    PG_DSN,
    RESULTS,
    ROOT,
    RssSampler,
    catalog_connection,
    create_database,
    drop_database,
    high_water_rss,
    load_average,
    machine,
    mapped_width,
    row_versions,
    rows_written,
    run_summary,
    write_results,
)
from benchmarks.prices import price_run
from benchmarks.profile import Profiler
from benchmarks.publish import PUBLISH_DAG, publish_benchmark, publish_url
from benchmarks.replay_process import ReplayProcess

CATALOG_TABLES = "model_changes, sync_runs, models, model_sync_runs, providers"
SYNC_CONF = {"providers": [], "dry_run": False, "allow_shrink": False}


def provider_env() -> dict[str, str]:
    """Fake keys for every benchmark provider, task retries off: what both modes run the sync with."""
    from benchmarks.catalog import benchmark_providers

    env = {"GATEWAYZ_TASK_RETRIES": "0", "CLOUDFLARE_ACCOUNT_ID": "bench-account"}
    for provider in benchmark_providers().values():
        env[provider.api_key_env] = f"bench-key-{provider.slug}"
    return env


def configure_environment(workdir: Path, catalog_db: str) -> None:
    from benchmarks.deployment import bundle_config_list
    from include.gatewayz_sync.dev.local import DAGS_TEST_SETTINGS, airflow_home_settings, catalog_connection_json

    home = workdir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({**airflow_home_settings(home), **provider_env(), **DAGS_TEST_SETTINGS,
                       "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                       "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": bundle_config_list(),
                       "AIRFLOW_CONN_GATEWAYZ_DB": catalog_connection_json(PG_DSN, catalog_db),
                       # read when the publish DAG is parsed (its outlets) and when it runs
                       "GATEWAYZ_PUBLISH_URL": publish_url(workdir)})
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())


def build_catalogs(workdir: Path) -> tuple[dict, dict]:
    from benchmarks import catalog as synthetic

    started = time.perf_counter()
    built = synthetic.build(workdir / "catalog")
    expected_churn = synthetic.churn(workdir / "catalog", workdir / "catalog-churn")
    largest = built[synthetic.LARGEST]
    print(f"synthetic catalog: {len(built)} providers, {sum(e['models'] for e in built.values())} models, largest "
          f"{synthetic.LARGEST} {largest['models']} models in {largest['bytes'] / 2**20:.1f} MB "
          f"({time.perf_counter() - started:.1f} s to build)", flush=True)
    return built, expected_churn


def sync_run(name: str, dag, connection, sampler: RssSampler, profile_to: Path | None = None) -> dict:
    from benchmarks.catalog import LARGEST

    before, load = row_versions(connection), load_average()
    profiler = Profiler({"dag_test": os.getpid()}, profile_to, rate=200) if profile_to else contextlib.nullcontext()
    with profiler:
        started = time.perf_counter()
        dag_run = dag.test(run_conf=SYNC_CONF)
        wall = time.perf_counter() - started
    written = rows_written(before, row_versions(connection))
    summary = run_summary(connection, dag_run.run_id)
    largest = summary["providers"][LARGEST]
    timings = largest["details"]["timings"]
    print(f"run {name}: {dag_run.state} in {wall:.1f} s (load {load[0]}); {summary['totals']}; "
          f"{written} model rows written; {summary['model_changes']} model_changes", flush=True)
    profile = {"profile": {"py_spy_raw": str(profile_to), **profiler.summary()}} if profile_to else {}
    return {
        **profile,
        "state": dag_run.state, "wall_seconds": round(wall, 2), "load_average_before": load,
        "providers": summary["statuses"], "rows": summary["totals"], "model_rows_written": written,
        "model_changes": summary["model_changes"],
        "largest_provider": {"slug": LARGEST, **{key: timings.get(key) for key in (
            "fetch_seconds", "parse_seconds", "normalize_seconds", "load_seconds")},
            "task_peak_rss_bytes": sampler.peak_between(*largest["window"])},
    }


def noop_floor(width: int, repeats: int = 3) -> dict:
    """The no-op DAG of the model sync's shape through dag.test: Airflow's own cost for as many task instances."""
    from airflow.dag_processing.dagbag import DagBag

    from benchmarks.deployment import BENCH_DAGS

    noop = DagBag(dag_folder=str(BENCH_DAGS)).dags["gatewayz_bench_noop"]
    walls = []
    for _ in range(repeats):
        started = time.perf_counter()
        assert noop.test(run_conf={"width": width}).state == "success"
        walls.append(round(time.perf_counter() - started, 2))
    print(f"no-op DAG of the same shape ({width} mapped tasks) through dag.test: {walls} s", flush=True)
    return {"mapped_tasks": width, "runs_seconds": walls, "median_seconds": statistics.median(walls)}


@dataclass
class DagTestBench:
    """A synthetic catalog served on loopback, a scratch catalog database, the DAGs parsed against the benchmark's
    providers, and the RSS sampler: what every dag.test mode starts from."""

    workdir: Path
    database: str
    built: dict
    expected_churn: dict
    dags: dict
    replay: ReplayProcess
    sampler: RssSampler
    connection: object

    @classmethod
    def start(cls, prefix: str) -> DagTestBench:
        from types import MappingProxyType

        from benchmarks import catalog as synthetic

        workdir = Path(tempfile.mkdtemp(prefix=prefix))
        database = f"gatewayz_bench_{secrets.token_hex(3)}"
        create_database(database)
        configure_environment(workdir, database)
        built, expected_churn = build_catalogs(workdir)

        from include.gatewayz_sync.sources import registry

        registry.GATEWAY_REGISTRY = MappingProxyType(synthetic.benchmark_providers())
        from airflow.dag_processing.dagbag import DagBag

        dags = DagBag(dag_folder=str(ROOT / "dags")).dags
        replay = ReplayProcess(workdir / "catalog")
        os.environ["GATEWAYZ_BASE_URL_OVERRIDE"] = f"{replay.url}/{{slug}}"
        sampler = RssSampler()
        sampler.start()
        return cls(workdir, database, built, expected_churn, dags, replay, sampler, catalog_connection(database))


def dag_test_benchmark(repeats: int, keep: bool, profile: bool = False) -> dict:
    from benchmarks import catalog as synthetic

    bench = DagTestBench.start("gatewayz-bench-")
    workdir, database, built, expected_churn = bench.workdir, bench.database, bench.built, bench.expected_churn
    dags, replay, sampler, connection = bench.dags, bench.replay, bench.sampler, bench.connection
    pairs, runs, price_runs, publish = [], {}, {}, {}
    try:
        for repeat in range(repeats):
            if repeat:
                connection.execute(f"TRUNCATE {CATALOG_TABLES} RESTART IDENTITY CASCADE")
            assert dags["gatewayz_sync_providers"].test().state == "success"
            profiles = RESULTS.parent / "profiles" / "dag_test" / f"repeat-{repeat + 1}"
            runs = {}
            for name in ("cold", "unchanged"):
                runs[name] = sync_run(name, dags["gatewayz_sync_models"], connection, sampler,
                                      profiles / name if profile else None)
                if repeat == 0:
                    price_runs[name] = price_run(dags["gatewayz_sync_prices"], connection)
            if repeat == 0:
                publish = publish_benchmark(dags[PUBLISH_DAG], connection, sampler, database, workdir)
            pairs.append({"repeat": repeat + 1, "cold_seconds": runs["cold"]["wall_seconds"],
                          "unchanged_seconds": runs["unchanged"]["wall_seconds"],
                          "unchanged_share_of_cold": round(runs["unchanged"]["wall_seconds"]
                                                           / runs["cold"]["wall_seconds"], 3)})
        noop = noop_floor(mapped_width(connection, provider_env()))
        replay = replay.swap(workdir / "catalog-churn")
        runs["churn"] = sync_run("churn", dags["gatewayz_sync_models"], connection, sampler)
        sampler.running = False
        floor = measure_floor(workdir / "catalog", synthetic.LARGEST, database)
        write_floor = measure_write_floor(workdir / "catalog", synthetic.LARGEST)
        isolated = isolated_sync(synthetic.LARGEST, replay.url)
    finally:
        replay.stop()
        connection.close()
        if not keep:
            drop_database(database)

    for pair in pairs:
        pair["unchanged_above_noop_seconds"] = round(pair["unchanged_seconds"] - noop["median_seconds"], 2)
    cold = runs["cold"]["largest_provider"]
    data_path = sum(cold[key] for key in ("fetch_seconds", "parse_seconds", "normalize_seconds", "load_seconds"))
    expected = {"updated": sum(v["price_changed"] for v in expected_churn.values()),
                "inserted": sum(v["added"] for v in expected_churn.values()),
                "missed": sum(v["removed"] for v in expected_churn.values())}
    result = {
        "machine": machine(),
        "catalog": {"providers": len(built), "models": sum(e["models"] for e in built.values()),
                    "largest": synthetic.LARGEST, "largest_models": built[synthetic.LARGEST]["models"],
                    "largest_bytes": built[synthetic.LARGEST]["bytes"]},
        "repeats": pairs,
        "runs": runs,
        "price_runs": price_runs,
        "publish": publish,
        "churn_expected": expected,
        "churn_exact": all(runs["churn"]["rows"][key] == value for key, value in expected.items()),
        "floor": floor,
        "noop_floor": noop,
        "largest_data_path_seconds": round(data_path, 3),
        "largest_ratio_to_floor": round(data_path / floor["floor_seconds"], 2),
        "write_floor": write_floor,
        "largest_ratio_to_write_floor": round(data_path / write_floor["floor_seconds"], 2),
        "largest_task_in_isolation": isolated,
        "process_peak_rss_bytes": high_water_rss(),
        "dag_parse": dag_parse_times(),
    }
    result["targets"] = {
        "cold_full_sync_le_30s": runs["cold"]["wall_seconds"] <= 30,
        "unchanged_writes_0_rows": runs["unchanged"]["model_rows_written"] == 0,
        "unchanged_le_50pct_of_cold_every_repeat": all(p["unchanged_share_of_cold"] <= 0.5 for p in pairs),
        "largest_data_path_le_3x_floor": result["largest_ratio_to_floor"] <= 3,
        "largest_data_path_le_1_5x_floor": result["largest_ratio_to_floor"] <= 1.5,
        "largest_task_peak_rss_le_400mb": isolated["peak_rss_bytes"] <= 400 * 2**20,
        "largest_task_peak_rss_le_180mb": isolated["peak_rss_bytes"] <= 180 * 2**20,
        "dag_files_parse_le_0_3s": all(v["median_seconds"] <= 0.3 for v in result["dag_parse"].values()),
        "prices_unchanged_writes_0_rows": price_runs["unchanged"]["model_rows_written"] == 0
        and price_runs["unchanged"]["candidate_rows_written"] == 0,
        **publish["targets"],
    }
    return result


def publish_only_benchmark(keep: bool) -> dict:
    """One cold sync and price run of the synthetic catalog, then the publish benchmark alone."""
    bench = DagTestBench.start("gatewayz-bench-publish-")
    workdir, database, built = bench.workdir, bench.database, bench.built
    dags, replay, sampler, connection = bench.dags, bench.replay, bench.sampler, bench.connection
    try:
        assert dags["gatewayz_sync_providers"].test().state == "success"
        cold = sync_run("cold", dags["gatewayz_sync_models"], connection, sampler)
        prices = price_run(dags["gatewayz_sync_prices"], connection)
        publish = publish_benchmark(dags[PUBLISH_DAG], connection, sampler, database, workdir)
    finally:
        sampler.running = False
        replay.stop()
        connection.close()
        if not keep:
            drop_database(database)
    return {"machine": machine(), "catalog": {"providers": len(built), "models": sum(e["models"] for e in built.values())},
            "cold_sync_seconds": cold["wall_seconds"], "price_run_seconds": prices["wall_seconds"], **publish,
            "published_to": publish_url(workdir)}


def scheduler_benchmark(executors: list[str], profile: bool) -> dict:
    from benchmarks.scheduler_benchmark import bench_executor

    workdir = Path(tempfile.mkdtemp(prefix="gatewayz-bench-scheduler-"))
    built, expected_churn = build_catalogs(workdir)
    result = {"machine": machine(), "catalog": {"providers": len(built),
                                                 "models": sum(e["models"] for e in built.values())},
              "executors": {}}
    for executor in executors:
        result["executors"][executor] = bench_executor(executor, workdir, workdir / "catalog",
                                                       workdir / "catalog-churn", provider_env(), profile)
        write_results("scheduler_profiled" if profile else "scheduler", {**result, "partial": True})
    return result


def main() -> int:
    from benchmarks import report

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--scheduler", action="store_true", help="through real Airflow deployments (REST-triggered)")
    mode.add_argument("--scale-point", action="store_true", help="one 100,000-model provider through dag.test")
    mode.add_argument("--publish", action="store_true", help="only the catalog publish, after one cold sync")
    parser.add_argument("--executors", default="LocalExecutor,CeleryExecutor", help="with --scheduler")
    parser.add_argument("--profile", action="store_true", help="py-spy every counted run (not with --scale-point)")
    parser.add_argument("--repeats", type=int, default=3, help="cold + unchanged pairs through dag.test")
    parser.add_argument("--keep", action="store_true", help="keep the dag.test catalog database")
    args = parser.parse_args()
    started, load = time.perf_counter(), load_average()
    if args.scheduler:
        section = "scheduler_profiled" if args.profile else "scheduler"
        result = scheduler_benchmark(args.executors.split(","), args.profile)
    elif args.scale_point:
        from benchmarks.scale_point import scale_point

        section, result = "scale_point", scale_point()
    elif args.publish:
        section, result = "publish", publish_only_benchmark(args.keep)
    else:
        section = "dag_test_profiled" if args.profile else "dag_test"
        result = dag_test_benchmark(args.repeats, args.keep, args.profile)
    result.update(generated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), load_average_at_start=load,
                  load_average_at_end=load_average(), benchmark_seconds=round(time.perf_counter() - started, 1))
    write_results(section, result)
    report.print_section(section, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
