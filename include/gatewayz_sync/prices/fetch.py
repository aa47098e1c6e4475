"""Get a reference source's document and read it: fetched like a provider's list, or the bundled snapshot.

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
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import requests

from ..config import FetchSettings
from ..sources.endpoints import ConnectionLike, resolve_endpoint
from ..sources.fetch import ProviderFetcher, gc_paused
from .documents import READERS, ReferenceIndex, bundled_genai_prices, read_genai_prices
from .sources import ReferenceSource


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
        return ReferenceDocument(index, digest, version, "package", 0, loaded - started, time.monotonic() - loaded)

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
    return ReferenceDocument(index, digest, version, origin, size, fetched - started, time.monotonic() - fetched)
