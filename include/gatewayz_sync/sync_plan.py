"""Which of a model sync's providers are fetched, and which are known to skip before any task of theirs starts.

A provider without a list API, without a key or account id, or held back by the catalog (disabled by an operator,
deactivated, not synced yet) would only start a task to skip it. In Airflow 3.3.2 a task that ends `skipped`
reports its state when its process exits, up to `[workers] min_heartbeat_interval` (5 s) later, and the run waits
for it. So `list_providers` records those providers' `skipped` rows itself and maps `sync_provider` over the rest.

It maps them longest first: Airflow starts a mapped task's instances in map-index order, at most
`max_active_providers` at a time, so the provider whose last sync took longest starts in the first wave instead of
a later one, where it would end the run late. A provider never timed (new, or on a first run) counts as longest.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from .sources.endpoints import ConnectionLike, skip_reason
from .sources.registry import GATEWAY_REGISTRY
from .sources.specs import Provider

log = logging.getLogger(__name__)

SKIPPED_XCOM_KEY = "skipped"


@dataclass(frozen=True)
class SyncPlan:
    """A run's providers: `fetch`, one mapped task each in this order, and `skipped`, slug -> reason."""

    fetch: list[str]
    skipped: dict[str, str]

    @property
    def providers(self) -> list[str]:
        return [*self.fetch, *self.skipped]


def plan_sync(
    slugs: Iterable[str],
    held_back: Mapping[str, str],
    connection_for: Callable[[Provider], ConnectionLike | None],
    env: Mapping[str, str],
    registry: Mapping[str, Provider] = GATEWAY_REGISTRY,
    last_seconds: Mapping[str, float] | None = None,
) -> SyncPlan:
    """Split a run's providers into those to fetch and those that skip, with the reason their task would give.

    `held_back` is the catalog's reason for each provider it holds back (`catalog_skip_reasons`). Credentials are
    judged by `skip_reason`, the check the provider's task makes, and win over the catalog's reason as they do in
    the task. A connection only adds a key or path value to the environment's, so it is looked up only for a
    provider the environment alone would skip: each lookup is a round trip to Airflow before any provider starts.
    `last_seconds` is how long each provider's last finished sync took (`last_sync_seconds`): the order to fetch in.
    """
    fetch: list[str] = []
    skipped: dict[str, str] = {}
    for slug in slugs:
        reason = _credentials_skip(registry.get(slug), connection_for, env) or held_back.get(slug)
        if reason is None:
            fetch.append(slug)
        else:
            skipped[slug] = reason
    return SyncPlan(longest_first(fetch, last_seconds or {}), skipped)


def longest_first(slugs: list[str], last_seconds: Mapping[str, float]) -> list[str]:
    """`slugs` by their last sync's seconds, longest first; those never timed first of all, in the given order."""
    return sorted(slugs, key=lambda slug: -last_seconds.get(slug, math.inf))


def _credentials_skip(provider: Provider | None, connection_for: Callable[[Provider], ConnectionLike | None],
                      env: Mapping[str, str]) -> str | None:
    """`skip_reason` for a provider; None for a slug the registry does not know (its task fails and names it)."""
    if provider is None:
        return None
    reason = skip_reason(provider, None, env)
    if reason is None or provider.list_api is None:
        return reason
    try:
        connection = connection_for(provider)
    except Exception as error:
        # Left to the provider's task, which looks the connection up again and fails or retries on its own. Only
        # the error's type is logged: a connection's text may carry its password.
        log.warning("Could not look up connection %s (%s); the %s task decides", provider.connection_id,
                    type(error).__name__, provider.slug)
        return None
    return reason if connection is None else skip_reason(provider, connection, env)
