"""`make bench`: three full model syncs at real scale through `dag.test()`, measured against the machine's floor.

Builds the synthetic catalog (benchmarks/catalog.py), serves it from the replay server in its own process, and
syncs into a fresh catalog database on the local PostgreSQL: (1) cold, (2) unchanged, (3) churn, with the
reference-price DAG after (1) and after (2) (its cost, and that an unchanged run rewrites nothing). Reports wall
times, per-phase times of the largest provider, row counts, model_changes rows, peak RSS, the floor (json.loads
of the same payload + a raw COPY of the same normalized rows) and DAG parse times; writes
benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import getpass
import json
import multiprocessing
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
PG_DSN = os.environ.get("GATEWAYZ_TEST_PG", f"host=127.0.0.1 port=5432 dbname=postgres user={getpass.getuser()}")


def configure_environment(workdir: Path, catalog_db: str) -> None:
    home = workdir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    from include.gatewayz_sync.dev.local import DAGS_TEST_SETTINGS, airflow_home_settings, catalog_connection_json

    os.environ.update(
        {
            **airflow_home_settings(home),
            **DAGS_TEST_SETTINGS,
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "GATEWAYZ_TASK_RETRIES": "0",
            "CLOUDFLARE_ACCOUNT_ID": "bench-account",
            "AIRFLOW_CONN_GATEWAYZ_DB": catalog_connection_json(PG_DSN, catalog_db),
        }
    )
    from benchmarks.catalog import benchmark_providers

    for provider in benchmark_providers().values():
        os.environ[provider.api_key_env] = f"bench-key-{provider.slug}"
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())


def _serve(directory: str, port_queue) -> None:
    from benchmarks.catalog import PAGE_SIZES, benchmark_providers
    from include.gatewayz_sync.dev.replay.server import ReplayServer

    server = ReplayServer(recordings_dir=Path(directory), page_sizes=PAGE_SIZES,
                          providers=benchmark_providers().values())
    port_queue.put(server.port)
    server.serve_forever()


class ReplayProcess:
    def __init__(self, directory: Path):
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        self.process = context.Process(target=_serve, args=(str(directory), queue), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{queue.get(timeout=60)}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(timeout=10)


class RssSampler(threading.Thread):
    """Samples this process's resident set every 20 ms (the tasks of dag.test run in this process)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self.running = True

    @staticmethod
    def rss() -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def run(self) -> None:
        while self.running:
            self.samples.append((time.time(), self.rss()))
            time.sleep(0.02)

    def peak_between(self, start: float, end: float) -> int:
        return max((rss for at, rss in self.samples if start <= at <= end), default=0)


def catalog_connection(database: str):
    import psycopg

    return psycopg.connect(PG_DSN, dbname=database, autocommit=True)


def run_summary(connection, dag_run_id: str) -> dict:
    rows = connection.execute(
        """SELECT provider_slug, status, fetched, inserted, updated, unchanged, missed, deactivated, rejected,
                  details, extract(epoch FROM started_at), extract(epoch FROM finished_at)
           FROM sync_runs WHERE dag_run_id = %s ORDER BY id""",
        (dag_run_id,),
    ).fetchall()
    totals = {key: 0 for key in ("fetched", "inserted", "updated", "unchanged", "missed", "deactivated", "rejected")}
    providers = {}
    for slug, status, fetched, inserted, updated, unchanged, missed, deactivated, rejected, details, start, end in rows:
        for key, value in zip(totals, (fetched, inserted, updated, unchanged, missed, deactivated, rejected), strict=True):
            totals[key] += value
        providers[slug] = {"status": status, "details": details, "window": (float(start), float(end))}
    changes = connection.execute(
        "SELECT count(*) FROM model_changes c JOIN sync_runs s ON s.id = c.sync_run_id WHERE s.dag_run_id = %s",
        (dag_run_id,),
    ).fetchone()[0]
    statuses: dict[str, int] = {}
    for provider in providers.values():
        statuses[provider["status"]] = statuses.get(provider["status"], 0) + 1
    return {"totals": totals, "model_changes": changes, "providers": providers, "statuses": statuses}


def row_versions(connection, table: str = "models") -> dict:
    return dict(connection.execute(f"SELECT id, xmin::text FROM {table}").fetchall())


def price_run(dag, connection) -> dict:
    """One run of the reference-price DAG: wall time, rows it wrote, and each step's own figures."""
    from tests.airflow_helpers import xcom_values

    models, candidates = row_versions(connection), row_versions(connection, "model_price_candidates")
    changes = connection.execute("SELECT count(*) FROM model_changes").fetchone()[0]
    started = time.perf_counter()
    dag_run = dag.test()
    wall = time.perf_counter() - started
    sources = connection.execute(
        """SELECT source, status, matched, inserted, updated, deleted, details->'seconds' FROM reference_runs
           WHERE dag_run_id = %s ORDER BY source""",
        (dag_run.run_id,),
    ).fetchall()
    resolve = xcom_values(dag_run, "resolve_prices").get(-1) or {}
    after_models = row_versions(connection)
    after_candidates = row_versions(connection, "model_price_candidates")
    return {
        "state": dag_run.state,
        "wall_seconds": round(wall, 2),
        "sources": {row[0]: {"status": row[1], "matched": row[2], "inserted": row[3], "updated": row[4],
                             "deleted": row[5], "seconds": row[6]} for row in sources},
        "resolve": resolve,
        "model_rows_written": sum(1 for key, version in after_models.items() if models.get(key) != version),
        "candidate_rows_written": sum(1 for k, v in after_candidates.items() if candidates.get(k) != v)
        + len(set(candidates) - set(after_candidates)),
        "model_changes": connection.execute("SELECT count(*) FROM model_changes").fetchone()[0] - changes,
    }


def measure_floor(directory: Path, database: str) -> dict:
    """json.loads of the largest provider's payload + a raw COPY of the same normalized rows into an empty table."""
    from decimal import Decimal

    from benchmarks.catalog import LARGEST, benchmark_providers, payload_bytes
    from include.gatewayz_sync.catalog.normalize import RecordNormalizer
    from include.gatewayz_sync.store.model_sql import DATA_COLUMNS
    from include.gatewayz_sync.store.staging import row_values

    payload = payload_bytes(directory, LARGEST)
    started = time.perf_counter()
    document = json.loads(payload)
    json_seconds = time.perf_counter() - started
    del document
    started = time.perf_counter()
    json.loads(payload, parse_float=Decimal)
    json_decimal_seconds = time.perf_counter() - started
    spec = benchmark_providers()[LARGEST].list_api
    records = json.loads(payload, parse_float=Decimal)["data"]
    models = list(RecordNormalizer(spec).normalize_all(records))
    rows = [row_values(model) for model in models]
    with catalog_connection(database) as connection:
        connection.execute(
            "CREATE TABLE floor_models AS SELECT provider_model_id, true AS changed, "
            f"{', '.join(DATA_COLUMNS)} FROM models WITH NO DATA"
        )
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(
            f"COPY floor_models (provider_model_id, changed, {', '.join(DATA_COLUMNS)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        copy_seconds = time.perf_counter() - started
        connection.execute("DROP TABLE floor_models")
    return {
        "payload_bytes": len(payload),
        "rows": len(rows),
        "json_loads_seconds": round(json_seconds, 3),
        "json_loads_decimal_seconds": round(json_decimal_seconds, 3),
        "copy_seconds": round(copy_seconds, 3),
        "floor_seconds": round(json_seconds + copy_seconds, 3),
    }


def largest_task_in_isolation(replay_url: str) -> dict:
    """The largest provider's sync (cold) in a fresh process, as a worker runs a task: its peak RSS."""
    scratch = f"gatewayz_bench_iso_{secrets.token_hex(3)}"
    with catalog_connection("postgres") as admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
    try:
        output = subprocess.run(
            [sys.executable, "-m", "benchmarks.sync_benchmark", "--isolated-largest", scratch, replay_url],
            check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600,
        ).stdout
        return json.loads(output.strip().splitlines()[-1])
    finally:
        with catalog_connection("postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def _isolated_largest(database: str, replay_url: str) -> None:
    import psycopg

    from benchmarks.catalog import LARGEST, benchmark_providers
    from include.gatewayz_sync.config import FetchSettings, SyncSettings
    from include.gatewayz_sync.model_sync import sync_provider_models
    from include.gatewayz_sync.store import schema
    from include.gatewayz_sync.store.load import LoadOptions
    from include.gatewayz_sync.store.providers import sync_registry
    from include.gatewayz_sync.store.runs import RunInfo

    def connect():
        return psycopg.connect(PG_DSN, dbname=database, autocommit=True)

    providers = benchmark_providers()
    schema.migrate(connect)
    with connect() as connection:
        sync_registry(connection, providers.values())
    baseline = RssSampler.rss()
    env = {**os.environ, "GATEWAYZ_BASE_URL_OVERRIDE": f"{replay_url}/{{slug}}"}
    started = time.perf_counter()
    summary = sync_provider_models(
        providers[LARGEST], connect, RunInfo("bench", "isolated", 1, datetime.now(UTC)), LoadOptions.from_settings(SyncSettings()),
        connection_for=lambda provider: None, env=env, fetch_settings=FetchSettings(),
    )
    seconds = time.perf_counter() - started
    peak = _high_water_rss()
    print(json.dumps({"models": summary.result.load.inserted, "seconds": round(seconds, 2), "peak_rss_bytes": peak,
                      "rss_before_sync_bytes": baseline}))


def _high_water_rss() -> int:
    """VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across fork + exec on Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def dag_parse_times(repeats: int = 5) -> dict:
    script = (
        "import sys, logging; logging.disable(logging.WARNING)\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "bag = DagBag(dag_folder=sys.argv[1])\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "print(bag.dagbag_stats[0].duration.total_seconds())\n"
    )
    results = {}
    for path in sorted((ROOT / "dags").glob("*.py")):
        durations = []
        for _ in range(repeats):
            output = subprocess.run([sys.executable, "-c", script, str(path)], check=True, capture_output=True,
                                    text=True, env=os.environ.copy(), timeout=120).stdout
            durations.append(float(output.strip().splitlines()[-1]))
        results[path.name] = {"median_seconds": round(statistics.median(durations), 4),
                              "runs": [round(d, 4) for d in durations]}
    return results


def machine() -> dict:
    memory = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    return {"cpus": os.cpu_count(), "memory_bytes": memory, "python": platform.python_version(),
            "platform": platform.platform(), "cpu": platform.processor() or platform.machine()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--isolated-largest", nargs=2, metavar=("DATABASE", "REPLAY_URL"), help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help="keep the catalog database and work directory")
    args = parser.parse_args()
    if args.isolated_largest:
        _isolated_largest(*args.isolated_largest)
        return 0

    from types import MappingProxyType

    from benchmarks import catalog as synthetic

    workdir = Path(tempfile.mkdtemp(prefix="gatewayz-bench-"))
    database = f"gatewayz_bench_{secrets.token_hex(3)}"
    with catalog_connection("postgres") as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    configure_environment(workdir, database)
    print(f"machine: {machine()['cpus']} cores, {machine()['memory_bytes'] / 2**30:.1f} GiB; work dir {workdir}")

    started = time.perf_counter()
    built = synthetic.build(workdir / "catalog")
    expected_churn = synthetic.churn(workdir / "catalog", workdir / "catalog-churn")
    total_models = sum(entry["models"] for entry in built.values())
    print(f"synthetic catalog: {len(built)} providers, {total_models} models, largest "
          f"{synthetic.LARGEST} {built[synthetic.LARGEST]['models']} models in "
          f"{built[synthetic.LARGEST]['bytes'] / 2**20:.1f} MB ({time.perf_counter() - started:.1f} s to build)")

    from include.gatewayz_sync.sources import registry

    registry.GATEWAY_REGISTRY = MappingProxyType(synthetic.benchmark_providers())
    from airflow.dag_processing.dagbag import DagBag

    dags = DagBag(dag_folder=str(ROOT / "dags")).dags
    replay = ReplayProcess(workdir / "catalog")
    os.environ["GATEWAYZ_BASE_URL_OVERRIDE"] = f"{replay.url}/{{slug}}"
    assert dags["gatewayz_sync_providers"].test().state == "success"

    sampler = RssSampler()
    sampler.start()
    runs = {}
    conf = {"providers": [], "dry_run": False, "allow_shrink": False}
    connection = catalog_connection(database)
    try:
        for name in ("cold", "unchanged", "churn"):
            if name == "churn":
                replay.stop()
                replay = ReplayProcess(workdir / "catalog-churn")
                os.environ["GATEWAYZ_BASE_URL_OVERRIDE"] = f"{replay.url}/{{slug}}"
            before = row_versions(connection)
            started = time.perf_counter()
            dag_run = dags["gatewayz_sync_models"].test(run_conf=conf)
            wall = time.perf_counter() - started
            after = row_versions(connection)
            summary = run_summary(connection, dag_run.run_id)
            largest = summary["providers"][synthetic.LARGEST]
            timings = largest["details"]["timings"]
            written = sum(1 for key, version in after.items() if before.get(key) != version)
            runs[name] = {
                "state": dag_run.state,
                "wall_seconds": round(wall, 2),
                "providers": summary["statuses"],
                "rows": summary["totals"],
                "model_rows_written": written,
                "model_changes": summary["model_changes"],
                "largest_provider": {
                    "slug": synthetic.LARGEST,
                    "fetch_seconds": timings["fetch_seconds"],
                    "parse_seconds": timings["parse_seconds"],
                    "normalize_seconds": timings["normalize_seconds"],
                    "load_seconds": timings.get("load_seconds"),
                    "task_peak_rss_bytes": sampler.peak_between(*largest["window"]),
                },
            }
            print(f"run {name}: {dag_run.state} in {wall:.1f} s; {summary['totals']}; "
                  f"{written} model rows written; {summary['model_changes']} model_changes")
            if name in ("cold", "unchanged"):
                runs[f"prices_{name}"] = prices = price_run(dags["gatewayz_sync_prices"], connection)
                print(f"run prices_{name}: {prices['state']} in {prices['wall_seconds']} s; "
                      f"{prices['model_rows_written']} model rows and {prices['candidate_rows_written']} candidates "
                      f"written; {prices['model_changes']} model_changes")
        sampler.running = False
        floor = measure_floor(workdir / "catalog", database)
        isolated = largest_task_in_isolation(replay.url)
    finally:
        replay.stop()
        connection.close()
        if not args.keep:
            with catalog_connection("postgres") as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    cold = runs["cold"]["largest_provider"]
    data_path = cold["fetch_seconds"] + cold["parse_seconds"] + cold["normalize_seconds"] + cold["load_seconds"]
    expected = {
        "updated": sum(v["price_changed"] for v in expected_churn.values()),
        "inserted": sum(v["added"] for v in expected_churn.values()),
        "missed": sum(v["removed"] for v in expected_churn.values()),
    }
    churn_rows = runs["churn"]["rows"]
    result = {
        "generated_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "catalog": {"providers": len(built), "models": total_models, "largest": synthetic.LARGEST,
                    "largest_models": built[synthetic.LARGEST]["models"],
                    "largest_bytes": built[synthetic.LARGEST]["bytes"]},
        "runs": runs,
        "churn_expected": expected,
        "churn_exact": all(churn_rows[key] == value for key, value in expected.items()),
        "floor": floor,
        "largest_data_path_seconds": round(data_path, 3),
        "largest_ratio_to_floor": round(data_path / floor["floor_seconds"], 2),
        "largest_task_in_isolation": isolated,
        "process_peak_rss_bytes": _high_water_rss(),
        "dag_parse": dag_parse_times(),
    }
    result["targets"] = {
        "cold_full_sync_le_30s": runs["cold"]["wall_seconds"] <= 30,
        "unchanged_writes_0_rows": runs["unchanged"]["model_rows_written"] == 0,
        "unchanged_le_60pct_of_cold": runs["unchanged"]["wall_seconds"] <= 0.6 * runs["cold"]["wall_seconds"],
        "largest_data_path_le_3x_floor": result["largest_ratio_to_floor"] <= 3,
        "largest_task_peak_rss_le_400mb": isolated["peak_rss_bytes"] <= 400 * 2**20,
        "dag_files_parse_le_0_3s": all(v["median_seconds"] <= 0.3 for v in result["dag_parse"].values()),
        "prices_unchanged_writes_0_rows": runs["prices_unchanged"]["model_rows_written"] == 0
        and runs["prices_unchanged"]["candidate_rows_written"] == 0,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print_report(result)
    return 0


def print_report(result: dict) -> None:
    mb = 2**20
    print("\n| run | state | wall s | inserted | updated | unchanged | missed | deactivated | rows written | changes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, run in result["runs"].items():
        if name.startswith("prices_"):
            continue
        rows = run["rows"]
        print(f"| {name} | {run['state']} | {run['wall_seconds']} | {rows['inserted']} | {rows['updated']} | "
              f"{rows['unchanged']} | {rows['missed']} | {rows['deactivated']} | {run['model_rows_written']} | "
              f"{run['model_changes']} |")
    cold = result["runs"]["cold"]["largest_provider"]
    floor = result["floor"]
    print(f"\nlargest provider ({cold['slug']}, {result['catalog']['largest_models']} models, "
          f"{result['catalog']['largest_bytes'] / mb:.1f} MB), cold run: fetch {cold['fetch_seconds']} s, "
          f"parse {cold['parse_seconds']} s, normalize {cold['normalize_seconds']} s, load {cold['load_seconds']} s")
    print(f"floor: json.loads {floor['json_loads_seconds']} s + COPY {floor['copy_seconds']} s = "
          f"{floor['floor_seconds']} s; our data path {result['largest_data_path_seconds']} s = "
          f"{result['largest_ratio_to_floor']}x the floor")
    isolated = result["largest_task_in_isolation"]
    print(f"largest provider's sync in its own process: peak RSS {isolated['peak_rss_bytes'] / mb:.0f} MB "
          f"(process before the sync: {isolated['rss_before_sync_bytes'] / mb:.0f} MB), {isolated['seconds']} s")
    print(f"benchmark process peak RSS (dag.test runs every task in-process): "
          f"{result['process_peak_rss_bytes'] / mb:.0f} MB")
    print("\n| reference prices | state | wall s | fetch+read s | match s | resolve s | model rows written | "
          "candidates written | model_changes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in ("prices_cold", "prices_unchanged"):
        run = result["runs"][name]
        seconds = [s["seconds"] or {} for s in run["sources"].values()]
        read = round(sum(s.get("fetch", 0) + s.get("read", 0) for s in seconds), 2)
        match = round(sum(s.get("match", 0) for s in seconds), 3)
        print(f"| {name.removeprefix('prices_')} | {run['state']} | {run['wall_seconds']} | {read} | {match} | "
              f"{run['resolve'].get('seconds')} | {run['model_rows_written']} | {run['candidate_rows_written']} | "
              f"{run['model_changes']} |")
    print("DAG parse (median of 5 fresh processes): " + ", ".join(
        f"{name} {v['median_seconds']} s" for name, v in result["dag_parse"].items()))
    print(f"churn exact: {result['churn_exact']} (expected {result['churn_expected']})")
    print("targets: " + ", ".join(f"{name}={'met' if ok else 'MISSED'}" for name, ok in result["targets"].items()))
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
