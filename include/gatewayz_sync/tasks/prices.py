"""Task bodies of the reference-price sync: list the sources, refresh one, resolve every model's price."""

from __future__ import annotations

import logging
import os
from typing import Any

from ..config import FetchSettings
from ..store.connection import catalog_connector
from .models import provider_connection

log = logging.getLogger(__name__)


def list_reference_sources() -> list[str]:
    from ..prices.sources import REFERENCE_SOURCES

    return list(REFERENCE_SOURCES)


def refresh_reference_source(slug: str) -> dict[str, Any]:
    """One reference source: read it, match the active models, store the candidates that changed."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from ..config import reference_mode
    from ..price_sync import ReferenceUnavailable, refresh_source
    from ..prices.sources import get_source
    from ..store.runs import RunInfo

    context = get_current_context()
    context["slug_label"] = slug
    ti = context["ti"]
    run = RunInfo.of_task(ti)
    try:
        result = refresh_source(
            get_source(slug), catalog_connector(), run, mode=reference_mode(), connection_for=provider_connection,
            env=os.environ, fetch_settings=FetchSettings.from_env(),
        )
    except ReferenceUnavailable as failure:
        if failure.retryable:
            raise
        raise AirflowFailException(str(failure)) from None
    return {"source": slug, "version": result.source_version, "matched": result.matched,
            "inserted": result.writes.inserted, "updated": result.writes.updated, "deleted": result.writes.deleted}


def resolve_reference_prices(slugs: list[str] | None) -> dict[str, Any]:
    """Store every active model's price by precedence and the guard, then its routing fields by the same rules;
    then fail the run if a source failed."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from ..price_sync import resolve_fields, resolve_prices
    from ..prices.sources import get_source
    from ..store.candidates import reference_outcome

    ti = get_current_context()["ti"]
    connection = catalog_connector()()
    try:
        summary = resolve_prices(connection)
        fields = resolve_fields(connection)
        outcome = reference_outcome(connection, ti.run_id)
    finally:
        connection.close()
    failed = {}
    for slug in slugs or []:
        name = get_source(slug).name
        status, error = outcome.get(name) or ("failed", "no result was recorded")
        if status != "success":
            failed[name] = error
    for name, error in sorted(failed.items()):
        log.error("%s: %s", name, error)
    if failed:
        raise AirflowFailException(
            f"Prices resolved from the sources that could be read; reference source(s) failed: {', '.join(sorted(failed))}"
        )
    return {**summary.as_dict(), "fields": fields.as_dict()}
