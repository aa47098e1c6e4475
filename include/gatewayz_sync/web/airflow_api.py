"""Airflow, as the web app needs it: a run of the model sync created through Airflow's own REST API with the
caller's token (so Airflow validates the conf and applies its permissions), and the DAG's next scheduled run.

A trigger never changes the DAG's pause state on its own: a paused DAG is an operator's decision, so a trigger
on it is refused (409) unless the caller asks for `unpause=true`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, ValidationError

MODEL_SYNC_DAG = "gatewayz_sync_models"
MAX_TRIGGER_BODY = 4096


class TriggerOptions(BaseModel):
    """What a trigger may say, as query parameters or a small JSON body; anything else is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False
    allow_shrink: bool = False
    allow_field_loss: bool = False
    accept_price_jumps: bool = False
    unpause: bool = False


def _options(values: dict[str, Any]) -> TriggerOptions:
    try:
        return TriggerOptions.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())
        raise HTTPException(
            status_code=422, detail=f"{problems} (allowed: {', '.join(TriggerOptions.model_fields)})"
        ) from None


async def trigger_options(request: Request) -> TriggerOptions:
    """The options from the query string and the JSON body. A key given twice must say the same thing both times
    (`?dry_run=true` with `{"dry_run": false}` is a 422 naming it), so neither place silently wins."""
    body = await request.body()
    if len(body) > MAX_TRIGGER_BODY:
        raise HTTPException(status_code=413, detail=f"a trigger body is at most {MAX_TRIGGER_BODY} bytes")
    try:
        document = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError):
        raise HTTPException(status_code=422, detail="the trigger body is not a JSON object") from None
    if not isinstance(document, dict):
        raise HTTPException(status_code=422, detail="the trigger body is not a JSON object")
    repeated = [name for name in request.query_params if len(set(request.query_params.getlist(name))) > 1]
    if repeated:
        raise HTTPException(status_code=422, detail=f"{repeated[0]} is given more than once in the query string "
                                                    "with different values; give it once")
    query, given = _options(dict(request.query_params)), _options(document)
    for name in sorted(request.query_params.keys() & document.keys()):
        if getattr(query, name) != getattr(given, name):
            raise HTTPException(
                status_code=422,
                detail=f"{name} differs: {request.query_params[name]!r} in the query string, "
                       f"{json.dumps(document[name])} in the JSON body; give it in one place, or the same in both",
            )
    return query.model_copy(update=given.model_dump(exclude_unset=True))


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


def run_ui_url(run_id: str) -> str:
    """The run's page in the Airflow UI: under `[api] base_url` when configured, else relative (never built from the
    request's Host header, which a caller controls)."""
    from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    return f"{base}/dags/{MODEL_SYNC_DAG}/runs/{run_id}"


def trigger_model_sync(request: Request, providers: list[str], options: TriggerOptions) -> dict[str, Any]:
    """Create a model-sync run; a paused DAG is a 409 unless `options.unpause`. Airflow's errors keep their status."""
    headers = {"Authorization": f"Bearer {caller_token(request)}"}
    conf: dict[str, Any] = {"providers": providers, "dry_run": options.dry_run}
    for name in ("allow_shrink", "allow_field_loss", "accept_price_jumps"):
        if getattr(options, name):
            conf[name] = True
    with httpx.Client(base_url=_api_url(request), headers=headers, timeout=30) as client:
        dag = client.get(f"/api/v2/dags/{MODEL_SYNC_DAG}")
        if dag.status_code != 200:
            raise HTTPException(status_code=dag.status_code, detail=dag.json().get("detail", dag.text))
        unpaused = False
        if dag.json().get("is_paused"):
            if not options.unpause:
                raise HTTPException(
                    status_code=409,
                    detail=f"{MODEL_SYNC_DAG} is paused, so no run was created. Unpause it in the Airflow UI or with "
                    f"`airflow dags unpause {MODEL_SYNC_DAG}`, or trigger again with unpause=true "
                    "(scheduled and asset-triggered runs then start again too)",
                )
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
        "ui_url": run_ui_url(run["dag_run_id"]),
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


def airflow_health() -> dict[str, Any] | None:
    """The metadata database's, scheduler's, dag-processor's and triggerer's status and latest heartbeats, as
    Airflow's own `/api/v2/monitor/health` reports them; None when they cannot be read."""
    try:
        from airflow.api.common.airflow_health import get_airflow_health

        return get_airflow_health()
    except Exception:
        return None


SUPERVISOR_STATUS_ENV = "GATEWAYZ_SUPERVISOR_STATUS"


def supervisor_status() -> dict[str, Any] | None:
    """`make up`'s supervisor record (each component's restarts), when this api-server runs under it."""
    path = os.environ.get(SUPERVISOR_STATUS_ENV)
    if not path:
        return None
    try:
        with open(path) as document:
            return json.load(document)
    except (OSError, ValueError) as error:
        return {"error": f"cannot read {path}: {error}"}
