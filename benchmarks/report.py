"""The benchmark's figures as the Markdown tables the benchmark README carries, one printer per mode."""

from __future__ import annotations

from benchmarks.measure import RESULTS, ROOT
from benchmarks.prices import print_price_runs
from benchmarks.publish import print_publish

MB = 2**20


def _mb(value: int | None) -> str:
    return "-" if not value else f"{value / MB:.0f} MB"


def print_section(section: str, result: dict) -> None:
    printers = {"dag_test": print_dag_test, "dag_test_profiled": print_dag_test, "scheduler": print_scheduler,
                "scheduler_profiled": print_scheduler,
                "scale_point": print_scale_point, "publish": print_publish}
    printers[section](result)
    print(f"\nload average (1/5/15 min): {result['load_average_at_start']} at start, {result['load_average_at_end']} "
          f"at end; {result['benchmark_seconds']} s in all; written to {RESULTS.relative_to(ROOT)} [{section}]")


def print_dag_test(result: dict) -> None:
    print("\n| run | state | wall s | inserted | updated | unchanged | missed | deactivated | rows written | changes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, run in result["runs"].items():
        rows = run["rows"]
        print(f"| {name} | {run['state']} | {run['wall_seconds']} | {rows['inserted']} | {rows['updated']} | "
              f"{rows['unchanged']} | {rows['missed']} | {rows['deactivated']} | {run['model_rows_written']} | "
              f"{run['model_changes']} |")
    noop = result.get("noop_floor", {})
    print("\n| repeat | cold s | unchanged s | unchanged / cold | unchanged above the no-op DAG s |\n|---|---|---|---|---|")
    for pair in result["repeats"]:
        print(f"| {pair['repeat']} | {pair['cold_seconds']} | {pair['unchanged_seconds']} | "
              f"{pair['unchanged_share_of_cold']:.0%} | {pair.get('unchanged_above_noop_seconds', '-')} |")
    if noop:
        print(f"no-op DAG of the same shape ({noop['mapped_tasks']} mapped tasks) through dag.test: median "
              f"{noop['median_seconds']} s (runs {noop['runs_seconds']})")
    cold, floor = result["runs"]["cold"]["largest_provider"], result["floor"]
    print(f"\nlargest provider ({cold['slug']}, {result['catalog']['largest_models']} models, "
          f"{result['catalog']['largest_bytes'] / MB:.1f} MB), cold: fetch {cold['fetch_seconds']} s, parse "
          f"{cold['parse_seconds']} s, normalize {cold['normalize_seconds']} s, load {cold['load_seconds']} s")
    print(f"floor: json.loads {floor['json_loads_seconds']} s + COPY {floor['copy_seconds']} s = "
          f"{floor['floor_seconds']} s; data path {result['largest_data_path_seconds']} s = "
          f"{result['largest_ratio_to_floor']}x the floor")
    if writes := result.get("write_floor"):
        print(f"write floor (a first listing's fewest writes, one transaction, the schema's constraints): json.loads "
              f"{writes['json_loads_seconds']} s + COPY models {writes['models_copy_seconds']} s + {writes['rows']} "
              f"added rows {writes['added_rows_seconds']} s + {writes['price_rows']} price rows and commit "
              f"{writes['prices_and_commit_seconds']} s = {writes['floor_seconds']} s = "
              f"{round(writes['floor_seconds'] / floor['floor_seconds'], 2)}x the floor; the data path is "
              f"{result['largest_ratio_to_write_floor']}x it")
    isolated = result["largest_task_in_isolation"]
    print(f"largest provider's sync in its own process: peak RSS {_mb(isolated['peak_rss_bytes'])} "
          f"(before the sync {_mb(isolated['rss_before_sync_bytes'])}), {isolated['seconds']} s")
    print_price_runs(result.get("price_runs", {}))
    if result.get("publish"):
        print_publish(result["publish"])
    print("DAG parse (median of 5): " + ", ".join(f"{n} {v['median_seconds']} s" for n, v in result["dag_parse"].items()))
    print(f"churn exact: {result['churn_exact']} (expected {result['churn_expected']})")
    print("targets: " + ", ".join(f"{name}={'met' if ok else 'MISSED'}" for name, ok in result["targets"].items()))


def print_scheduler(result: dict) -> None:
    for executor, bench in result["executors"].items():
        workers = f", {bench['workers']} workers x {bench['worker_concurrency']}" if bench["workers"] else ""
        print(f"\n{executor}{workers}: {bench['mapped_tasks']} mapped tasks; no-op floor {bench['noop_floor_seconds']} s "
              f"(runs {[run['wall_seconds'] for run in bench['noop_runs']]}, warm-up "
              f"{bench['noop_warm_up']['wall_seconds']} s); deployment ready in {bench['deployment_ready_seconds']} s")
        print("\n| run | state | wall s | x floor | slowest mapped task | queued->running median / max s | "
              "largest task peak RSS | rows written | changes | load 1 min |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        rows = [(f"no-op {i + 1}", run) for i, run in enumerate(bench["noop_runs"])] + list(bench["runs"].items())
        for name, run in rows:
            slowest = run["slowest_mapped_task"]
            delay = run["queued_to_running_seconds"]
            largest = run.get("largest_provider") or {}
            rss = _mb(largest.get("peak_rss_bytes")) if largest else _mb(run["largest_task_process"]["peak_rss_bytes"])
            ratio = run.get("ratio_to_noop_floor", "-")
            print(f"| {name} | {run['state']} | {run['wall_seconds']} | {ratio} | {slowest['label']} {slowest['seconds']} s | "
                  f"{delay['median']} / {delay['max']} | {rss} | {run.get('model_rows_written', '-')} | "
                  f"{run.get('model_changes', '-')} | {run['load_average_before'][0]} |")
        print("targets: " + ", ".join(f"{name}={'met' if ok else 'MISSED'}" for name, ok in bench["targets"].items()))
        for name, run in bench["runs"].items():
            pole = run.get("largest_provider") or {}
            if "started_after_seconds" in pole:
                phases = ", ".join(f"{key.removesuffix('_seconds')} {value}" for key, value in pole["sync_timings"].items())
                print(f"{name}: {pole['slug']} (map index {pole['map_index']}) ran {pole['started_after_seconds']}-"
                      f"{pole['ended_after_seconds']} s after the first task started; its sync: {phases or '-'}")
        for name, run in rows:
            if run.get("timeline"):
                spans = ", ".join(f"{task} {start}-{end}" for task, (start, end) in run["timeline"].items())
                print(f"{name} timeline (s after its first task started; wall {run['wall_seconds']}): {spans}")
        for name, run in rows:
            if "profile" in run:
                profile = run["profile"]
                print(f"\nprofile of {name} ({profile['samples']} samples): by component {profile['by_component']}; "
                      f"task processes by family {profile['task_processes_by_family']}")


def print_scale_point(result: dict) -> None:
    for point in (result["baseline_point"], result):
        print(f"\n{point['models']} models from one provider ({point['payload_bytes'] / MB:.0f} MB) through dag.test: "
              f"run {point['state']} in {point['wall_seconds']} s; peak RSS of the process "
              f"{_mb(point['peak_rss_bytes'])} ({_mb(point['rss_before_run_bytes'])} before the model sync)")
    print(f"peak RSS at {result['models']} / peak RSS at {result['baseline_point']['models']} models: "
          f"{result['peak_rss_ratio_to_baseline']}")
    path, floor = result["data_path"], result["floor"]
    print(f"data path at {result['models']}: fetch {path['fetch_seconds']} s, parse {path['parse_seconds']} s, normalize "
          f"{path['normalize_seconds']} s, load {path['load_seconds']} s = {result['data_path_seconds']} s; floor "
          f"json.loads {floor['json_loads_seconds']} s + COPY {floor['copy_seconds']} s = {floor['floor_seconds']} s: "
          f"{result['ratio_to_floor']}x")
    print("targets: " + ", ".join(f"{k}={'met' if v else 'MISSED'}" for k, v in result["targets"].items()))
