"""The catalog publish at the benchmark's scale (25,000+ models): `make bench-publish`, and in `make bench` after the
first repeat's cold sync and price run.

`gatewayz_publish_catalog` through `dag.test()` to a folder (`file://`): the first publish (every file written), then
an unchanged one (the content hash matches: nothing written). Its wall time, the process's peak RSS over the run
(the tasks of dag.test run in this process, so this includes what the process already held, measured just before) and
the files' sizes.
Then the publish alone in a fresh process, as a worker runs the task, to another folder: its seconds, the build and
write split, and its own peak RSS (VmHWM) above the interpreter with the package imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import PG_DSN, child_environment, load_average, proc_status_bytes

PUBLISH_DAG = "gatewayz_publish_catalog"


def publish_url(workdir: Path) -> str:
    return f"file://{workdir / 'published'}"


def publish_run(name: str, dag, connection, sampler) -> dict:
    from tests.airflow_helpers import task_states

    load = load_average()
    held_before = proc_status_bytes("VmRSS")
    started_at, started = time.time(), time.perf_counter()
    dag_run = dag.test()
    wall = time.perf_counter() - started
    status, version, details = connection.execute(
        "SELECT status, version, manifest FROM catalog_publications ORDER BY id DESC LIMIT 1").fetchone()
    files = (details or {}).get("files", {})
    result = {
        "state": dag_run.state, "status": status, "version": version, "wall_seconds": round(wall, 2),
        "load_average_before": load, "process_peak_rss_bytes": sampler.peak_between(started_at, time.time()),
        "process_rss_before_bytes": held_before,
        "tasks": {task: state for (task, _), state in task_states(dag_run).items()},
        "files": {format_: {"bytes": entry["bytes"], "models": entry["models"]} for format_, entry in files.items()},
    }
    print(f"publish {name}: {dag_run.state} ({status}) in {wall:.1f} s (load {load[0]}); process peak RSS "
          f"{result['process_peak_rss_bytes'] / 2**20:.0f} MB (held before: {held_before / 2**20:.0f} MB); "
          + ", ".join(f"{f} {e['models']} models {e['bytes'] / 2**20:.1f} MB" for f, e in result["files"].items()),
          flush=True)
    return result


def isolated_publish(database: str, base_url: str) -> dict:
    """One publish in a fresh process (as a worker runs the task) to `base_url`: its seconds and peak RSS."""
    output = subprocess.run([sys.executable, "-m", "benchmarks.publish", database, base_url], check=True,
                            capture_output=True, text=True, env=child_environment(), timeout=1800).stdout
    result = json.loads(output.strip().splitlines()[-1])
    print(f"publish in a fresh process: {result['status']} in {result['seconds']} s (build {result['build_seconds']} s); "
          f"peak RSS {result['peak_rss_bytes'] / 2**20:.0f} MB, {result['above_baseline_bytes'] / 2**20:.0f} MB above "
          f"the interpreter with the package imported", flush=True)
    return result


def publish_benchmark(dag, connection, sampler, database: str, workdir: Path) -> dict:
    runs = {name: publish_run(name, dag, connection, sampler) for name in ("first", "unchanged")}
    isolated = isolated_publish(database, f"file://{workdir / 'published-isolated'}")
    models = connection.execute("SELECT count(*) FROM models WHERE is_active").fetchone()[0]
    return {
        "active_models": models, "runs": runs, "isolated": isolated,
        "targets": {
            "first_publish_succeeds": runs["first"]["state"] == "success" and runs["first"]["status"] == "published",
            "unchanged_publishes_nothing": runs["unchanged"]["status"] == "unchanged"
            and runs["unchanged"]["tasks"].get("finalize") == "skipped",
        },
    }


def print_publish(result: dict) -> None:
    print(f"\n| publish ({result['active_models']:,} active models) | state | status | wall s | process peak RSS MB (held before) |")
    print("|---|---|---|---|---|")
    for name, run in result["runs"].items():
        print(f"| {name} | {run['state']} | {run['status']} | {run['wall_seconds']} | "
              f"{run['process_peak_rss_bytes'] / 2**20:.0f} ({run['process_rss_before_bytes'] / 2**20:.0f}) |")
    isolated = result["isolated"]
    print(f"| fresh process | - | {isolated['status']} | {isolated['seconds']} (build {isolated['build_seconds']}) | "
          f"{isolated['peak_rss_bytes'] / 2**20:.0f} ({isolated['above_baseline_bytes'] / 2**20:.0f} above baseline) |")
    files = result["runs"]["first"]["files"]
    print("files: " + ", ".join(f"{name} {entry['models']:,} models, {entry['bytes'] / 2**20:.1f} MB"
                                for name, entry in files.items()))


def _isolated_child(database: str, base_url: str) -> None:
    import psycopg

    from include.gatewayz_sync import catalog_publish
    from include.gatewayz_sync.publish.storage import CatalogStore

    connection = psycopg.connect(PG_DSN, dbname=database, autocommit=True)
    store = CatalogStore.open(base_url)
    baseline = proc_status_bytes("VmRSS")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gatewayz-bench-build-") as workdir:
        catalog_publish.build(connection, Path(workdir))
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    outcome = catalog_publish.publish_catalog(connection, store, base_url, 10, "bench", "isolated")
    seconds = time.perf_counter() - started
    peak = proc_status_bytes("VmHWM")
    connection.close()
    print(json.dumps({"status": outcome.status, "seconds": round(seconds, 2), "build_seconds": round(build_seconds, 2),
                      "peak_rss_bytes": peak, "baseline_rss_bytes": baseline, "above_baseline_bytes": peak - baseline,
                      "pid": os.getpid()}))


if __name__ == "__main__":
    _isolated_child(*sys.argv[1:3])
