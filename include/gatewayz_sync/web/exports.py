"""The published catalog over the plugin's API: the current files with an ETag, and prices as of a time.

`GET /export/{litellm|openrouter|catalog|price-history}` serves the bytes of the newest published version (read
through the same object storage the publish DAG writes; `/export/openrouter/models` is the same list where an
OpenAI-compatible client looks for it). The ETag is the file's sha256 from the manifest, so a client that sends it
back in `If-None-Match` gets a 304 without the store being read. `GET /prices/as-of?at=` gives each model's
prices as they stood at that time, rebuilt from `model_changes`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from ..config import PublishSettings
from ..publish.storage import FILES, CatalogStore

EXPORT_NAMES = {"litellm": "litellm", "openrouter": "openrouter", "catalog": "catalog", "price-history": "price_history"}
MEDIA_TYPES = {"price_history": "application/x-ndjson"}


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


def export_routes(catalog) -> APIRouter:
    router = APIRouter()

    def serve(request: Request, name: str) -> Response:
        from ..store.publications import current_publication

        settings = PublishSettings.from_env()
        if not settings.configured:
            raise HTTPException(404, "publishing is not configured: set GATEWAYZ_PUBLISH_URL (see the README, "
                                     "Publishing the catalog)")
        with catalog() as connection:
            publication = current_publication(connection, settings.base_url)
        if publication is None:
            raise HTTPException(404, f"nothing has been published at {settings.base_url} yet: run gatewayz_publish_catalog")
        entry = publication.manifest["files"][name]
        etag = f'"{entry["sha256"]}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Catalog-Version": publication.version}
        if _etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        try:
            data = CatalogStore.open(settings.base_url, settings.conn_id).read(entry["path"])
        except Exception as error:
            raise HTTPException(503, f"the published file could not be read from {settings.base_url}: "
                                     f"{type(error).__name__}: {error}") from None
        if data is None:
            raise HTTPException(503, f"version {publication.version} lists {entry['path']}, but the store no longer "
                                     "has it; the next publish writes it again")
        return Response(data, media_type=MEDIA_TYPES.get(name, "application/json"), headers=headers)

    @router.get("/export/openrouter/models")
    def get_openrouter_models(request: Request) -> Response:
        return serve(request, "openrouter")

    @router.get("/export/{export}")
    def get_export(request: Request, export: Literal["litellm", "openrouter", "catalog", "price-history"]) -> Response:
        return serve(request, EXPORT_NAMES[export])

    @router.get("/prices/as-of")
    def get_prices_as_of(
        at: datetime = Query(..., description="ISO 8601; a time without a zone is UTC"),
        provider: str | None = Query(None, max_length=100),
    ) -> dict[str, Any]:
        from ..store.catalog_reads import provider_choices
        from ..store.price_history import prices_as_of

        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        with catalog() as connection:
            if provider:
                known = [slug for slug, _ in provider_choices(connection)]
                if provider not in known:
                    raise HTTPException(404, f"unknown provider {provider!r}; known providers: {', '.join(known)}")
            models = prices_as_of(connection, at, provider or None)
        return {"at": at.isoformat(), "provider": provider or None, "count": len(models), "models": models}

    return router


__all__ = ["FILES", "export_routes"]
