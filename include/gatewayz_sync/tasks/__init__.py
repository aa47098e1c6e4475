"""Task bodies for the DAGs: the only modules that reach for Airflow's task context, connections and hooks.

Each function is what one DAG task does, so the DAG files stay wiring. Airflow imports happen inside the
functions: importing these modules at DAG-parse time costs nothing.
"""

from .alerts import notify_model_sync, notify_provider_sync, notify_publish
from .models import finalize_model_sync, list_provider_slugs, requested_providers, sync_provider, watch_http_pool
from .prices import list_reference_sources, refresh_reference_source, resolve_reference_prices
from .providers import migrate_catalog, sync_providers
from .publish import finalize_publish, publish_catalog

__all__ = [
    "finalize_model_sync",
    "finalize_publish",
    "list_provider_slugs",
    "list_reference_sources",
    "migrate_catalog",
    "notify_model_sync",
    "notify_provider_sync",
    "notify_publish",
    "publish_catalog",
    "refresh_reference_source",
    "requested_providers",
    "resolve_reference_prices",
    "sync_provider",
    "sync_providers",
    "watch_http_pool",
]
