"""Real Airflow components on this machine: api-server, scheduler, dag-processor and, for Celery, workers.

PostgreSQL holds the metadata (a database per cluster), every process shares one JWT secret and runs in its
own process group, and `stop()` ends every group and drops the database. Two shapes:

- `AirflowCluster`: the production shape, CeleryExecutor (Redis broker) and two workers (or the LocalExecutor),
  a triggerer when asked for one, DAGs and plugin from this checkout through `airflow_home_settings` (the
  environment `make run` uses).
- `BareAirflow`: what an operator who only adds our bundle has: LocalExecutor, no pool, no init script, no
  PYTHONPATH, no plugin; the DAG bundles come from `dag_bundle_config_list`, the rest from `env`.

No process listens on 8793 or 8794 (the default log-server ports): each cluster picks free ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from include.gatewayz_sync.dev.deployment import free_port
from include.gatewayz_sync.dev.local import airflow_home_settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ADMIN_USER = "admin"
AIRFLOW_BIN = str(Path(sys.executable).with_name("airflow"))
FINISHED_RUN_STATES = ("success", "failed")
# What a bare host keeps of this process's environment: nothing that points Python or Airflow at the project.
HOST_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "TZ")
# The checkout as a local DAG bundle, as an operator configures it (docs/deploying.md, "Deploying to your Airflow").
LOCAL_BUNDLE = {
    "name": "gatewayz",
    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
    "kwargs": {"path": str(PROJECT_ROOT)},
}


class _AirflowProcesses:
    """A metadata database, one Airflow home, and Airflow processes in process groups of their own."""

    def __init__(self, workdir: Path, pg_admin, pg_login: str, airflow_command: list[str] | None = None):
        self.workdir = Path(workdir)
        self.airflow_command = airflow_command or [AIRFLOW_BIN]
        self.pg_admin = pg_admin
        self.metadata_db = f"gatewayz_e2e_meta_{os.getpid()}_{secrets.token_hex(3)}"
        self.metadata_url = f"postgresql+psycopg://{pg_login}@127.0.0.1:5432/{self.metadata_db}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.processes: dict[str, subprocess.Popen] = {}
        self.home = self.workdir / "airflow"
        self.logs = self.workdir / "logs"
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.passwords = self.home / "passwords.json"
        self.passwords.write_text(json.dumps({ADMIN_USER: self.password}))
        self._token: str | None = None
        self.env: dict[str, str] = {}

    def _common_settings(self) -> dict[str, str]:
        return {
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords),
            "AIRFLOW__CORE__FERNET_KEY": "",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run one `airflow` CLI command in this cluster's environment; its output is in the error if it fails."""
        result = subprocess.run(
            [*self.airflow_command, *args], env=self.env, timeout=timeout, capture_output=True, text=True,
            cwd=self.workdir,
        )
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} exited {result.returncode}: {result.stderr[-3000:]}")
        return result

    def _spawn(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("a")
        self.processes[name] = subprocess.Popen(
            [*self.airflow_command, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=self.workdir,
        )

    def _spawn_components(self) -> None:
        self._spawn("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1")
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")

    def start(self, timeout: float = 180):
        with self.pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{self.metadata_db}"')
        self.airflow("db", "migrate")
        self._spawn_components()
        self.wait_until_ready(timeout)
        return self

    def token(self) -> str:
        response = requests.post(
            f"{self.url}/auth/token", json={"username": ADMIN_USER, "password": self.password}, timeout=60
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One authenticated REST call (`path` under the api-server, e.g. `/api/v2/pools`)."""
        if self._token is None:
            self._token = self.token()
        headers = {"Authorization": f"Bearer {self._token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=kwargs.pop("timeout", 30), **kwargs)

    def wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.logs / (name + '.log')}")
            try:
                headers = {"Authorization": f"Bearer {self.token()}"}
                dags = requests.get(f"{self.url}/api/v2/dags", headers=headers, timeout=5).json()
                ids = {d["dag_id"] for d in dags.get("dags", [])}
                if {"gatewayz_sync_providers", "gatewayz_sync_models"} <= ids:
                    return
                last_error = f"DAGs parsed so far: {sorted(ids)}"
            except (requests.RequestException, ValueError) as error:
                last_error = str(error)
            time.sleep(1)
        raise TimeoutError(f"Airflow was not ready within {timeout} s: {last_error}")

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        """Unpause the DAG and create a run over REST, as an operator would; returns the run id."""
        unpaused = self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        unpaused.raise_for_status()
        body: dict[str, Any] = {"logical_date": None}
        if conf is not None:
            body["conf"] = conf
        created = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        assert created.status_code == 200, created.text
        return created.json()["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict:
        response = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        response.raise_for_status()
        return response.json()

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        """The run's REST document once it has finished; TimeoutError (bounded) otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            document = self.run(dag_id, run_id)
            if document["state"] in FINISHED_RUN_STATES:
                return document
            time.sleep(1)
        raise TimeoutError(f"{dag_id} run {run_id} did not finish within {timeout} s: {self.run(dag_id, run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        response = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        response.raise_for_status()
        return response.json()["task_instances"]

    def run_ids(self, dag_id: str) -> set[str]:
        runs = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()["dag_runs"]
        return {run["dag_run_id"] for run in runs}

    def wait_for_new_run(self, dag_id: str, known: set[str], run_type: str, timeout: float = 90) -> str:
        """The id of a run of `run_type` (e.g. `asset_triggered`) not in `known`, once the scheduler made one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100}).json()["dag_runs"]
            new = [run for run in runs if run["dag_run_id"] not in known and run["run_type"] == run_type]
            if new:
                return new[0]["dag_run_id"]
            time.sleep(1)
        raise TimeoutError(f"no new {run_type} run of {dag_id} within {timeout} s")

    def task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 1) -> str:
        """A task attempt's log as served by the REST API (JSON text, quotes escaped)."""
        response = self.api(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"map_index": map_index, "full_content": "true"}, headers={"Accept": "application/json"},
        )
        response.raise_for_status()
        return json.dumps(response.json())

    def shell(self, command: str, **env: str) -> subprocess.CompletedProcess:
        """A command as an operator types it (e.g. from the README), in this deployment's environment."""
        path = f"{Path(AIRFLOW_BIN).parent}:{self.env.get('PATH', '')}"
        return subprocess.run(["bash", "-c", command], env={**self.env, **env, "PATH": path}, cwd=self.workdir,
                              capture_output=True, text=True, timeout=120)

    def log_text(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def _stop_processes(self, names) -> None:
        for name in names:
            process = self.processes[name]
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for name in names:
            process = self.processes[name]
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def stop(self) -> None:
        self._stop_processes(list(self.processes))
        with self.pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.metadata_db}" WITH (FORCE)')


class AirflowCluster(_AirflowProcesses):
    """CeleryExecutor with `workers` Celery workers (or `executor="LocalExecutor"`), optionally a triggerer; DAGs
    and plugin from this checkout."""

    def __init__(self, workdir: Path, pg_admin, pg_login: str, env: dict[str, str], workers: int = 2,
                 executor: str = "CeleryExecutor", triggerer: bool = False):
        super().__init__(workdir, pg_admin, pg_login)
        self.workers = workers if executor == "CeleryExecutor" else 0
        self.triggerer = triggerer
        self.env = {
            **os.environ,
            **env,
            **airflow_home_settings(self.home, self.metadata_url),
            **self._common_settings(),
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{secrets.randbelow(14) + 1}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.metadata_url}",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        }
        self.env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)

    def _spawn_components(self) -> None:
        super()._spawn_components()
        if self.triggerer:
            self._spawn("triggerer", "triggerer")
        for index in range(1, self.workers + 1):
            self._spawn(
                f"worker-{index}", "celery", "worker", "--celery-hostname", f"w{index}@%h", "--concurrency", "4",
            )


class BareAirflow(_AirflowProcesses):
    """LocalExecutor with only `bundles` (dag_bundle_config_list) and `env` (connections, settings) added."""

    def __init__(self, workdir: Path, pg_admin, pg_login: str, bundles: list[dict], env: dict[str, str],
                 airflow_command: list[str] | None = None):
        super().__init__(workdir, pg_admin, pg_login, airflow_command)
        self.env = {
            **{name: os.environ[name] for name in HOST_VARIABLES if name in os.environ},
            **env,
            **self._common_settings(),
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH": str(self.workdir / "bundles"),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        }

    def restart(self, names: tuple[str, ...], **env: str) -> None:
        """Stop `names`, change their environment, start them again (e.g. a DAG setting read at parse time)."""
        assert set(names) <= {"scheduler", "dag-processor"}, names
        self._stop_processes(names)
        self.env.update(env)
        for name in names:
            self._spawn(name, name)
