"""What every benchmark mode measures with: the catalog database, memory high-water marks, the machine and
its load, the per-run summary from `sync_runs`, and `benchmarks/results/latest.json` (one section per mode)."""

from __future__ import annotations

import getpass
import json
import os
import platform
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
PG_DSN = os.environ.get("GATEWAYZ_TEST_PG", f"host=127.0.0.1 port=5432 dbname=postgres user={getpass.getuser()}")
COUNTS = ("fetched", "inserted", "updated", "unchanged", "missed", "deactivated", "rejected")


def catalog_connection(database: str):
    import psycopg

    return psycopg.connect(PG_DSN, dbname=database, autocommit=True)


def create_database(name: str) -> None:
    with catalog_connection("postgres") as admin:
        admin.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str, patience: float = 120) -> None:
    """Drop a scratch database; a PostgreSQL restarting under someone else's test gets `patience` seconds."""
    import psycopg

    deadline = time.monotonic() + patience
    while True:
        try:
            with catalog_connection("postgres") as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                print(f"could not drop database {name}: {error}", flush=True)
                return
            time.sleep(3)


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A database of its own, named `prefix` and a random suffix, dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(3)}"
    create_database(name)
    try:
        yield name
    finally:
        drop_database(name)


def prepare_catalog(database: str) -> None:
    """The catalog's schema in `database`, and the benchmark's providers in it."""
    from benchmarks.catalog import benchmark_providers
    from include.gatewayz_sync.store import schema
    from include.gatewayz_sync.store.providers import sync_registry

    schema.migrate(lambda: catalog_connection(database))
    with catalog_connection(database) as connection:
        sync_registry(connection, benchmark_providers().values())


def proc_status_bytes(field: str, pid: int | str = "self") -> int:
    """A memory line of /proc/<pid>/status in bytes (VmRSS now, VmHWM the process's own peak)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    return 0


def child_environment() -> dict[str, str]:
    """This environment for a measured child process, with the repository first on its PYTHONPATH."""
    inherited = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part and part != str(ROOT)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *inherited])}


def high_water_rss() -> int:
    """VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across fork + exec on Linux)."""
    return proc_status_bytes("VmHWM")


class RssSampler(threading.Thread):
    """Samples this process's resident set every 20 ms (the tasks of dag.test run in this process)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            self.samples.append((time.time(), proc_status_bytes("VmRSS")))
            time.sleep(0.02)

    def peak_between(self, start: float, end: float) -> int:
        return max((rss for at, rss in self.samples if start <= at <= end), default=0)


def machine() -> dict:
    return {"cpus": os.cpu_count(), "memory_bytes": proc_meminfo_total(), "python": platform.python_version(),
            "platform": platform.platform(), "cpu": platform.processor() or platform.machine()}


def proc_meminfo_total() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (what `uptime` prints): the noise every figure was taken under."""
    return [round(value, 2) for value in os.getloadavg()]


def run_summary(connection, dag_run_id: str) -> dict:
    rows = connection.execute(
        """SELECT provider_slug, status, fetched, inserted, updated, unchanged, missed, deactivated, rejected,
                  details, extract(epoch FROM started_at), extract(epoch FROM finished_at)
           FROM sync_runs WHERE dag_run_id = %s ORDER BY id""",
        (dag_run_id,),
    ).fetchall()
    totals = dict.fromkeys(COUNTS, 0)
    providers, statuses = {}, {}
    for slug, status, *counts, details, start, end in rows:
        for key, value in zip(COUNTS, counts, strict=True):
            totals[key] += value
        providers[slug] = {"status": status, "details": details, "window": (float(start), float(end))}
        statuses[status] = statuses.get(status, 0) + 1
    changes = connection.execute(
        "SELECT count(*) FROM model_changes c JOIN sync_runs s ON s.id = c.sync_run_id WHERE s.dag_run_id = %s",
        (dag_run_id,),
    ).fetchone()[0]
    return {"totals": totals, "model_changes": changes, "providers": providers, "statuses": statuses}


def mapped_width(connection, env: dict[str, str]) -> int:
    """How many `sync_provider` task instances a full model sync maps with these keys: the syncable providers
    less those it knows will skip (no list API, no key), which get no task. The no-op DAG maps as many."""
    from benchmarks.catalog import benchmark_providers
    from include.gatewayz_sync.store.providers import catalog_skip_reasons, syncable_slugs
    from include.gatewayz_sync.sync_plan import plan_sync

    slugs = syncable_slugs(connection)
    plan = plan_sync(slugs, catalog_skip_reasons(connection, slugs), lambda _provider: None, env,
                     registry=benchmark_providers())
    return len(plan.fetch)


def row_versions(connection, table: str = "models") -> dict:
    """Each row's physical version (xmin): a row whose version moved was written."""
    return dict(connection.execute(f"SELECT id, xmin::text FROM {table}").fetchall())


def rows_written(before: dict, after: dict) -> int:
    return sum(1 for key, version in after.items() if before.get(key) != version)


def write_results(section: str, result: dict) -> None:
    """Store one mode's figures under `section` of latest.json, keeping the other modes' last figures."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        document = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        document = {}
    if "runs" in document:  # the single-mode layout before the scheduler mode
        document = {"dag_test": document}
    document[section] = result
    RESULTS.write_text(json.dumps(document, indent=2, default=str))
