"""`make up` / `make down` / `make logs`: the real Airflow, on this machine, in one command.

    python -m include.gatewayz_sync.dev.up up [--demo] [--port 8080]
    python -m include.gatewayz_sync.dev.up down
    python -m include.gatewayz_sync.dev.up logs [--lines 40]

`up` starts the api-server, scheduler, dag-processor and triggerer on the LocalExecutor under a supervisor that
restarts any of them that dies (`supervisor.py`), with Airflow's metadata in a database of its own on the
embedded PostgreSQL that `make run` uses for the catalog; runs the provider sync once (the deploy hook); then
unpauses every DAG the catalog needs (prices, publish, and the model DAG, so its schedule runs: on a new
deployment Airflow starts the latest slot it missed at once; SYNC_MODELS_ON_STARTUP=true also triggers one, as
compose does); and prints the UI's address, the logins and what to try next. With `--demo` every provider points
at the replay server, with demo keys, as in `make demo`. `down` stops exactly the processes `up` recorded in
`.local/up/state.json` and the supervisor's record `.local/up/supervisor.json`.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

import psutil
import requests

from ..config import model_sync_interval_hours
from .cli import MODEL_DAG, AirflowClient, CliError
from .deploy_hook import deploy_hook, ensure_pool, wait_for_api, wait_for_dags
from .deployment import (
    LOG_DIR,
    PASSWORDS_FILE,
    STATE_FILE,
    SUPERVISOR_PLAN,
    SUPERVISOR_STATUS,
    UP_DIR,
    Deployment,
    LoginError,
    Logins,
    airflow_environment,
    compile_bytecode,
    free_port,
    logins,
    parse_users,
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
    running_postmaster,
    start_embedded_postgres,
)
from .processes import StartedProcess, stop_processes
from .supervisor import GAVE_UP, ComponentSpec, SupervisorPlan

AIRFLOW_BIN = os.path.join(os.path.dirname(sys.executable), "airflow")
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
STARTUP_TIMEOUT = 600
REQUEST_TIMEOUT = 120  # a loaded laptop's api-server can take half a minute to answer


def _check_alive(deployment: Deployment) -> None:
    for process in deployment.processes:
        if not process.is_running():
            raise RuntimeError(f"{process.name} exited; see {LOG_DIR / (process.name + '.log')}")
    for name, (_, state) in deployment.supervised().items():
        if state == GAVE_UP:
            raise RuntimeError(f"{name} keeps exiting; see {LOG_DIR / (name + '.log')} and {LOG_DIR / 'supervisor.log'}")


def _components(deployment: Deployment) -> list[ComponentSpec]:
    """What the supervisor runs, in start order: the demo's replay server first, then Airflow."""
    specs = []
    if deployment.demo:
        page_sizes = [f"--page-size={slug}={size}" for slug, size in DEMO_PAGE_SIZES.items()]
        specs.append(ComponentSpec("replay", [sys.executable, "-m", f"{__package__}.replay", "--port",
                                              str(deployment.ports["replay"]), *page_sizes], str(LOG_DIR / "replay.log")))
    for name in COMPONENTS:
        args = ["api-server", "--port", str(deployment.port), "--host", "127.0.0.1"] if name == "api-server" else [name]
        specs.append(ComponentSpec(name, [AIRFLOW_BIN, *args], str(LOG_DIR / f"{name}.log")))
    return specs


def _start(deployment: Deployment, settings: Mapping[str, str], environ: Mapping[str, str], accounts: Logins):
    """Start everything, recording each process as it starts; returns a logged-in REST client."""
    compile_bytecode()
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
        users_setting=accounts.users_setting,
    )
    write_airflow_env_script(env, environ)
    print(f"Migrating Airflow's metadata (database {deployment.metadata_database})...", flush=True)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / "db-migrate.log").open("w") as log:
        subprocess.run([AIRFLOW_BIN, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True,
                       timeout=STARTUP_TIMEOUT)
    specs = _components(deployment)
    print(f"Starting {', '.join(spec.name for spec in specs)} under the supervisor...", flush=True)
    SUPERVISOR_STATUS.unlink(missing_ok=True)
    SupervisorPlan(specs, str(SUPERVISOR_STATUS)).save(SUPERVISOR_PLAN)
    deployment.record(StartedProcess.spawn("supervisor", [sys.executable, "-m", f"{__package__}.supervisor",
                                                          str(SUPERVISOR_PLAN)], env, LOG_DIR / "supervisor.log"))
    wait_for_api(deployment.local_url, lambda: _check_alive(deployment), STARTUP_TIMEOUT)
    client = AirflowClient(deployment.local_url, deployment.user, accounts.passwords[deployment.user],
                           timeout=REQUEST_TIMEOUT)
    wait_for_dags(client, lambda: _check_alive(deployment), STARTUP_TIMEOUT)
    ensure_pool(client, env)
    return client


def _other_logins(deployment: Deployment) -> str:
    """A line per login besides the admin's, with its role and password (the passwords file holds them all)."""
    passwords = json.loads(PASSWORDS_FILE.read_text()) if PASSWORDS_FILE.exists() else {}
    return "".join(f"\n  also      {user} ({role}), password {passwords.get(user, '?')}"
                   for user, role in parse_users(deployment.users).items() if user != deployment.user)


def print_access(deployment: Deployment, password: str | None = None) -> None:
    password = password or read_password(deployment.user)
    print(
        f"""
  UI        {deployment.url}   (Dags -> {MODEL_DAG} -> Trigger; Browse -> Model catalog)
  user      {deployment.user}
  password  {password}{_other_logins(deployment)}

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


def _not_running(deployment: Deployment) -> list[str]:
    """What of a recorded `make up` is not running (a component the supervisor is restarting counts as running)."""
    gone = [p.name for p in deployment.processes if p.name != "postgres" and not p.is_running()]
    if "postgres" in {p.name for p in deployment.processes} and running_postmaster() is None:
        gone.append("postgres")
    if "supervisor" not in {p.name for p in deployment.processes}:
        gone.append("supervisor")
    supervised = deployment.supervised()
    gone += [name for name in COMPONENTS if name not in supervised]
    gone += [name for name, (_, state) in supervised.items() if state == GAVE_UP]
    return gone


def up(demo: bool, port: int, environ: Mapping[str, str] = os.environ) -> int:
    running = Deployment.load()
    if running is not None:
        exited = _not_running(running)
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
    try:
        accounts = logins(settings)
    except LoginError as error:
        print(f"make up: {error}", file=sys.stderr)
        return 1
    suffix = "_demo" if demo else ""
    deployment = Deployment(
        port=port, demo=demo, user=accounts.admin, metadata_database=f"airflow{suffix}", catalog=f"gatewayz{suffix}",
        users=accounts.users_setting,
        ports={"api-server": port, "worker-log-server": free_port(), "trigger-log-server": free_port()},
    )
    deployment.save()
    try:
        client = _start(deployment, settings, environ, accounts)
    except (Exception, KeyboardInterrupt) as error:
        print(f"make up failed: {error}\nLogs: {LOG_DIR}. Stopping what was started.", file=sys.stderr)
        stop(deployment)
        return 1

    try:
        hook = deploy_hook(client, settings)
    except (CliError, requests.RequestException) as error:
        print(f"make up could not run the deploy hook: {error}\nAirflow keeps running at {deployment.url}; "
              "`make logs` shows why, `make down` stops it.", file=sys.stderr)
        return 1

    catalog = f"your server ({CATALOG_ENV})" if settings.get(CATALOG_ENV) else f"database {deployment.catalog}"
    print(f"\nAirflow is up on the LocalExecutor, supervised (a component that dies is restarted; `make logs`). "
          f"Embedded PostgreSQL ({_shown(PGDATA)}): Airflow's metadata in database "
          f"{deployment.metadata_database}; the catalog in {catalog}.")
    if demo:
        print(f"Every provider points at the replay server (http://127.0.0.1:{deployment.ports['replay']}), with demo keys.")
    print(f"Provider sync {hook.run_id}: {hook.state}.")
    print(f"Unpaused: {', '.join(hook.unpaused) or 'nothing (every DAG was already unpaused)'}.")
    print(_model_schedule_line(hook.model_dag, settings, hook.triggered))
    print_access(deployment, accounts.passwords[accounts.admin])
    if hook.state != "success":
        print(f"\nThe provider sync ended {hook.state}: open it in the UI, or see `make logs`. Airflow keeps running.")
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


def _stop_supervisor(record: StartedProcess, timeout: float = 15) -> str:
    """SIGTERM to the supervisor alone: it stops restarting and exits, leaving its components to `stop`."""
    process = record.process()
    if process is None:
        return "was not running"
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except psutil.TimeoutExpired:
        process.kill()
        return f"killed after {timeout:.0f} s (pid {record.pid})"
    return f"stopped (pid {record.pid})"


def stop(deployment: Deployment) -> bool:
    """Stop the supervisor (so nothing is restarted), then what it supervised and the rest of the recorded processes
    (newest first), then PostgreSQL (whichever postmaster serves the data directory now); True when none is left."""
    outcome = {p.name: _stop_supervisor(p) for p in deployment.processes if p.name == "supervisor"}
    supervised = [record for record, _ in deployment.supervised().values() if record is not None]
    others = [p for p in reversed(deployment.processes) if p.name not in ("postgres", "supervisor")]
    outcome.update(stop_processes([*reversed(supervised), *others], timeout=45))
    postgres = [p for p in deployment.processes if p.name == "postgres"]
    if postgres and not postgres[0].is_running() and (pid := running_postmaster()):
        postgres = [StartedProcess.adopt("postgres", pid, stop_signal="SIGINT")]  # restarted since `make up`
    outcome.update(stop_processes(postgres, timeout=60))
    for name, what in outcome.items():
        print(f"  {name:<14} {what}")
    left = [p.name for p in [*deployment.processes, *supervised, *postgres] if p.is_running()]
    if left:
        print(f"Still running: {', '.join(left)}", file=sys.stderr)
        return False
    STATE_FILE.unlink(missing_ok=True)
    SUPERVISOR_STATUS.unlink(missing_ok=True)
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
