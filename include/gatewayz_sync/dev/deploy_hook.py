"""What `make up` does over Airflow's REST API once the components run: wait until the api-server answers and
the DAGs are parsed, create the pool `GATEWAYZ_HTTP_POOL` names (if it names one: none is needed otherwise),
then the deploy hook: the provider sync once, then every DAG the catalog needs unpaused (`cli.CATALOG_DAGS`, the
same set `scripts/gatewayz sync providers --unpause` unpauses)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import requests

from ..config import ConcurrencySettings
from .cli import AFTER_PROVIDERS, CATALOG_DAGS, MODEL_DAG, PROVIDER_DAG, AirflowClient

PROVIDER_SYNC_TIMEOUT = 900


def wait_for_api(url: str, check_alive: Callable[[], None], timeout: float) -> None:
    """Until `url` answers /api/v2/version; `check_alive` raises when a component has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_alive()
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/api/v2/version", timeout=5).ok:
                return
        time.sleep(1)
    raise TimeoutError(f"the api-server did not answer within {timeout} s")


def wait_for_dags(client: AirflowClient, check_alive: Callable[[], None], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_alive()
        with contextlib.suppress(requests.RequestException):  # a busy api-server: ask again until the deadline
            if all(client.session.get(f"{client.url}/api/v2/dags/{dag_id}", timeout=client.timeout).ok
                   for dag_id in CATALOG_DAGS):
                return
        time.sleep(2)
    errors = client.request("GET", "/api/v2/importErrors").get("import_errors", [])
    raise TimeoutError(f"the DAGs were not parsed within {timeout} s; import errors: {errors or 'none'}")


def ensure_pool(client: AirflowClient, env: Mapping[str, str]) -> None:
    """Create the named pool when it is missing, so a local deployment with GATEWAYZ_HTTP_POOL set just works."""
    settings = ConcurrencySettings.from_env(env)
    if settings.pool and client.session.get(f"{client.url}/api/v2/pools/{settings.pool}", timeout=30).status_code == 404:
        client.request("POST", "/api/v2/pools", json={"name": settings.pool, "slots": settings.max_active_providers,
                                                      "description": "gatewayz model-list requests"})


def _set_paused(client: AirflowClient, dag_id: str, paused: bool) -> dict:
    return client.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})


def _run_provider_sync(client: AirflowClient, timeout: float) -> tuple[str, str]:
    run_id = client.request("POST", f"/api/v2/dags/{PROVIDER_DAG}/dagRuns", json={"logical_date": None})["dag_run_id"]
    deadline = time.monotonic() + timeout
    state = "queued"
    while time.monotonic() < deadline:
        try:
            state = client.run_state(PROVIDER_DAG, run_id)
        except requests.RequestException:
            state = "unknown (the api-server did not answer)"  # busy; ask again until the deadline
        if state in ("success", "failed"):
            break
        time.sleep(2)
    return run_id, state


@dataclass(frozen=True)
class DeployOutcome:
    run_id: str
    state: str
    model_dag: dict
    triggered: str | None
    unpaused: list[str]


def deploy_hook(client: AirflowClient, settings: Mapping[str, str]) -> DeployOutcome:
    """Provider sync once, then the price, publish and model DAGs unpaused (the model DAG triggered too with
    SYNC_MODELS_ON_STARTUP): every model sync is followed by its prices and a publish under .local/."""
    unpaused = client.unpause([PROVIDER_DAG])
    # Paused until the providers exist: unpausing it first would start its catch-up run on an empty catalog.
    _set_paused(client, MODEL_DAG, paused=True)
    print(f"Running the provider sync ({PROVIDER_DAG}, the deploy hook)...", flush=True)
    run_id, state = _run_provider_sync(client, PROVIDER_SYNC_TIMEOUT)
    unpaused += client.unpause(AFTER_PROVIDERS)
    model_dag = client.request("GET", f"/api/v2/dags/{MODEL_DAG}")
    triggered = None
    if state == "success" and settings.get("SYNC_MODELS_ON_STARTUP", "false").strip().lower() in ("1", "true", "yes"):
        triggered = client.request("POST", f"/api/v2/dags/{MODEL_DAG}/dagRuns", json={"logical_date": None})["dag_run_id"]
    return DeployOutcome(run_id, state, model_dag, triggered, unpaused)
