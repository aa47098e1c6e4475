"""Two measured points for the README's "Scale on paper": a single provider with 22,000 and with 100,000 models
through `dag.test()`, each in a fresh process whose own peak RSS (VmHWM) is the task's peak plus Airflow's
baseline; the ratio of the two peaks (memory flat in the listing's size is a ratio well under the listings' 4.5);
and the 100,000-model provider's data path against the floor (json.loads + COPY of the same rows).

The payload keeps the main benchmark's record size (~2.2 KB), so it is ~48 MB and ~220 MB in one response,
under the default 256 MB cap (`GATEWAYZ_MAX_RESPONSE_MB`). Run as `python -m benchmarks.scale_point DATABASE
REPLAY_URL` it is the measured child.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from benchmarks.floor import measure_floor
from benchmarks.measure import ROOT, catalog_connection, child_environment, create_database, drop_database, machine
from benchmarks.replay_process import ReplayProcess

SCALE_MODELS = 100_000
BASELINE_MODELS = 22_000
PHASES = ("fetch_seconds", "parse_seconds", "normalize_seconds", "load_seconds")


def _point(workdir: Path, models: int, with_floor: bool) -> dict:
    from benchmarks.catalog import LARGEST, benchmark_providers, build_largest

    started = time.perf_counter()
    catalog = workdir / f"catalog-{models}"
    built = build_largest(catalog, models)
    print(f"{LARGEST} cloned to {models} models, {built['bytes'] / 2**20:.0f} MB "
          f"({time.perf_counter() - started:.0f} s to build)", flush=True)
    replay = ReplayProcess(catalog)
    database = f"gatewayz_bench_scale_{secrets.token_hex(3)}"
    create_database(database)
    try:
        spec = benchmark_providers()[LARGEST].list_api
        requests.get(f"{replay.url}/{LARGEST}{urlsplit(spec.base_url).path}{spec.path}",
                     headers={"Authorization": f"Bearer bench-key-{LARGEST}"}, timeout=600).raise_for_status()
        output = subprocess.run(
            [sys.executable, "-m", "benchmarks.scale_point", database, replay.url], check=True, capture_output=True,
            text=True, env=child_environment(), timeout=3600,
        ).stdout
        child = json.loads(output.strip().splitlines()[-1])
        floor = measure_floor(catalog, LARGEST, database) if with_floor else None
    finally:
        replay.stop()
        drop_database(database)
    data_path = sum(child["data_path"][key] for key in PHASES)
    point = {"models": models, "payload_bytes": built["bytes"], **child, "data_path_seconds": round(data_path, 3)}
    if floor:
        point.update(floor=floor, ratio_to_floor=round(data_path / floor["floor_seconds"], 2))
    return point


def scale_point(models: int = SCALE_MODELS, baseline: int = BASELINE_MODELS) -> dict:
    from benchmarks.catalog import LARGEST

    workdir = Path(tempfile.mkdtemp(prefix="gatewayz-bench-scale-"))
    small = _point(workdir, baseline, with_floor=False)
    large = _point(workdir, models, with_floor=True)
    ratio = round(large["peak_rss_bytes"] / small["peak_rss_bytes"], 2)
    result = {"machine": machine(), "provider": LARGEST, **large, "baseline_point": small,
              "peak_rss_ratio_to_baseline": ratio}
    result["targets"] = {
        "peak_rss_le_400mb": large["peak_rss_bytes"] <= 400 * 2**20,
        "peak_rss_ratio_le_2": ratio <= 2,
        "data_path_le_1_5x_floor": large["ratio_to_floor"] <= 1.5,
    }
    return result


def _child(database: str, replay_url: str) -> None:
    from benchmarks.catalog import LARGEST
    from benchmarks.measure import high_water_rss, proc_status_bytes
    from benchmarks.sync_benchmark import SYNC_CONF, configure_environment

    configure_environment(Path(tempfile.mkdtemp(prefix="gatewayz-bench-scale-child-")), database)
    os.environ["GATEWAYZ_BASE_URL_OVERRIDE"] = f"{replay_url}/{{slug}}"
    from airflow.dag_processing.dagbag import DagBag

    dags = DagBag(dag_folder=str(ROOT / "dags")).dags
    assert dags["gatewayz_sync_providers"].test().state == "success"
    before = proc_status_bytes("VmRSS")
    started = time.perf_counter()
    run = dags["gatewayz_sync_models"].test(run_conf={**SYNC_CONF, "providers": [LARGEST]})
    wall = time.perf_counter() - started
    with catalog_connection(database) as connection:
        status, inserted, details, error = connection.execute(
            "SELECT status, inserted, details, error FROM sync_runs WHERE dag_run_id = %s", (run.run_id,)
        ).fetchone()
    timings = details.get("timings", {})
    print(json.dumps({"state": run.state, "sync_status": status, "error": error, "inserted": inserted,
                      "wall_seconds": round(wall, 2), "peak_rss_bytes": high_water_rss(),
                      "rss_before_run_bytes": before,
                      "data_path": {key: timings.get(key) or 0 for key in PHASES}}))


if __name__ == "__main__":
    _child(*sys.argv[1:3])
