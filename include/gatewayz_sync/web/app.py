"""The status API and the "Model catalog" page, as a FastAPI app that the Airflow plugin mounts.

Every route requires Airflow authentication (a bearer JWT from `/auth/token`, or the UI's session cookie):
the original system's admin endpoints were open to anyone. Every route also runs the app's guards (`guards.py`):
a cookie-authenticated trigger from another origin is a 403, a read's unknown or malformed query parameter a 400.
An error on an HTML page is an HTML page, escaped, with no traceback. Triggers go through Airflow's own REST API
with the caller's token, so Airflow validates the conf (a bad value is a 400) and applies its own permissions.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..catalog.lifecycle import RETIRING_WITHIN_DAYS
from ..config import SyncSettings, model_sync_deadline_minutes
from ..store import health as health_model
from ..store import price_status, run_stats
from ..store import status as read_model
from ..store.alerting import broken_alerting
from ..store.catalog_reads import provider_choices
from ..store.publications import broken_publishing, current_publication
from ..store.retirements import retiring_counts
from ..store.shape_health import shape_health
from .airflow_api import (
    TriggerOptions,
    airflow_health,
    next_model_sync,
    supervisor_status,
    trigger_model_sync,
    trigger_options,
)
from .browse import browse_routes
from .exports import export_routes
from .guards import same_origin, strict_query
from .views import render_error, render_page, render_prices

URL_PREFIX = "/admin/model-sync"
MAX_PAGE = 1000
MAX_OFFSET = 1_000_000
MAX_BIGINT = 2**63 - 1
HEALTH_RUNS, OUTCOME_DAYS = 20, 14
PAGE_CHANGES = 20
ChangeKind = Literal[
    "added", "removed", "reappeared", "price_changed", "limits_changed", "capabilities_changed", "deprecated",
    "field_removed", "price_held",
]
PriceStatusFilter = Literal["disputed", "held", "confirmed", "single", "newest", "majority", "preferred", "reseller",
                            "api", "operator", "reference", "none"]


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


def _check_slug(connection, slug: str) -> None:
    """A 404 for a slug the catalog does not know. The catalog, not this package's registry: an installed plugin
    may be older than the bundle whose provider sync wrote the providers."""
    known = [known_slug for known_slug, _ in provider_choices(connection)]
    if slug not in known:
        raise HTTPException(status_code=404, detail=f"unknown provider {slug!r}; known providers: {', '.join(known)}")


def _wants_html(request: Request) -> bool:
    route = request.scope.get("route")
    return getattr(route, "response_class", None) is HTMLResponse or request.query_params.get("format") == "html"


async def error_response(request: Request, error: Exception):
    """FastAPI's JSON error, or for an HTML page the same reason as a small HTML page with the same status."""
    if not _wants_html(request):
        if isinstance(error, RequestValidationError):
            return await request_validation_exception_handler(request, error)
        return await http_exception_handler(request, error)
    if isinstance(error, RequestValidationError):
        status, reason = 422, "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or e['loc'][0]}: {e['msg']}"
                                        for e in error.errors())
    else:
        status, reason = error.status_code, str(error.detail)
    page = render_error(status, reason, request.scope.get("root_path", ""))
    return HTMLResponse(page, status_code=status, headers=getattr(error, "headers", None))


def status_document(connection, provider: str | None, limit: int, offset: int, health_runs: int = HEALTH_RUNS,
                    health_days: int | None = None) -> dict[str, Any]:
    settings = SyncSettings.from_env()
    now = datetime.now(UTC)
    statuses = read_model.provider_statuses(
        connection, stale_hours=settings.stale_hours, now=now, provider=provider, limit=limit, offset=offset
    )
    totals = read_model.catalog_totals(connection)
    coverage = price_status.price_coverage(connection)
    totals["prices"] = price_status.reference_coverage(coverage)
    totals["retired_models"] = sum(c["retired"] for c in coverage.values())
    api_health = run_stats.provider_api_health(
        connection, runs=health_runs, days=health_days, slugs=[s.slug for s in statuses]
    )
    shapes = shape_health(connection, [s.slug for s in statuses])
    totals["held_prices"] = sum(c["held"] for c in coverage.values())
    retiring = retiring_counts(connection, RETIRING_WITHIN_DAYS)
    totals["retiring_models"] = sum(retiring.values())
    totals["disputed_prices"] = sum(c["disputed"] for c in coverage.values())
    return {
        "generated_at": now.isoformat(),
        "stale_after_hours": settings.stale_hours,
        "providers": [
            {**s.as_dict(), "prices": coverage.get(s.slug), "api_health": api_health[s.slug].as_dict(),
             "shape": shapes[s.slug], "retiring_models": retiring.get(s.slug, 0)}
            for s in statuses
        ],
        "retiring_within_days": RETIRING_WITHIN_DAYS,
        "api_health_window": {"runs": health_runs, "days": health_days},
        "run_outcomes_per_day": run_stats.run_outcomes_per_day(
            connection, days=health_days or OUTCOME_DAYS, today=now.date()
        ),
        "totals": totals,
        "alerting": [broken.as_dict() for broken in broken_alerting(connection)],
        "publishing": publishing_status(connection),
        "next_model_sync": next_model_sync(),
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if len(statuses) == limit else None,
    }


def publishing_status(connection) -> dict[str, Any]:
    """The current published version (at GATEWAYZ_PUBLISH_URL) and whether publishing fails."""
    from ..config import PublishSettings

    base_url = PublishSettings.from_env().base_url
    current = current_publication(connection, base_url) if base_url else None
    broken = broken_publishing(connection)
    return {
        "base_url": base_url,
        "version": None if current is None else current.version,
        "published_at": None if current is None else current.finished_at.isoformat(),
        "withheld": None if current is None else len(current.manifest.get("withheld") or ()),
        "failing": None if broken is None else broken.as_dict(),
    }


def create_app() -> FastAPI:
    app = FastAPI(
        title="gatewayz model sync",
        description="Status, health and triggers of the gatewayz catalog sync (Airflow authentication required).",
        dependencies=[Depends(_authenticated()), Depends(same_origin), Depends(strict_query)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        exception_handlers={StarletteHTTPException: error_response, RequestValidationError: error_response},
    )

    @app.get("/status")
    def get_status(
        provider: str | None = None,
        limit: int = Query(100, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
        health_runs: int = Query(HEALTH_RUNS, ge=1, le=500, description="API health over each provider's last N attempts"),
        health_days: int | None = Query(None, ge=1, le=365, description="... and only those of the last D days"),
    ) -> dict[str, Any]:
        with _catalog() as connection:
            if provider is not None:
                _check_slug(connection, provider)
            return status_document(connection, provider, limit, offset, health_runs, health_days)

    @app.get("/health")
    def get_health() -> JSONResponse:
        settings = SyncSettings.from_env()
        now = datetime.now(UTC)
        with _catalog() as connection:
            statuses = read_model.provider_statuses(connection, stale_hours=settings.stale_hours, now=now, limit=100_000)
            last_run = health_model.last_model_sync_run(connection)
            alerting = broken_alerting(connection)
            publishing = broken_publishing(connection)
        healthy, body = health_model.health_report(
            statuses, stale_hours=settings.stale_hours, now=now, last_run=last_run,
            paused=next_model_sync().get("paused"), airflow=airflow_health(),
            needs_triggerer=model_sync_deadline_minutes() > 0, supervisor=supervisor_status(), alerting=alerting,
            publishing=publishing,
        )
        return JSONResponse(body, status_code=200 if healthy else 503)

    @app.get("/changes")
    def get_changes(
        since: datetime | None = None,
        provider: str | None = None,
        kind: ChangeKind | None = None,
        limit: int = Query(100, ge=1, le=MAX_PAGE),
        before_id: int | None = Query(None, ge=1, le=MAX_BIGINT),
    ) -> dict[str, Any]:
        with _catalog() as connection:
            if provider is not None:
                _check_slug(connection, provider)
            items = read_model.recent_changes(
                connection, since=since, provider=provider, kind=kind, limit=limit, before_id=before_id
            )
        return {"changes": items, "next_before_id": items[-1]["id"] if len(items) == limit else None}

    @app.post("/all")
    def post_all(request: Request, options: TriggerOptions = Depends(trigger_options)) -> dict[str, Any]:
        return trigger_model_sync(request, [], options)

    @app.post("/provider/{slug}")
    def post_provider(request: Request, slug: str, options: TriggerOptions = Depends(trigger_options)) -> dict[str, Any]:
        with _catalog() as connection:
            _check_slug(connection, slug)
        return trigger_model_sync(request, [slug], options)

    @app.get("/prices")
    def get_prices(
        provider: str | None = None,
        status: PriceStatusFilter | None = None,
        limit: int = Query(100, ge=1, le=MAX_PAGE),
        offset: int = Query(0, ge=0, le=MAX_OFFSET),
        format: Literal["json", "html"] = "json",
    ) -> Any:
        with _catalog() as connection:
            if provider is not None:
                _check_slug(connection, provider)
            items = price_status.price_listing(connection, provider=provider, status=status, limit=limit, offset=offset)
        document = {"models": items, "provider": provider, "status": status, "limit": limit, "offset": offset,
                    "next_offset": offset + limit if len(items) == limit else None}
        return HTMLResponse(render_prices(document)) if format == "html" else document

    @app.get("/page", response_class=HTMLResponse)
    def get_page() -> HTMLResponse:
        with _catalog() as connection:
            document = status_document(connection, None, MAX_PAGE, 0)
            changes = read_model.recent_changes(connection, limit=PAGE_CHANGES)
        return HTMLResponse(render_page(document, changes))

    app.include_router(browse_routes(_catalog))
    app.include_router(export_routes(_catalog))
    return app
