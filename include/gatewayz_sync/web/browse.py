"""The catalog browser's routes: `/models` (filter, search, sort, paginate on the server) and `/models/{id}`.

The routes join the app, so the app's Airflow authentication and its query-string guard cover them (the listing
declares its parameters for the guard). A blank form field means "any"; an unknown value, or a page past the last,
is a 400 that names the accepted ones, never a silently ignored filter or a silently clamped page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import QueryParams

from ..catalog.records import CAPABILITY_COLUMNS
from ..store import catalog_reads
from ..store.catalog_reads import LIFECYCLES, PRICE_CONFIDENCES, PRICE_FIELDS, PRICE_SOURCES, SORTS, ModelQuery
from .guards import flag, query_parameters
from .views import render_model, render_models

PER_PAGE_CHOICES = (25, 50, 100, 200)
MAX_SEARCH = 200
MAX_PAGE_NUMBER = 1_000_000
MAX_RETIRING_DAYS = 3650
MODEL_QUERY = query_parameters(
    "provider", "capability", "price_field", "price_min", "price_max", "price_source", "price_confidence",
    "lifecycle", "retiring_within", "q", "sort", "per_page", "page", booleans=("include_removed",),
)


def _choice(params: QueryParams, name: str, allowed: tuple, default=None):
    value = (params.get(name) or "").strip()
    if not value:
        return default
    if value not in allowed:
        raise HTTPException(status_code=400, detail=f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")
    return value


def _amount(params: QueryParams, name: str) -> Decimal | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0:
        raise HTTPException(status_code=400, detail=f"{name} must be a price of zero or more (USD per 1M tokens); got {value!r}")
    return amount


def _days(params: QueryParams, name: str) -> int | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_RETIRING_DAYS:
        raise HTTPException(status_code=400, detail=f"{name} must be a whole number of days from 1 to {MAX_RETIRING_DAYS}; "
                                                    f"got {value!r}")
    return int(value)


def model_query(params: QueryParams, provider_slugs: set[str]) -> ModelQuery:
    capabilities = tuple(params.getlist("capability"))
    unknown = [name for name in capabilities if name not in CAPABILITY_COLUMNS]
    if unknown:
        raise HTTPException(status_code=400, detail=f"capability must be among {', '.join(CAPABILITY_COLUMNS)}; got {unknown}")
    page = (params.get("page") or "1").strip()
    if not (page.isascii() and page.isdigit() and len(page) <= 20) or not 1 <= int(page) <= MAX_PAGE_NUMBER:
        raise HTTPException(status_code=400, detail=f"page must be a whole number from 1 to {MAX_PAGE_NUMBER:,}; "
                                                    f"got {page[:40]!r}")
    per_page = _choice(params, "per_page", tuple(map(str, PER_PAGE_CHOICES)), "50")
    return ModelQuery(
        provider=_choice(params, "provider", tuple(sorted(provider_slugs))),
        capabilities=tuple(dict.fromkeys(capabilities)),
        price_field=_choice(params, "price_field", PRICE_FIELDS, "input"),
        price_min=_amount(params, "price_min"),
        price_max=_amount(params, "price_max"),
        price_source=_choice(params, "price_source", (*PRICE_SOURCES, "none")),
        price_confidence=_choice(params, "price_confidence", (*PRICE_CONFIDENCES, "none")),
        lifecycle=_choice(params, "lifecycle", LIFECYCLES),
        retiring_within=_days(params, "retiring_within"),
        search=(params.get("q") or "").strip()[:MAX_SEARCH] or None,
        include_removed=flag(params.get("include_removed")),
        sort=_choice(params, "sort", SORTS, "model"),
        page=int(page),
        per_page=int(per_page),
    )


def query_string(query: ModelQuery, **overrides) -> str:
    """`?...` for the same listing with some settings changed (sort links, pagination); page 1 unless given."""
    values = {
        "provider": query.provider, "capability": list(query.capabilities), "price_field": query.price_field,
        "price_min": query.price_min, "price_max": query.price_max, "price_source": query.price_source,
        "price_confidence": query.price_confidence, "lifecycle": query.lifecycle,
        "retiring_within": query.retiring_within, "q": query.search,
        "include_removed": "1" if query.include_removed else None, "sort": query.sort, "per_page": query.per_page,
        "page": 1, **overrides,
    }
    return "?" + urlencode({k: v for k, v in values.items() if v not in (None, [], "")}, doseq=True)


def browse_routes(catalog: Callable) -> APIRouter:
    """The browser's routes, reading through `catalog()` (a context manager yielding a catalog connection)."""
    router = APIRouter()

    @router.get("/models", response_class=HTMLResponse, openapi_extra=MODEL_QUERY)
    def get_models(request: Request) -> HTMLResponse:
        with catalog() as connection:
            providers = catalog_reads.provider_choices(connection)
            query = model_query(request.query_params, {slug for slug, _ in providers})
            page = catalog_reads.list_models(connection, query)
        if query.page > page.pages:
            raise HTTPException(status_code=400, detail=f"page {query.page} is past the last page ({page.pages}) of "
                                                        f"these {page.total} models at {query.per_page} per page")
        return HTMLResponse(render_models(page, providers, query_string))

    @router.get("/models/{model_id}", response_class=HTMLResponse)
    def get_model(model_id: int) -> HTMLResponse:
        with catalog() as connection:
            detail = catalog_reads.model_detail(connection, model_id)
        if detail is None:
            raise HTTPException(status_code=404, detail=f"no model with id {model_id}")
        return HTMLResponse(render_model(detail, now=datetime.now(UTC)))

    return router
