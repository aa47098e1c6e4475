"""The status API and the "Model catalog" page, as a FastAPI app that the Airflow plugin mounts.

Every route requires Airflow authentication (a bearer JWT from `/auth/token`, or the UI's session cookie):
the original system's admin endpoints were open to anyone. Triggers go through Airflow's own REST API with
the caller's token, so Airflow validates the conf (a bad value is a 400) and applies its own permissions.
"""

from __future__ import annotations

import html
import os
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from ..config import SyncSettings
from ..sources.registry import GATEWAY_REGISTRY
from ..store import status as read_model

URL_PREFIX = "/admin/model-sync"
MODEL_SYNC_DAG = "gatewayz_sync_models"
MAX_PAGE = 1000
CHANGE_KINDS = ("added", "removed", "reappeared", "price_changed", "limits_changed", "capabilities_changed",
                "deprecated")


def _authenticated():
    from airflow.api_fastapi.core_api.security import requires_authenticated

    return requires_authenticated()


@contextmanager
def _catalog():
    from ..store.connection import catalog_connector

    connection = catalog_connector()()
    try:
        yield connection
    finally:
        connection.close()


def _next_model_sync() -> dict[str, Any]:
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


def _token(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:]
    return request.cookies.get("_token", "")


def _airflow_api(request: Request) -> str:
    configured = os.environ.get("GATEWAYZ_AIRFLOW_API_URL")
    if configured:
        return configured.rstrip("/")
    host, port = request.scope.get("server") or ("127.0.0.1", 8080)
    host = "127.0.0.1" if host in ("0.0.0.0", "::", None) else host
    return f"http://{host}:{port}"


def _public_base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _check_slug(slug: str) -> None:
    if slug not in GATEWAY_REGISTRY:
        raise HTTPException(
            status_code=404,
            detail=f"unknown provider {slug!r}; known providers: {', '.join(sorted(GATEWAY_REGISTRY))}",
        )


def trigger_model_sync(request: Request, providers: list[str], dry_run: bool) -> dict[str, Any]:
    api = _airflow_api(request)
    headers = {"Authorization": f"Bearer {_token(request)}"}
    conf = {"providers": providers, "dry_run": dry_run}
    with httpx.Client(base_url=api, headers=headers, timeout=30) as client:
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


def status_document(connection, provider: str | None, limit: int, offset: int) -> dict[str, Any]:
    settings = SyncSettings.from_env()
    now = datetime.now(UTC)
    statuses = read_model.provider_statuses(
        connection, stale_hours=settings.stale_hours, now=now, provider=provider, limit=limit, offset=offset
    )
    totals = read_model.catalog_totals(connection)
    return {
        "generated_at": now.isoformat(),
        "stale_after_hours": settings.stale_hours,
        "providers": [s.as_dict() for s in statuses],
        "totals": totals,
        "next_model_sync": _next_model_sync(),
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if len(statuses) == limit else None,
    }


def create_app() -> FastAPI:
    app = FastAPI(
        title="gatewayz model sync",
        description="Status, health and triggers of the gatewayz catalog sync (Airflow authentication required).",
        dependencies=[Depends(_authenticated())],
    )

    @app.get("/status")
    def get_status(
        provider: str | None = None,
        limit: int = Query(100, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        if provider is not None:
            _check_slug(provider)
        with _catalog() as connection:
            return status_document(connection, provider, limit, offset)

    @app.get("/health")
    def get_health() -> JSONResponse:
        settings = SyncSettings.from_env()
        with _catalog() as connection:
            statuses = read_model.provider_statuses(
                connection, stale_hours=settings.stale_hours, now=datetime.now(UTC), limit=100_000
            )
        healthy, stale = read_model.health(statuses)
        body = {"status": "ok" if healthy else "stale", "stale_after_hours": settings.stale_hours, "stale": stale}
        return JSONResponse(body, status_code=200 if healthy else 503)

    @app.get("/changes")
    def get_changes(
        since: datetime | None = None,
        provider: str | None = None,
        kind: str | None = Query(None, enum=list(CHANGE_KINDS)),
        limit: int = Query(100, ge=1, le=MAX_PAGE),
        before_id: int | None = Query(None, ge=1),
    ) -> dict[str, Any]:
        if provider is not None:
            _check_slug(provider)
        with _catalog() as connection:
            items = read_model.recent_changes(
                connection, since=since, provider=provider, kind=kind, limit=limit, before_id=before_id
            )
        return {"changes": items, "next_before_id": items[-1]["id"] if len(items) == limit else None}

    @app.post("/all")
    def post_all(request: Request, dry_run: bool = False) -> dict[str, Any]:
        return trigger_model_sync(request, [], dry_run)

    @app.post("/provider/{slug}")
    def post_provider(request: Request, slug: str, dry_run: bool = False) -> dict[str, Any]:
        _check_slug(slug)
        return trigger_model_sync(request, [slug], dry_run)

    @app.get("/page", response_class=HTMLResponse)
    def get_page() -> HTMLResponse:
        with _catalog() as connection:
            document = status_document(connection, None, MAX_PAGE, 0)
            changes = read_model.recent_changes(connection, limit=50)
        return HTMLResponse(render_page(document, changes))

    return app


STATE_STYLES = {
    "fresh": ("#0f7b3f", "#e3f6ea"),
    "stale": ("#8a5a00", "#fff2d6"),
    "failed": ("#b42318", "#fde8e6"),
    "skipped": ("#475467", "#eef0f3"),
    "never": ("#8a5a00", "#fff2d6"),
    "disabled": ("#475467", "#eef0f3"),
    "inactive": ("#475467", "#eef0f3"),
    "no-api": ("#475467", "#eef0f3"),
}


STATE_ORDER = ("failed", "stale", "never", "skipped", "fresh", "disabled", "no-api", "inactive")


def _cell(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


def _when(value: str | None) -> str:
    """`2026-11-26T20:53:25.59+00:00` -> `2026-11-26 20:53 UTC`."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return html.escape(value)


def render_page(document: dict[str, Any], changes: list[dict[str, Any]]) -> str:
    """Server-rendered page: readable at a glance, no JavaScript, refreshes itself every minute."""
    totals = document["totals"]
    next_sync = document["next_model_sync"]
    counts: dict[str, int] = {}
    for provider in document["providers"]:
        counts[provider["state"]] = counts.get(provider["state"], 0) + 1
    badges = " ".join(
        f'<span class="badge state-{html.escape(state)}">{html.escape(state)}: {count}</span>'
        for state, count in sorted(counts.items())
    )
    rows = []
    ordered = sorted(document["providers"], key=lambda p: (STATE_ORDER.index(p["state"]), p["slug"]))
    for p in ordered:
        attempt = p["last_attempt"] or {}
        counts_cell = attempt.get("counts") or {}
        rows.append(
            f'<tr class="row-{_cell(p["state"])}">'
            f'<td><span class="badge state-{_cell(p["state"])}">{_cell(p["state"])}</span></td>'
            f"<td><b>{_cell(p['slug'])}</b><br><small>{_cell(p['name'])}</small></td>"
            f"<td class=num>{_cell(p['active_models'])}</td><td class=num>{_cell(p['inactive_models'])}</td>"
            f"<td>{_cell(attempt.get('status'))}<br><small>{_when(attempt.get('finished_at'))}</small></td>"
            f"<td>{_when(p['last_success_at'])}</td>"
            f"<td class=num>{_cell(p['age_hours'])}</td>"
            f"<td class=num>{_cell(counts_cell.get('fetched'))} / {_cell(counts_cell.get('inserted'))} / "
            f"{_cell(counts_cell.get('updated'))} / {_cell(counts_cell.get('deactivated'))}</td>"
            f"<td class=err>{_cell(attempt.get('error') or p.get('disabled_reason'))}</td></tr>"
        )
    change_rows = "".join(
        f"<tr><td>{_when(c['detected_at'])}</td><td>{_cell(c['provider'])}</td><td>{_cell(c['model'])}</td>"
        f"<td><span class='kind kind-{_cell(c['kind'])}'>{_cell(c['kind'])}</span></td><td>{_cell(c['field'])}</td>"
        f"<td>{_cell(c['old_value'])}</td><td>{_cell(c['new_value'])}</td></tr>"
        for c in changes
    ) or "<tr><td colspan=7>No changes recorded yet.</td></tr>"
    styles = "".join(
        f".state-{state}{{color:{fg};background:{bg};border:1px solid {fg}33}}" for state, (fg, bg) in STATE_STYLES.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="60">
<title>Model catalog</title>
<style>
body{{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#1d2939;background:#fff}}
h1{{font-size:20px;margin:0 0 4px}} h2{{font-size:16px;margin:24px 0 8px}}
.summary{{display:flex;gap:24px;flex-wrap:wrap;margin:8px 0 12px}} .summary div b{{font-size:18px;display:block}}
table{{border-collapse:collapse;width:100%}} th,td{{padding:6px 8px;border-bottom:1px solid #eaecf0;text-align:left;
vertical-align:top}} th{{background:#f9fafb;font-weight:600;position:sticky;top:0}} .num{{text-align:right}}
.badge{{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px}}
.err{{color:#b42318;max-width:420px;word-break:break-word}} small{{color:#667085}}
.row-failed{{background:#fffafa}} .row-stale,.row-never{{background:#fffdf5}}
.kind{{font-weight:600}} .kind-price_changed{{color:#175cd3}} .kind-added{{color:#0f7b3f}} .kind-removed{{color:#b42318}}
{styles}
</style></head><body>
<h1>Model catalog</h1>
<div><small>Generated {_when(document['generated_at'])}; stale after {_cell(document['stale_after_hours'])} h without a
successful sync; next scheduled model sync: {_when(next_sync.get('next_run_after')) or 'not scheduled'}
{' (paused)' if next_sync.get('paused') else ''}</small></div>
<div class="summary">
<div><b>{totals['enabled_providers']}</b>enabled providers</div><div><b>{totals['active_models']}</b>active models</div>
<div><b>{totals['inactive_models']}</b>inactive models</div><div><b>{totals['changes_last_24h']}</b>changes in 24 h</div>
</div>
<div>{badges}</div>
<h2>Providers</h2>
<table><thead><tr><th>state</th><th>provider</th><th class=num>active</th><th class=num>inactive</th>
<th>last attempt</th><th>last success</th><th class=num>age (h)</th><th class=num>fetched / new / updated / removed</th>
<th>error</th></tr></thead><tbody>{''.join(rows)}</tbody></table>
<h2>Latest changes</h2>
<table><thead><tr><th>when</th><th>provider</th><th>model</th><th>kind</th><th>field</th><th>old</th><th>new</th></tr>
</thead><tbody>{change_rows}</tbody></table>
</body></html>"""
