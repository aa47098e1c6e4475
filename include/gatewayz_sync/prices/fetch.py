"""Get a reference source's document and read it: fetched like a provider's list, or the bundled snapshot.

A catalog listing (OpenRouter's) is read from the catalog itself: the listing provider's active models and the
price rows its last model sync stored; an open-weight model's entry (its stored record names the weights) keeps
its prices with the reason they are not the first party's.

Fetching reuses the providers' machinery unchanged: `resolve_endpoint` (connection `gatewayz_ref_<slug>`,
`GATEWAYZ_BASE_URL_OVERRIDE`, the registry URL) and `ProviderFetcher` (timeouts, retries, size cap, host
allow-list; the page's digest known before it is parsed). Its failures are the same named errors.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import requests

from .. import clock
from ..catalog.meters import PriceSheet
from ..config import FetchSettings
from ..sources.endpoints import ConnectionLike, resolve_endpoint
from ..sources.fetch import ProviderFetcher, gc_paused
from ..sources.registry import GATEWAY_REGISTRY
from .documents import (
    LISTED_AT_ZERO,
    READERS,
    ReferenceEntry,
    ReferenceIndex,
    bundled_genai_prices,
    open_weights_reason,
    read_genai_prices,
)
from .sources import ReferenceSource, genai_prices_date


@dataclass
class ReferenceDocument:
    """A source's entries, the digest of the bytes they were read from, and the version name they carry."""

    index: ReferenceIndex
    digest: str
    version: str
    origin: str
    bytes: int = 0
    fetch_seconds: float = 0.0
    read_seconds: float = 0.0
    as_of: date | None = None


def version_name(source: ReferenceSource, digest: str, host: str) -> str:
    """The snapshot's own name when the bytes are the bundled snapshot's, else what was fetched, from where, when."""
    if digest == source.snapshot_sha256:
        return source.snapshot_version
    return f"sha256:{digest[:12]} fetched {datetime.now(UTC):%Y-%m-%d} from {host}"


def load_reference(
    source: ReferenceSource,
    *,
    mode: str,
    connection: ConnectionLike | None,
    env: Mapping[str, str],
    fetch_settings: FetchSettings,
    session: requests.Session | None = None,
) -> ReferenceDocument:
    """Raises the fetch machinery's ProviderSyncError (naming the source) when the document cannot be had."""
    started = time.monotonic()
    if source.list_api is None:
        providers, version = bundled_genai_prices()
        loaded = time.monotonic()
        with gc_paused():
            index = read_genai_prices(providers)
        digest = hashlib.sha256(version.encode()).hexdigest()
        return ReferenceDocument(index, digest, version, "package", 0, loaded - started, time.monotonic() - loaded,
                                 genai_prices_date(version))

    if mode == "bundled":
        body = source.snapshot_path.read_bytes()
        digest, origin, size = hashlib.sha256(body).hexdigest(), "bundled snapshot", len(body)
        version = version_name(source, digest, "the bundled snapshot")
        fetched = time.monotonic()
        document = json.loads(body, parse_float=Decimal)
    else:
        endpoint = resolve_endpoint(source, connection, env)
        fetcher = ProviderFetcher(source, endpoint, fetch_settings, session=session)
        try:
            page = next(fetcher.pages())
            digest, size = page.digest, fetcher.stats.bytes
            host = urlsplit(endpoint.base_url).netloc
            origin, version = f"fetched from {host} ({endpoint.source})", version_name(source, digest, host)
            fetched = time.monotonic()
            document = page.document()
        finally:
            fetcher.close()
    with gc_paused():
        index = READERS[source.document_format](document)
    as_of = source.snapshot_date if digest == source.snapshot_sha256 else clock.today()
    return ReferenceDocument(index, digest, version, origin, size, fetched - started, time.monotonic() - fetched,
                             as_of)


def read_catalog_listing(connection, source: ReferenceSource) -> ReferenceDocument:
    """A provider's listing as the catalog stores it (OpenRouter's): each active model's list-API price rows; a
    model listed at 0 without being a free variant is a zero-only entry; a model whose stored record names its open
    weights (`open_weights_field`) keeps its prices with the reason they are another host's."""
    started = time.monotonic()
    index = ReferenceIndex()
    slug = source.listing_provider
    with connection.cursor() as cursor:
        cursor.execute("SELECT models_listed_at FROM providers WHERE slug = %s", (slug,))
        listed = cursor.fetchone()
        cursor.execute(
            """SELECT m.provider_model_id, m.price_unknown_reason, NULLIF(m.raw ->> %s, ''), mp.meter, mp.unit,
                      mp.above_input_tokens, mp.service_tier, mp.time_window, mp.option, mp.amount_usd
               FROM models m JOIN providers p ON p.id = m.provider_id
               LEFT JOIN model_prices mp ON mp.model_id = m.id AND mp.source = 'list_api'
               WHERE p.slug = %s AND m.is_active AND m.is_free IS NOT TRUE
               ORDER BY m.provider_model_id, mp.id""",
            (source.open_weights_field, slug),
        )
        rows = cursor.fetchall()
    by_model: dict[str, list[dict]] = {}
    reasons: dict[str, str | None] = {}
    weights: dict[str, str | None] = {}
    for model_id, reason, open_weights, meter, unit, above, tier, window, option, amount in rows:
        reasons[model_id], weights[model_id] = reason, open_weights
        if meter is not None:
            by_model.setdefault(model_id, []).append({"meter": meter, "unit": unit, "above_input_tokens": above,
                                                      "service_tier": tier, "time_window": window, "option": option,
                                                      "amount_usd": amount})
    digest = hashlib.sha256()
    for model_id in sorted(reasons):
        sheet = PriceSheet.from_rows(by_model.get(model_id, ()))
        zero_only = not sheet and (reasons[model_id] or "").startswith("listed as 0")
        if sheet or zero_only:
            not_the_authors = open_weights_reason(weights[model_id], GATEWAY_REGISTRY[slug].name) if (
                sheet and weights[model_id]) else None
            index.add(ReferenceEntry(slug, model_id, sheet, zero_only=zero_only,
                                     no_price=LISTED_AT_ZERO if zero_only else not_the_authors))
            digest.update(f"{model_id}={sheet!r};{not_the_authors or ''};".encode())
    listed_at = listed[0] if listed else None
    version = f"{slug} listing synced {listed_at:%Y-%m-%d %H:%M} UTC" if listed_at else f"{slug} listing (never synced)"
    seconds = time.monotonic() - started
    return ReferenceDocument(index, digest.hexdigest(), version, "the catalog", 0, seconds, 0.0,
                             listed_at.date() if listed_at else None)
