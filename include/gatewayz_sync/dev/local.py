"""Local mode: one command prepares an Airflow home in `.local/`, a catalog database, and runs the job.

`python -m include.gatewayz_sync.dev.local run`    provider sync, model sync, reference prices, then the summaries
`python -m include.gatewayz_sync.dev.local demo`   the same against the replay server, offline, with demo keys
`python -m include.gatewayz_sync.dev.local seed-providers`   migrate + upsert the registry (no Airflow run)

With `AIRFLOW_CONN_GATEWAYZ_DB` unset, an embedded PostgreSQL (pgserver) under `.local/pgdata` holds the
catalog; Airflow's own metadata lives in SQLite under `.local/airflow` (`make run` only; `make up`, in `up.py`,
keeps it in the embedded PostgreSQL). `GATEWAYZ_LOCAL_DIR` moves `.local/` elsewhere.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[3]
LOCAL_DIR = Path(os.environ.get("GATEWAYZ_LOCAL_DIR") or PROJECT_ROOT / ".local").resolve()
AIRFLOW_HOME = LOCAL_DIR / "airflow"
PGDATA = LOCAL_DIR / "pgdata"
LOG_DIR = LOCAL_DIR / "logs"
CATALOG_ENV = "AIRFLOW_CONN_GATEWAYZ_DB"
RUNTIME_DIR = LOCAL_DIR / "run"
LOCAL_TASK_DEFAULTS = {"GATEWAYZ_TASK_RETRIES": "1", "GATEWAYZ_RETRY_DELAY_SECONDS": "5"}
DEMO_PAGE_SIZES = {"anthropic": 4, "google-vertex": 20, "openrouter": 100}


# `airflow dags test` / `dag.test()` in Airflow 3.3.2 crash when a run of a DAG with a Deadline Alert succeeds
# (update_state looks the alerts up by id, but the in-memory DAG holds them unsaved); their runs are never
# queued, so a deadline could not fire there anyway.
DAGS_TEST_SETTINGS = {"MODEL_SYNC_DEADLINE_MINUTES": "0"}


def shown(path: Path) -> str:
    """A path as printed: relative to the project when it lies inside (GATEWAYZ_LOCAL_DIR may put it elsewhere)."""
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def airflow_home_settings(home: Path, metadata_url: str | None = None) -> dict[str, str]:
    """The environment that runs this bundle's DAGs and plugin from an Airflow home of its own.

    Shared by `make run`, the tests, the benchmark and the test cluster; metadata is SQLite unless given.
    """
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url or f"sqlite:///{home / 'airflow.db'}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }


def catalog_connection_json(dsn: str, database: str) -> str:
    """`gatewayz_db` as an AIRFLOW_CONN_ value, for `database` on the server a libpq DSN names."""
    from psycopg.conninfo import conninfo_to_dict

    server = conninfo_to_dict(dsn)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": server.get("host", "127.0.0.1"),
            "port": int(server.get("port", 5432)),
            "login": server.get("user") or getpass.getuser(),
            "schema": database,
        }
    )


def airflow_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(airflow_home_settings(AIRFLOW_HOME))
    for name, value in LOCAL_TASK_DEFAULTS.items():
        env.setdefault(name, value)
    env.update(DAGS_TEST_SETTINGS)
    env.update(extra or {})
    return env


def _airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def prepare_airflow_home(env: dict[str, str]) -> None:
    """Migrate Airflow's metadata DB once per Airflow version (a second run skips it)."""
    import airflow

    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    stamp = AIRFLOW_HOME / ".migrated"
    if stamp.exists() and stamp.read_text() == airflow.__version__:
        return
    print(f"Preparing the Airflow home in {AIRFLOW_HOME} (Airflow {airflow.__version__}, SQLite metadata)...")
    subprocess.run([_airflow_bin(), "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    stamp.write_text(airflow.__version__)


def start_embedded_postgres(keep_running: bool = False):
    """Start (or reuse) the embedded PostgreSQL; returns (server, its socket directory, whether this call started it).

    A server this call did not start (a running `make up`) is never stopped when this process exits; nor is
    one started with `keep_running`.
    """
    import logging

    RUNTIME_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    RUNTIME_DIR.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(RUNTIME_DIR))
    import pgserver
    from pgserver.utils import PostmasterInfo

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    _admin_tools_on_path()
    PGDATA.mkdir(parents=True, exist_ok=True)
    running = PostmasterInfo.read_from_pgdata(PGDATA)
    already_running = running is not None and running.is_running()
    server = pgserver.get_server(PGDATA, cleanup_mode=None if already_running or keep_running else "stop")
    return server, server.get_postmaster_info().socket_dir, not already_running


def running_postmaster() -> int | None:
    """The pid of the PostgreSQL serving PGDATA now (it may have been restarted since it was recorded), or None."""
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(PGDATA) if PGDATA.exists() else None
    return info.pid if info is not None and info.is_running() else None


def _admin_tools_on_path() -> None:
    """As root, pgserver runs PostgreSQL as a user it creates with `useradd`, which lives in an sbin directory that
    a minimal PATH (containers, CI, a test's environment) leaves out; the first start then fails."""
    if os.geteuid() != 0 or shutil.which("useradd"):
        return
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


def ensure_database(socket_dir: Path, database: str) -> None:
    import psycopg

    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{database}"')


def embedded_connection_json(socket_dir: Path, database: str) -> str:
    return json.dumps({"conn_type": "postgres", "host": str(socket_dir), "login": "postgres", "schema": database})


def start_embedded_catalog(database: str):
    """Start (or reuse) the embedded PostgreSQL and return (server, connection JSON for `gatewayz_db`)."""
    server, socket_dir, _ = start_embedded_postgres()
    ensure_database(socket_dir, database)
    return server, embedded_connection_json(socket_dir, database)


def catalog_connect_kwargs(conn_value: str) -> dict[str, Any]:
    from airflow.models.connection import Connection

    value = conn_value.strip()
    connection = Connection.from_json(value, conn_id="gatewayz_db") if value.startswith("{") else Connection(
        conn_id="gatewayz_db", uri=value
    )
    kwargs = {
        "host": connection.host,
        "port": connection.port,
        "user": connection.login,
        "password": connection.password,
        "dbname": connection.schema,
    }
    return {k: v for k, v in kwargs.items() if v not in (None, "")}


def run_dag(dag_id: str, env: dict[str, str], conf: dict[str, Any] | None = None) -> tuple[bool, Path]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{dag_id}-{time.strftime('%Y%m%dT%H%M%S')}.log"
    command = [_airflow_bin(), "dags", "test", dag_id]
    if conf:
        command += ["-c", json.dumps(conf)]
    started = time.monotonic()
    with log_path.open("w") as log_file:
        result = subprocess.run(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    print(f"  {dag_id}: {'success' if result.returncode == 0 else 'FAILED'} in {time.monotonic() - started:.1f} s"
          f" (log: {shown(log_path)})")
    return result.returncode == 0, log_path


def print_summary(connect_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The per-provider table of the latest model-sync run; returns its failed count and what the rows say."""
    import psycopg

    with psycopg.connect(**connect_kwargs) as connection:
        run = connection.execute(
            "SELECT dag_run_id, status, ok, failed, skipped, active_models FROM model_sync_runs "
            "ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
        if run is None:
            print("No model sync has finished yet.")
            return {"failed": 0, "rows": []}
        rows = connection.execute(
            """SELECT DISTINCT ON (provider_slug) provider_slug, status, fetched, inserted, updated, unchanged,
                      deactivated, rejected, COALESCE(error, '')
               FROM sync_runs WHERE dag_run_id = %s ORDER BY provider_slug, id DESC""",
            (run[0],),
        ).fetchall()
    header = ("provider", "status", "fetched", "inserted", "updated", "unchanged", "deactivated", "rejected")
    widths = [22, 8, 8, 9, 8, 10, 12, 9]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)) + "  error / reason")
    for row in rows:
        cells = [str(c) for c in row[:8]]
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)) + "  " + row[8][:100])
    print(
        f"\nModel sync {run[0]}: {run[2]} ok, {run[3]} failed, {run[4]} skipped; {run[5]} active models"
    )
    return {"failed": run[3], "active": run[5], "rows": [(slug, status, error) for slug, status, *_, error in rows]}


def next_step(summary: dict[str, Any]) -> str:
    """The one line `make run` ends with: what to do next, from what this run met."""
    from ..sources.registry import GATEWAY_REGISTRY

    rows = summary["rows"]
    failed = [slug for slug, status, _ in rows if status == "failed"]
    unreachable = [slug for slug, status, error in rows if status == "failed" and "could not resolve" in error]
    keyless = {slug for slug, status, error in rows if status == "skipped" and error.startswith("no credentials")}
    missing_keys = [provider.api_key_env for provider in GATEWAY_REGISTRY.values() if provider.slug in keyless]
    if failed and len(unreachable) == len(failed):
        return ("Next: this machine resolves no provider host (no network?): `make demo` runs the same job offline, "
                f"against recorded provider APIs; online, `make run` syncs the {len(failed)} providers that need no key"
                + (f", and {', '.join(missing_keys[:3])} ... add more." if missing_keys else "."))
    if failed:
        return (f"Next: {len(failed)} provider(s) failed ({', '.join(failed[:5])}): their errors are in the table "
                "above; `make demo` shows the whole job offline.")
    if missing_keys:
        return (f"Next: set a key to sync more providers ({', '.join(missing_keys[:3])}, ... in the "
                "environment), or `make up` for the real Airflow: UI, REST API, schedule.")
    return "Next: `make up` for the real Airflow: UI, REST API, the six-hourly schedule."


def print_prices(connect_kwargs: dict[str, Any]) -> None:
    import psycopg

    from ..clock import pin_session
    from .field_report import print_field_report
    from .price_report import print_price_report

    with psycopg.connect(**connect_kwargs, autocommit=True) as connection:
        print_price_report(pin_session(connection))
        print_field_report(connection)


def demo_environment(replay_url: str) -> dict[str, str]:
    from ..sources.registry import GATEWAY_REGISTRY

    env = {"GATEWAYZ_BASE_URL_OVERRIDE": f"{replay_url}/{{slug}}", "CLOUDFLARE_ACCOUNT_ID": "demo-account"}
    for provider in GATEWAY_REGISTRY.values():
        env[provider.api_key_env] = f"demo-key-{provider.slug}"
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "demo", "seed-providers"])
    parser.add_argument("--strict", action="store_true", help="exit non-zero when any provider failed")
    args = parser.parse_args(argv)

    database = "gatewayz_demo" if args.command == "demo" else "gatewayz"
    extra: dict[str, str] = {}
    server = None
    if os.environ.get(CATALOG_ENV):
        print(f"Catalog database: {CATALOG_ENV} (your server)")
    else:
        server, extra[CATALOG_ENV] = start_embedded_catalog(database)
        print(f"Catalog database: embedded PostgreSQL in {shown(PGDATA)} (database {database})")
    env = airflow_env(extra)
    os.environ.update(extra)
    connect_kwargs = catalog_connect_kwargs(env[CATALOG_ENV])

    if args.command == "seed-providers":
        import psycopg

        from ..sources.registry import GATEWAY_REGISTRY
        from ..store import schema
        from ..store.providers import sync_registry

        schema.migrate(lambda: psycopg.connect(**connect_kwargs))
        with psycopg.connect(**connect_kwargs, autocommit=True) as connection:
            print(sync_registry(connection, GATEWAY_REGISTRY.values()).summary_line())
        return 0

    replay = None
    if args.command == "demo":
        from .replay.server import ReplayServer

        replay = ReplayServer(page_sizes=DEMO_PAGE_SIZES).start()
        env.update(demo_environment(replay.url))
        print(f"Replay server: {replay.url} (recorded responses of every provider; demo keys)")

    try:
        prepare_airflow_home(env)
        print("Running the job (Airflow dags test):")
        providers_ok, _ = run_dag("gatewayz_sync_providers", env)
        if not providers_ok:
            print("The provider sync failed; see its log. The model sync was not started.")
            return 1
        if env.get("SYNC_MODELS_ON_STARTUP", "true").strip().lower() in ("0", "false", "no"):
            print("SYNC_MODELS_ON_STARTUP is off: the model sync was not started.")
            return 0
        models_ok, log_path = run_dag("gatewayz_sync_models", env)
        prices_ok, _ = run_dag("gatewayz_sync_prices", env)
        summary = print_summary(connect_kwargs)
        print_prices(connect_kwargs)
        if not prices_ok:
            print("The reference price run failed (a source could not be read); see its log.")
        if not models_ok and summary["failed"] == 0:
            print(f"The model sync run failed before recording results; see {log_path}")
            return 1
        if summary["failed"]:
            print(f"\n{summary['failed']} provider(s) failed (errors above)"
                  + ("; `make run STRICT=1` exits non-zero then." if not args.strict else "."))
        print("\n" + next_step(summary))
        return 1 if summary["failed"] and args.strict else 0
    finally:
        if replay is not None:
            replay.stop()
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    sys.exit(main())
