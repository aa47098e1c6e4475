"""Airflow, as the web app needs it: a run of the model sync created through Airflow's own REST API with the
caller's token (so Airflow validates the conf and applies its permissions), and the DAG's next scheduled run."""

from __future__ import annotations

import os
from typing import Any

import httpx
from fastapi import HTTPException, Request

MODEL_SYNC_DAG = "gatewayz_sync_models"


def caller_token(request: Request) -> str:
    """The caller's JWT: a bearer header, or the UI's session cookie."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:]
    return request.cookies.get("_token", "")


def _api_url(request: Request) -> str:
    configured = os.environ.get("GATEWAYZ_AIRFLOW_API_URL")
    if configured:
        return configured.rstrip("/")
    host, port = request.scope.get("server") or ("127.0.0.1", 8080)
    host = "127.0.0.1" if host in ("0.0.0.0", "::", None) else host
    return f"http://{host}:{port}"


def _public_base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def trigger_model_sync(request: Request, providers: list[str], dry_run: bool) -> dict[str, Any]:
    """Create a model-sync run (unpausing the DAG if paused); Airflow's own errors come back with their status."""
    headers = {"Authorization": f"Bearer {caller_token(request)}"}
    conf = {"providers": providers, "dry_run": dry_run}
    with httpx.Client(base_url=_api_url(request), headers=headers, timeout=30) as client:
        dag = client.get(f"/api/v2/dags/{MODEL_SYNC_DAG}")
        if dag.status_code != 200:
            raise HTTPException(status_code=dag.status_code, detail=dag.json().get("detail", dag.text))
        unpaused = False
        if dag.json().get("is_paused"):
            client.patch(f"/api/v2/dags/{MODEL_SYNC_DAG}", json={"is_paused": False}).raise_for_status()
            unpaused = True
        created = client.post(f"/api/v2/dags/{MODEL_SYNC_DAG}/dagRuns", json={"logical_date": None, "conf": conf})
        if created.status_code >= 300:
            raise HTTPException(status_code=created.status_code, detail=created.json().get("detail", created.text))
    run = created.json()
    return {
        "dag_id": MODEL_SYNC_DAG,
        "dag_run_id": run["dag_run_id"],
        "state": run.get("state"),
        "conf": conf,
        "unpaused": unpaused,
        "ui_url": f"{_public_base(request)}/dags/{MODEL_SYNC_DAG}/runs/{run['dag_run_id']}",
    }


def next_model_sync() -> dict[str, Any]:
    """When the scheduler will next create a model-sync run, and whether the DAG is paused (Airflow's metadata)."""
    try:
        from airflow.models.dag import DagModel
        from airflow.utils.session import create_session

        with create_session() as session:
            dag = session.get(DagModel, MODEL_SYNC_DAG)
            if dag is None:
                return {"next_run_after": None, "paused": None}
            return {
                "next_run_after": dag.next_dagrun_create_after.isoformat() if dag.next_dagrun_create_after else None,
                "paused": dag.is_paused,
            }
    except Exception as exc:
        return {"next_run_after": None, "paused": None, "error": str(exc)}


def scheduler_health() -> dict[str, Any] | None:
    """The scheduler's status and latest heartbeat, as Airflow's own `/api/v2/monitor/health` reports them."""
    try:
        from airflow.api.common.airflow_health import get_airflow_health

        return get_airflow_health().get("scheduler")
    except Exception as exc:
        return {"status": None, "error": str(exc)}
