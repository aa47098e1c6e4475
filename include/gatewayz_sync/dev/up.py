"""`make up` / `make down` / `make logs`: the real Airflow, on this machine, in one command.

    python -m include.gatewayz_sync.dev.up up [--demo] [--port 8080]
    python -m include.gatewayz_sync.dev.up down
    python -m include.gatewayz_sync.dev.up logs [--lines 40]

`up` starts the api-server, scheduler, dag-processor and triggerer on the LocalExecutor, with Airflow's metadata
in a database of its own on the embedded PostgreSQL that `make run` uses for the catalog; runs the provider sync
once (the deploy hook); then unpauses the model DAG, so its schedule runs (on a new deployment Airflow starts the
latest slot it missed at once; SYNC_MODELS_ON_STARTUP=true also triggers one, as compose does); and prints the
UI's address, the login and what to try next. With `--demo` every provider points at the replay server, with
demo keys, as in `make demo`. `down` stops exactly the processes `up` recorded in `.local/up/state.json`.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

import requests

from ..config import model_sync_interval_hours
from .cli import MODEL_DAG, AirflowClient, CliError
from .deploy_hook import deploy_hook, ensure_pool, wait_for_api, wait_for_dags
from .deployment import (
    LOG_DIR,
    STATE_FILE,
    UP_DIR,
    Deployment,
    admin_login,
    airflow_environment,
    free_port,
    port_is_free,
    read_password,
    read_settings,
    write_airflow_env_script,
)
from .local import (
    CATALOG_ENV,
    DEMO_PAGE_SIZES,
    PGDATA,
    PROJECT_ROOT,
    embedded_connection_json,
    ensure_database,
    start_embedded_postgres,
)
from .processes import StartedProcess, stop_processes

AIRFLOW_BIN = os.path.join(os.path.dirname(sys.executable), "airflow")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
STARTUP_TIMEOUT = 600
REQUEST_TIMEOUT = 120  # a loaded laptop's api-server can take half a minute to answer


def _check_alive(deployment: Deployment) -> None:
    for process in deployment.processes:
        if not process.is_running():
            raise RuntimeError(f"{process.name} exited; see {LOG_DIR / (process.name + '.log')}")


def _start(deployment: Deployment, settings: Mapping[str, str], environ: Mapping[str, str], password: str):
    """Start everything, recording each process as it starts; returns a logged-in REST client."""
    server, socket_dir, started = start_embedded_postgres(keep_running=True)
    deployment.socket_dir = str(socket_dir)
    if started:
        deployment.record(StartedProcess.adopt("postgres", server.get_pid(), stop_signal="SIGINT"))
    ensure_database(socket_dir, deployment.metadata_database)
    catalog_connection = None
    if not settings.get(CATALOG_ENV):
        ensure_database(socket_dir, deployment.catalog)
        catalog_connection = embedded_connection_json(socket_dir, deployment.catalog)
    replay_url = None
    if deployment.demo:
        deployment.ports["replay"] = free_port()
        replay_url = f"http://127.0.0.1:{deployment.ports['replay']}"
    env = airflow_environment(
        settings, deployment, metadata_url=f"postgresql+psycopg://postgres@/{deployment.metadata_database}?host={socket_dir}",
        catalog_connection=catalog_connection, replay_url=replay_url, jwt_secret=secrets.token_urlsafe(32),
    )
    write_airflow_env_script(env, environ)
    if replay_url:
        page_sizes = [f"--page-size={slug}={size}" for slug, size in DEMO_PAGE_SIZES.items()]
        command = [sys.executable, "-m", f"{__package__}.replay", "--port", str(deployment.ports["replay"]), *page_sizes]
        deployment.record(StartedProcess.spawn("replay", command, env, LOG_DIR / "replay.log"))
    print(f"Migrating Airflow's metadata (database {deployment.metadata_database})...", flush=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / "db-migrate.log").open("w") as log:
        subprocess.run([AIRFLOW_BIN, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True,
                       timeout=STARTUP_TIMEOUT)
    print(f"Starting {', '.join(COMPONENTS)}...", flush=True)
    for name in COMPONENTS:
        args = ["api-server", "--port", str(deployment.port), "--host", "127.0.0.1"] if name == "api-server" else [name]
        deployment.record(StartedProcess.spawn(name, [AIRFLOW_BIN, *args], env, LOG_DIR / f"{name}.log"))
    wait_for_api(deployment.local_url, lambda: _check_alive(deployment), STARTUP_TIMEOUT)
    client = AirflowClient(deployment.local_url, deployment.user, password, timeout=REQUEST_TIMEOUT)
    wait_for_dags(client, lambda: _check_alive(deployment), STARTUP_TIMEOUT)
    ensure_pool(client, env)
    return client


def print_access(deployment: Deployment, password: str | None = None) -> None:
    password = password or read_password(deployment.user)
    print(
        f"""
  UI        {deployment.url}   (Dags -> {MODEL_DAG} -> Trigger; Browse -> Model catalog)
  user      {deployment.user}
  password  {password}

Next:
  export GATEWAYZ_AIRFLOW_URL={deployment.url} GATEWAYZ_AIRFLOW_PASSWORD={password}
  scripts/gatewayz sync provider openrouter    # trigger one provider and follow it
  scripts/gatewayz status                      # every provider's state
  scripts/airflow dags list-runs {MODEL_DAG}   # the airflow CLI, set up for this deployment
  TOKEN=$(curl -s -X POST "$GATEWAYZ_AIRFLOW_URL/auth/token" -H 'Content-Type: application/json' \\
    -d "{{\\"username\\": \\"{deployment.user}\\", \\"password\\": \\"$GATEWAYZ_AIRFLOW_PASSWORD\\"}}" \\
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s "$GATEWAYZ_AIRFLOW_URL/admin/model-sync/status?provider=openrouter" -H "Authorization: Bearer $TOKEN"
  make logs                                    # follow the components' logs
  make down                                    # stop everything make up started"""
    )


def up(demo: bool, port: int, environ: Mapping[str, str] = os.environ) -> int:
    running = Deployment.load()
    if running is not None:
        exited = [p.name for p in running.processes if not p.is_running()]
        exited += [name for name in COMPONENTS if name not in {p.name for p in running.processes}]
        if not exited:
            if running.demo != demo:
                mode = "in demo mode" if running.demo else "without DEMO=1"
                print(f"A local Airflow is already running {mode} at {running.url}; `make down` first to switch.")
                return 1
            print(f"Airflow is already running at {running.url} (`make down` stops it).")
            print_access(running)
            return 0
        print(f"The last `make up` is only partly running ({', '.join(exited)} not running): stopping the rest, starting again.")
        stop(running)
    if not port_is_free(port):
        print(f"Port {port} is in use; choose another, e.g. `make up PORT={port + 1}`.", file=sys.stderr)
        return 1
    settings = read_settings(environ)
    user, password = admin_login(settings)
    suffix = "_demo" if demo else ""
    deployment = Deployment(
        port=port, demo=demo, user=user, metadata_database=f"airflow{suffix}", catalog=f"gatewayz{suffix}",
        ports={"api-server": port, "worker-log-server": free_port(), "trigger-log-server": free_port()},
    )
    deployment.save()
    try:
        client = _start(deployment, settings, environ, password)
    except (Exception, KeyboardInterrupt) as error:
        print(f"make up failed: {error}\nLogs: {LOG_DIR}. Stopping what was started.", file=sys.stderr)
        stop(deployment)
        return 1

    try:
        run_id, state, model_dag, triggered = deploy_hook(client, settings)
    except (CliError, requests.RequestException) as error:
        print(f"make up could not run the deploy hook: {error}\nAirflow keeps running at {deployment.url}; "
              "`make logs` shows why, `make down` stops it.", file=sys.stderr)
        return 1

    catalog = f"your server ({CATALOG_ENV})" if settings.get(CATALOG_ENV) else f"database {deployment.catalog}"
    print(f"\nAirflow is up on the LocalExecutor. Embedded PostgreSQL ({_shown(PGDATA)}): Airflow's metadata in database "
          f"{deployment.metadata_database}; the catalog in {catalog}.")
    if demo:
        print(f"Every provider points at the replay server (http://127.0.0.1:{deployment.ports['replay']}), with demo keys.")
    print(f"Provider sync {run_id}: {state}.")
    print(_model_schedule_line(model_dag, settings, triggered))
    print_access(deployment, password)
    if state != "success":
        print(f"\nThe provider sync ended {state}: open it in the UI, or see `make logs`. Airflow keeps running.")
        return 1
    return 0


def _shown(path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def _model_schedule_line(model_dag: dict, settings: Mapping[str, str], triggered: str | None) -> str:
    line = f"{MODEL_DAG} is unpaused: it runs every {model_sync_interval_hours(settings)} hours"
    next_run = model_dag.get("next_dagrun_run_after")
    if triggered:
        line += f"; SYNC_MODELS_ON_STARTUP started {triggered}"
    if next_run and datetime.fromisoformat(next_run) <= datetime.now(UTC):
        line += f", and Airflow starts the run it missed ({next_run}) now (catchup=False runs only the latest)"
    elif next_run:
        line += f"; next run after {next_run}"
    return line + "."


def stop(deployment: Deployment) -> bool:
    """Stop the recorded Airflow processes (newest first), then PostgreSQL; True when none is left."""
    components = [p for p in reversed(deployment.processes) if p.name != "postgres"]
    outcome = stop_processes(components, timeout=45)
    outcome.update(stop_processes([p for p in deployment.processes if p.name == "postgres"], timeout=60))
    for name, what in outcome.items():
        print(f"  {name:<14} {what}")
    left = [p.name for p in deployment.processes if p.is_running()]
    if left:
        print(f"Still running: {', '.join(left)}", file=sys.stderr)
        return False
    STATE_FILE.unlink(missing_ok=True)
    return True


def down() -> int:
    deployment = Deployment.load()
    if deployment is None:
        print(f"No local Airflow is recorded in {STATE_FILE}; nothing to stop.")
        return 0
    print(f"Stopping the local Airflow at {deployment.url}:")
    return 0 if stop(deployment) else 1


def logs(lines: int) -> int:
    files = sorted(str(path) for path in LOG_DIR.glob("*.log"))
    if not files:
        print(f"No logs in {LOG_DIR}; `make up` first.", file=sys.stderr)
        return 1
    os.execvp("tail", ["tail", "-n", str(lines), "-F", *files])
    return 0


def _holding_lock(command):
    """Run `command` while no other `up` / `down` runs on the same `.local/`."""
    UP_DIR.mkdir(parents=True, exist_ok=True)
    with (UP_DIR / "lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("Another `make up` or `make down` is running on this .local/; try again when it is done.", file=sys.stderr)
            return 1
        return command()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start Airflow locally")
    start.add_argument("--demo", action="store_true", help="every provider at the replay server, with demo keys")
    start.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8080))
    commands.add_parser("down", help="stop what `up` started")
    tail = commands.add_parser("logs", help="follow the components' logs")
    tail.add_argument("--lines", type=int, default=40)
    args = parser.parse_args(argv)
    if args.command == "up":
        return _holding_lock(lambda: up(args.demo, args.port))
    if args.command == "down":
        return _holding_lock(down)
    return logs(args.lines)


if __name__ == "__main__":
    sys.exit(main())
