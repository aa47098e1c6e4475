"""Task bodies of the provider sync: migrate the catalog schema, upsert the registry."""

from __future__ import annotations

import logging
from typing import Any

from ..store.connection import catalog_connector

log = logging.getLogger(__name__)


def migrate_catalog() -> str:
    from ..store import schema

    before, after = schema.migrate(catalog_connector())
    if before == after:
        log.info("Catalog schema already at revision %s; nothing to migrate", after)
    else:
        log.info("Catalog schema migrated from %s to %s", before or "empty", after)
    return after


def sync_providers() -> dict[str, Any]:
    from ..sources.registry import GATEWAY_REGISTRY
    from ..store.providers import sync_registry

    connection = catalog_connector()()
    try:
        result = sync_registry(connection, GATEWAY_REGISTRY.values())
    finally:
        connection.close()
    log.info("%s", result.summary_line())
    return {
        "total": result.total,
        "added": result.added,
        "updated": result.updated,
        "deactivated": result.deactivated,
        "unchanged": len(result.unchanged),
        "models_deactivated": result.models_deactivated,
    }
