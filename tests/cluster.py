"""Real Airflow components on this machine: api-server, scheduler, dag-processor and Celery workers (or the
LocalExecutor), and a triggerer when asked for one.

PostgreSQL holds the metadata (a database per cluster), Redis brokers Celery, every process shares one JWT
secret and runs in its own process group, and `stop()` ends every group and drops the database.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from include.gatewayz_sync.dev.local import airflow_home_settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ADMIN_USER = "admin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AirflowCluster:
    def __init__(self, workdir: Path, pg_admin, pg_login: str, env: dict[str, str], workers: int = 2,
                 executor: str = "CeleryExecutor", triggerer: bool = False):
        self.workdir = Path(workdir)
        self.pg_admin = pg_admin
        self.metadata_db = f"gatewayz_e2e_meta_{os.getpid()}_{secrets.token_hex(3)}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.workers = workers if executor == "CeleryExecutor" else 0
        self.triggerer = triggerer
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = self.workdir / "logs"
        home = self.workdir / "airflow"
        home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        passwords = home / "passwords.json"
        passwords.write_text(json.dumps({ADMIN_USER: self.password}))
        metadata_url = f"postgresql+psycopg://{pg_login}@127.0.0.1:5432/{self.metadata_db}"
        self.env = {
            **os.environ,
            **env,
            **airflow_home_settings(home, metadata_url),
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{secrets.randbelow(14) + 1}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__FERNET_KEY": "",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__API__BASE_URL": self.url,
            # never the default 8793 / 8794: other clusters on this machine serve logs there
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }
        self.env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)

    def _airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        airflow = str(Path(sys.executable).with_name("airflow"))
        return subprocess.run(
            [airflow, *args], env=self.env, check=True, timeout=timeout, capture_output=True, text=True
        )

    def _spawn(self, name: str, *args: str) -> None:
        airflow = str(Path(sys.executable).with_name("airflow"))
        log = (self.logs / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            [airflow, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start(self, timeout: float = 180) -> AirflowCluster:
        with self.pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{self.metadata_db}"')
        self._airflow("db", "migrate")
        self._airflow("pools", "set", "gatewayz_provider_http", "8", "Outbound model-list requests")
        self._spawn("api-server", "api-server", "--port", str(self.port), "--host", "127.0.0.1")
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        if self.triggerer:
            self._spawn("triggerer", "triggerer")
        for index in range(1, self.workers + 1):
            self._spawn(
                f"worker-{index}", "celery", "worker", "--celery-hostname", f"w{index}@%h", "--concurrency", "4",
            )
        self.wait_until_ready(timeout)
        return self

    def token(self) -> str:
        response = requests.post(
            f"{self.url}/auth/token", json={"username": ADMIN_USER, "password": self.password}, timeout=10
        )
        response.raise_for_status()
        return response.json()["access_token"]

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

    def log_text(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with self.pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.metadata_db}" WITH (FORCE)')
