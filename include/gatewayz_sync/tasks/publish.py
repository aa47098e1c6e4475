"""Task bodies of the catalog publish: publish (a new version only when the content changed), then the outlets."""

from __future__ import annotations

import logging
from typing import Any

from ..store.connection import catalog_connector

log = logging.getLogger(__name__)

NOT_CONFIGURED = ("GATEWAYZ_PUBLISH_URL is not set, so there is nowhere to publish: set it to file:///srv/catalog, "
                  "s3://bucket/catalog or gs://bucket/catalog (with GATEWAYZ_PUBLISH_CONN_ID naming the Airflow "
                  "connection of a remote store)")


def publish_catalog() -> dict[str, Any]:
    """Write the catalog's files through ObjectStoragePath; a failure is recorded (for /health and the alert) and
    fails the task, which retries like a provider's."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from ..catalog_publish import publish_catalog as publish
    from ..config import PublishSettings
    from ..publish.storage import CatalogStore
    from ..store.publications import record_failed, start_attempt

    ti = get_current_context()["ti"]
    settings = PublishSettings.from_env()
    connection = catalog_connector()()
    try:
        if not settings.configured:
            record_failed(connection, start_attempt(connection, "(not set)", ti.dag_id, ti.run_id), NOT_CONFIGURED)
            raise AirflowFailException(NOT_CONFIGURED)
        store = CatalogStore.open(settings.base_url, settings.conn_id)
        outcome = publish(connection, store, settings.base_url, settings.keep_versions, ti.dag_id, ti.run_id)
    finally:
        connection.close()
    return outcome.summary()


def finalize_publish(summary: dict[str, Any] | None) -> dict[str, Any]:
    """The run's verdict, and the outlets' asset events: one per published file, its counts in the event's extra.
    A publish that failed fails the run; an unchanged catalog skips this task, so no asset event says "updated"."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from ..config import PublishSettings
    from ..publish.storage import FILES
    from ..store.publications import run_attempts

    context = get_current_context()
    ti = context["ti"]
    if not summary:
        connection = catalog_connector()()
        try:
            attempts = run_attempts(connection, ti.run_id)
        finally:
            connection.close()
        error = attempts[-1]["error"] if attempts else "publish ended without a result; see its log"
        raise AirflowFailException(f"Catalog publish failed: {error}")
    if summary["status"] == "unchanged":
        raise AirflowSkipException(f"Catalog unchanged: version {summary['version']} stays current; nothing published")
    base_url = PublishSettings.from_env().base_url
    files = summary["files"]
    events = context["outlet_events"]
    formats = {file: name for name, file in FILES.items()}
    for asset in ti.task.outlets:
        name = formats.get(asset.uri.rsplit("/", 1)[-1], "manifest")
        extra = {"version": summary["version"], "content_hash": summary["content_hash"]}
        if name in FILES:
            entry = files[name]
            extra |= {"models": entry["models"], "sha256": entry["sha256"], "path": entry["path"]}
        else:
            extra |= {"models": {n: files[n]["models"] for n in FILES}, "withheld": summary["withheld"]}
        events[asset].extra = extra
    log.info("Published version %s at %s", summary["version"], base_url)
    return summary
