"""A real Airflow deployment for the scheduler benchmark: api-server, scheduler, dag-processor and, for the
CeleryExecutor, two workers; PostgreSQL metadata in a database of its own.

It deploys two bundles, the project's dags/ and the benchmark's own scheduler_dags/ (the no-op DAG), and an
`airflow_local_settings.py` in its Airflow home that adds the benchmark's extra provider to the registry in
every Airflow process. Each process runs in its own session (stopped as a group) with its own log-server port
(never 8793/8794); Celery tasks go to a queue of this deployment's own, so no other worker on the broker
takes them.
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
from collections.abc import Mapping
from pathlib import Path

import requests
from psycopg.conninfo import conninfo_to_dict

from benchmarks.measure import PG_DSN, ROOT, create_database, drop_database
from include.gatewayz_sync.dev.deployment import PROJECT_CODE, compile_bytecode, free_port

ADMIN = "admin"
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
BENCH_DAGS = ROOT / "benchmarks" / "scheduler_dags"


def bundle_config_list() -> str:
    """The project's dags/ and the benchmark's no-op DAG, as two local bundles (both modes run the no-op DAG)."""
    return json.dumps([{"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(ROOT / "dags")}},
                       {"name": "benchmark", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(BENCH_DAGS)}}])


LOCAL_SETTINGS = '''"""Benchmark deployment only: every Airflow process of it knows the benchmark's extra provider."""
from types import MappingProxyType

from benchmarks.catalog import benchmark_providers
from include.gatewayz_sync.sources import registry

registry.GATEWAY_REGISTRY = MappingProxyType(benchmark_providers())
'''


class Deployment:
    def __init__(self, workdir: Path, executor: str, env: Mapping[str, str], workers: int = 2, concurrency: int = 4):
        from include.gatewayz_sync.dev.local import airflow_home_settings

        self.executor = executor
        self.workers = workers if executor == "CeleryExecutor" else 0
        self.concurrency = concurrency
        self.logs = Path(workdir) / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        home = Path(workdir) / "airflow"
        (home / "config").mkdir(parents=True, exist_ok=True)
        (home / "config" / "airflow_local_settings.py").write_text(LOCAL_SETTINGS)
        self.metadata_db = f"gatewayz_bench_meta_{secrets.token_hex(4)}"
        login = conninfo_to_dict(PG_DSN).get("user") or "postgres"
        metadata_url = f"postgresql+psycopg://{login}@127.0.0.1:5432/{self.metadata_db}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        (home / "passwords.json").write_text(json.dumps({ADMIN: self.password}))
        self.queue = f"gatewayz_bench_{secrets.token_hex(3)}"
        self.env = {
            **os.environ,
            **env,
            **airflow_home_settings(home, metadata_url),
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": bundle_config_list(),
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{secrets.randbelow(15) + 1}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__CORE__FERNET_KEY": "",
        }
        self.env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
        self.processes: dict[str, subprocess.Popen] = {}
        self._token: tuple[str, float] | None = None

    def _airflow(self, *args: str) -> None:
        subprocess.run([str(Path(sys.executable).with_name("airflow")), *args], env=self.env, check=True,
                       timeout=600, capture_output=True, text=True)

    def _spawn(self, name: str, *args: str) -> None:
        env = {**self.env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
               "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
        log = (self.logs / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen([str(Path(sys.executable).with_name("airflow")), *args], env=env,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self, timeout: float = 900) -> Deployment:
        compile_bytecode((*PROJECT_CODE, ROOT / "benchmarks" / "scheduler_dags"))
        create_database(self.metadata_db)
        self._airflow("db", "migrate")
        self._spawn("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1")
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        for index in range(1, self.workers + 1):
            self._spawn(f"worker-{index}", "celery", "worker", "--celery-hostname", f"bench{index}@%h",
                        "--concurrency", str(self.concurrency), "--queues", self.queue)
        self._wait_for_dags({"gatewayz_sync_models", "gatewayz_bench_noop"}, timeout)
        return self

    def session_ids(self) -> set[int]:
        return {process.pid for process in self.processes.values()}

    def root_pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def api(self, method: str, path: str, **kwargs) -> dict:
        if self._token is None or self._token[1] < time.monotonic():
            response = requests.post(f"{self.url}/auth/token", json={"username": ADMIN, "password": self.password},
                                     timeout=30)
            response.raise_for_status()
            self._token = (response.json()["access_token"], time.monotonic() + 600)
        response = requests.request(method, f"{self.url}{path}", timeout=60,
                                    headers={"Authorization": f"Bearer {self._token[0]}"}, **kwargs)
        response.raise_for_status()
        return response.json()

    def _wait_for_dags(self, dag_ids: set[str], timeout: float) -> None:
        deadline, last = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.logs / (name + '.log')}")
            try:
                found = {d["dag_id"] for d in self.api("GET", "/api/v2/dags", params={"limit": 100})["dags"]}
                if dag_ids <= found:
                    return
                last = f"DAGs parsed so far: {sorted(found)}"
            except (requests.RequestException, ValueError) as error:
                last = str(error)
            time.sleep(2)
        raise TimeoutError(f"the {self.executor} deployment was not ready within {timeout} s: {last}")

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict) -> str:
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})["dag_run_id"]

    def wait(self, dag_id: str, run_id: str, timeout: float = 1800, poll: float = 0.25) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(poll)
        raise TimeoutError(f"{dag_id} run {run_id} did not finish within {timeout} s")

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self.api("GET", path, params={"limit": 1000})["task_instances"]

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        drop_database(self.metadata_db)
