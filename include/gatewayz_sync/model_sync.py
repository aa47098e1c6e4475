"""Sync one provider's models: resolve the endpoint -> fetch pages -> unchanged? -> normalize -> load -> record.

A listing is unchanged when its bytes are those of the last loaded listing, or when the provider answers a
conditional request with 304 for them; either way it is confirmed by one function and never parsed. A listing
that changed is normalized, staged and loaded by `changed_listing`, imported only then.

Every outcome leaves a sync_runs row: success, dry_run, skipped (no key, no list API, disabled) or failed
(with the cause in plain words). A skip known before the run's provider tasks start is recorded by the run's plan
(`sync_plan`) instead, and such a provider never gets here. A failed fetch never reaches the database, so existing rows stay exactly as
they were. Returns a small summary for XCom; the model list itself never leaves this module.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any

import psycopg
import requests
from tenacity import Retrying, stop_after_delay, wait_exponential

from .catalog.records import hash_prefix
from .config import FetchSettings
from .errors import CatalogUnavailable, ProviderSkipped, ProviderSyncError
from .sources.endpoints import ConnectionLike, resolve_endpoint
from .sources.fetch import FetchedPage, ProviderFetcher
from .sources.specs import Provider
from .sources.validators import ListingValidators
from .store.listing import ListingState, LoadOptions, confirm_unchanged_listing, listing_state
from .store.runs import FAILED, SKIPPED, LoadResult, RunInfo, RunResult, record_provider_run_alone

if TYPE_CHECKING:
    from .changed_listing import Listing

log = logging.getLogger(__name__)


@dataclass
class ProviderSyncSummary:
    """What one provider's sync tells the DAG (XCom) and the log: its run result and how long it took."""

    slug: str
    result: RunResult
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return self.result.status

    def as_dict(self) -> dict[str, Any]:
        result = self.result
        load = asdict(result.load)
        del load["active_before"]
        load["changes"] = dict(sorted(result.load.changes.items()))
        return {
            "slug": self.slug,
            "status": result.status,
            **asdict(result.fetch),
            **load,
            "error": result.error,
            "seconds": self.seconds,
            "load_seconds": round(result.timings.load_seconds, 4) if result.timings.load_seconds else None,
            "sync_run_id": result.sync_run_id,
        }

    def line(self) -> str:
        result, fetch, load = self.result, self.result.fetch, self.result.load
        if result.status in (SKIPPED, FAILED):
            return f"{self.slug}: {result.status}: {result.error}"
        return (
            f"{self.slug}: {result.status}: {fetch.fetched} fetched over {fetch.pages} page(s), {load.inserted} inserted, "
            f"{load.updated} updated, {load.unchanged} unchanged, {load.deactivated} deactivated "
            f"({load.missed} missed), {fetch.rejected} rejected, {fetch.duplicates} duplicates in {self.seconds:.2f} s"
        )


def listing_digest(hash_prefix: bytes, page: FetchedPage) -> str | None:
    """The digest a whole listing is known by: its only page's bytes under the normalizer's version and the spec.

    None when the listing spans pages: only a single-response listing is recognized before it is parsed.
    """
    if not page.is_whole_listing:
        return None
    return _whole_listing_digest(hash_prefix, page.digest)


def _whole_listing_digest(hash_prefix: bytes, body_digest: str) -> str:
    return hashlib.sha256(hash_prefix + body_digest.encode()).hexdigest()


def conditional_validators(state: ListingState, hash_prefix: bytes) -> ListingValidators | None:
    """The validators to send back: only those of the listing the catalog holds, under today's spec and
    normalizer, with nothing pending, so that a 304 for them is confirmed like the bytes it stands for."""
    validators = ListingValidators.from_json(state.listing_validators)
    if validators is None or state.listing_digest is None:
        return None
    if _whole_listing_digest(hash_prefix, validators.body_digest) != state.listing_digest:
        return None
    return validators


def _known_by(hash_prefix: bytes, first: FetchedPage) -> tuple[str | None, dict[str, str] | None]:
    """The digest and validators a listing starting with this page is known by."""
    return listing_digest(hash_prefix, first), first.validators.as_json() if first.validators else None


def _fetch_listing(connection, provider: Provider, run: RunInfo, options: LoadOptions, state: ListingState,
                   fetcher: ProviderFetcher, endpoint_source: str, result: RunResult) -> Listing | None:
    """Fetch the listing; None when it was confirmed unchanged (nothing to parse or load), else what to load."""
    prefix = hash_prefix(provider.list_api)
    pages = fetcher.pages(conditional_validators(state, prefix))
    first = next(pages)
    known_by = _known_by(prefix, first)
    if _confirmed_unchanged(connection, provider.slug, run, options, state, first, *known_by, fetcher,
                            endpoint_source, result):
        return None
    if first.not_modified:
        # The catalog moved after it was read: a 304 has no bytes to load, so ask again unconditionally.
        pages = fetcher.pages()
        first = next(pages)
        known_by = _known_by(prefix, first)
    from .changed_listing import stage_changed_listing  # only now: see changed_listing

    listing = stage_changed_listing(connection, provider, state, chain([first], pages), result,
                                    lambda: fetcher.stats.parse_seconds, known_by)
    _note_fetch(endpoint_source, fetcher, result)
    return listing


def _confirmed_unchanged(connection, slug: str, run: RunInfo, options: LoadOptions, state, first: FetchedPage,
                         digest: str | None, validators: dict[str, str] | None, fetcher: ProviderFetcher,
                         endpoint_source: str, result: RunResult) -> bool:
    """The one place that decides a listing is unchanged: a single-response listing byte-identical to the last one
    loaded (or a 304 for it), confirmed against the catalog without parsing or rewriting anything."""
    if digest is None or digest != state.listing_digest:
        return False
    _note_fetch(endpoint_source, fetcher, result)
    result.fetch.pages = 1
    return confirm_unchanged_listing(
        connection, slug, run, digest, options, result, validators=validators, not_modified=first.not_modified,
    )


def sync_provider_models(
    provider: Provider,
    connect: Callable[[], Any],
    run: RunInfo,
    options: LoadOptions,
    *,
    connection_for: Callable[[Provider], ConnectionLike | None],
    env: Mapping[str, str],
    fetch_settings: FetchSettings,
    session: requests.Session | None = None,
) -> ProviderSyncSummary:
    """Run one provider's sync; re-raises ProviderSyncError/ProviderSkipped after recording the attempt."""
    started = time.monotonic()
    slug = provider.slug
    result = RunResult(status=FAILED)
    summary = ProviderSyncSummary(slug, result)
    connection = None
    try:
        endpoint = resolve_endpoint(provider, connection_for(provider), env)
        connection = connect()
        state = listing_state(connection, slug)
        fetcher = ProviderFetcher(provider, endpoint, fetch_settings, session=session)
        try:
            listing = _fetch_listing(connection, provider, run, options, state, fetcher, endpoint.source, result)
        finally:
            fetcher.close()
        del state
        if listing is not None:
            listing.load(connection, slug, run, options, result)
        return summary
    except ProviderSkipped as skipped:
        result.status, result.error = SKIPPED, skipped.reason
        _record_failure(connect, connection, slug, run, result)
        raise
    except ProviderSyncError as failure:
        result.status, result.error = FAILED, str(failure)
        _record_failure(connect, connection, slug, run, result)
        raise
    except psycopg.Error as failure:
        reason = " ".join(str(failure).split()) or type(failure).__name__
        result.status = FAILED
        result.error = f"catalog database error while syncing {slug} (its transaction rolled back): {reason}"
        _record_failure(connect, connection, slug, run, result)
        raise CatalogUnavailable(slug, result.error) from None
    finally:
        summary.seconds = time.monotonic() - started
        if connection is not None and not connection.closed:
            connection.close()
        log.info("%s", summary.line())


def _note_fetch(endpoint_source: str, fetcher: ProviderFetcher, result: RunResult) -> None:
    """What fetching a whole listing cost, into the attempt's record (an attempt that failed mid-fetch has none)."""
    stats = fetcher.stats
    result.details.update(endpoint=endpoint_source)
    result.fetch.pages = stats.pages
    result.timings.fetch_seconds, result.timings.parse_seconds = stats.fetch_seconds, stats.parse_seconds
    result.details.update(bytes=stats.bytes, http_requests=stats.http_requests)


def _record_failure(connect, connection, slug: str, run: RunInfo, result: RunResult) -> None:
    """Record a failed or skipped attempt; if the catalog itself just failed, keep trying for a few seconds.

    A load that failed rolled back, so its counts are dropped; the listing's counts and details stay.
    """
    result.load = LoadResult()
    reuse = connection is not None and not connection.closed and connection.info.transaction_status == 0
    try:
        for attempt in Retrying(stop=stop_after_delay(15), wait=wait_exponential(multiplier=0.25, max=3), reraise=True):
            with attempt:
                target = connection if reuse else connect()
                try:
                    record_provider_run_alone(target, run, slug, result)
                finally:
                    if not reuse:
                        target.close()
                reuse = False
    except Exception as exc:
        log.error("could not record the %s attempt for %s in sync_runs: %s", result.status, slug, exc)
