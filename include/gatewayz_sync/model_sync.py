"""Sync one provider's models: resolve endpoint -> fetch pages -> normalize -> load, and record the attempt.

Every outcome leaves a sync_runs row: success, dry_run, skipped (no key, no list API, disabled) or failed
(with the cause in plain words). A failed fetch never reaches the database, so existing rows stay exactly as
they were. Returns a small summary for XCom; the model list itself never leaves this function.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
import requests

from .catalog.normalize import RecordNormalizer
from .config import FetchSettings
from .errors import CatalogUnavailable, ProviderSkipped, ProviderSyncError
from .sources.endpoints import ConnectionLike, Endpoint, resolve_endpoint
from .sources.fetch import ListingUnchanged, ProviderFetcher, gc_paused
from .sources.specs import Provider
from .store.models import (
    LoadOptions,
    LoadResult,
    RunInfo,
    StagedModel,
    confirm_unchanged_listing,
    listing_state,
    load_models,
    record_run,
)

log = logging.getLogger(__name__)


@dataclass
class ProviderSyncSummary:
    slug: str
    status: str
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    missed: int = 0
    deactivated: int = 0
    rejected: int = 0
    duplicates: int = 0
    pages: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    load_seconds: float | None = None
    sync_run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        if self.status in ("skipped", "failed"):
            return f"{self.slug}: {self.status}: {self.error}"
        return (
            f"{self.slug}: {self.status}: {self.fetched} fetched over {self.pages} page(s), {self.inserted} inserted, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.deactivated} deactivated "
            f"({self.missed} missed), {self.rejected} rejected, {self.duplicates} duplicates in {self.seconds:.2f} s"
        )


@dataclass
class FetchedListing:
    models: list[StagedModel]
    details: dict[str, Any]
    fetched: int
    rejected: int
    duplicates: int
    pages: int
    digest: str | None = None


def fetch_listing(
    provider: Provider,
    endpoint: Endpoint,
    settings: FetchSettings,
    session: requests.Session | None = None,
    known_hashes: Mapping[str, str] | None = None,
    skip_if_digest: str | None = None,
) -> FetchedListing:
    """Fetch and normalize every page; raises ProviderSyncError on any fetch failure.

    A record whose content hash equals the stored row's (`known_hashes`) is not normalized again: equal hashes
    mean equal rows, so it is staged as an id and a hash only. A single-page listing byte-identical to the last
    one loaded (`skip_if_digest`) raises ListingUnchanged before it is parsed.
    """
    known = known_hashes or {}
    normalizer = RecordNormalizer(provider.list_api)
    fetcher = ProviderFetcher(
        provider, endpoint, settings, session=session, digest_prefix=normalizer.hash_prefix,
        skip_if_digest=skip_if_digest,
    )
    models: list[StagedModel] = []
    normalize_seconds = 0.0
    try:
        for records in fetcher.pages():
            started = time.monotonic()
            records.reverse()
            with gc_paused():
                _stage_page(records, normalizer, known, models)
            normalize_seconds += time.monotonic() - started
    finally:
        fetcher.session.close()
    return _listing(fetcher, normalizer, endpoint, models, normalize_seconds)


def _stage_page(records: list, normalizer: RecordNormalizer, known: Mapping[str, str], models: list) -> None:
    """Normalize one page into compact staged rows, freeing each raw record as it goes."""
    while records:
        record = records.pop()
        checked = normalizer.check(record)
        if checked is None:
            continue
        model_id, _, _, digest = checked
        if known.get(model_id) == digest:
            normalizer.report.accepted += 1
            normalizer.report.unchanged_skipped += 1
            models.append(StagedModel(model_id, digest, None))
        else:
            models.append(StagedModel.of(normalizer.finish(checked, record)))


def _listing(fetcher, normalizer, endpoint, models, normalize_seconds) -> FetchedListing:
    report = normalizer.report
    details = {
        "endpoint": endpoint.source,
        "normalize": report.as_dict(),
        "timings": {
            "fetch_seconds": round(fetcher.stats.fetch_seconds, 4),
            "parse_seconds": round(fetcher.stats.parse_seconds, 4),
            "normalize_seconds": round(normalize_seconds, 4),
        },
        "bytes": fetcher.stats.bytes,
        "http_requests": fetcher.stats.http_requests,
    }
    return FetchedListing(
        models=models,
        details=details,
        fetched=report.records_seen,
        rejected=report.rejected_total,
        duplicates=report.duplicates,
        pages=fetcher.stats.pages,
        digest=fetcher.stats.single_page_digest,
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
    summary = ProviderSyncSummary(slug=slug, status="failed")
    listing: FetchedListing | None = None
    connection = None
    try:
        endpoint = resolve_endpoint(provider, connection_for(provider), env)
        connection = connect()
        state = listing_state(connection, slug)
        try:
            listing = fetch_listing(
                provider, endpoint, fetch_settings, session=session, known_hashes=state.known_hashes,
                skip_if_digest=state.listing_digest,
            )
        except ListingUnchanged as unchanged:
            stats = unchanged.stats
            details = {
                "endpoint": endpoint.source,
                "timings": {"fetch_seconds": round(stats.fetch_seconds, 4), "parse_seconds": 0.0,
                            "normalize_seconds": 0.0},
                "bytes": stats.bytes,
                "http_requests": stats.http_requests,
            }
            result = confirm_unchanged_listing(connection, slug, run, unchanged.digest, options, details)
            if result is not None:
                _apply(summary, result)
                summary.fetched, summary.pages = result.fetched, 1
                summary.status = "dry_run" if options.dry_run else "success"
                return summary
            listing = fetch_listing(provider, endpoint, fetch_settings, session=session)
        del state
        summary.fetched, summary.rejected = listing.fetched, listing.rejected
        summary.duplicates, summary.pages = listing.duplicates, listing.pages
        load_started = time.monotonic()
        details = {**listing.details, "fetch": _fetch_counts(listing)}
        result = load_models(
            connection, slug, listing.models, run, options, details=details, listing_digest=listing.digest
        )
        load_seconds = time.monotonic() - load_started
        _apply(summary, result)
        summary.status = "dry_run" if options.dry_run else "success"
        summary.load_seconds = round(load_seconds, 4)
        return summary
    except ProviderSkipped as skipped:
        summary.status, summary.error = "skipped", skipped.reason
        _record_failure(connect, connection, slug, run, "skipped", skipped.reason, listing)
        raise
    except ProviderSyncError as failure:
        summary.error = str(failure)
        _record_failure(connect, connection, slug, run, "failed", str(failure), listing)
        raise
    except psycopg.Error as failure:
        reason = " ".join(str(failure).split()) or type(failure).__name__
        summary.error = f"catalog database error while syncing {slug} (its transaction rolled back): {reason}"
        _record_failure(connect, connection, slug, run, "failed", summary.error, listing)
        raise CatalogUnavailable(slug, summary.error) from None
    finally:
        summary.seconds = time.monotonic() - started
        if connection is not None and not connection.closed:
            connection.close()
        log.info("%s", summary.line())


def _apply(summary: ProviderSyncSummary, result: LoadResult) -> None:
    summary.inserted, summary.updated, summary.unchanged = result.inserted, result.updated, result.unchanged
    summary.missed, summary.deactivated = result.missed, result.deactivated
    summary.changes = dict(sorted(result.changes.items()))
    summary.sync_run_id = result.sync_run_id


def _fetch_counts(listing: FetchedListing) -> dict[str, int]:
    return {
        "fetched": listing.fetched,
        "rejected": listing.rejected,
        "duplicates": listing.duplicates,
        "pages": listing.pages,
    }


def _record_failure(connect, connection, slug, run, status, error, listing) -> None:
    """Record a failed or skipped attempt; if the catalog itself just failed, keep trying for a few seconds."""
    from tenacity import Retrying, stop_after_delay, wait_exponential

    reuse = connection is not None and not connection.closed and connection.info.transaction_status == 0
    try:
        for attempt in Retrying(stop=stop_after_delay(15), wait=wait_exponential(multiplier=0.25, max=3), reraise=True):
            with attempt:
                target = connection if reuse else connect()
                try:
                    details = {**listing.details, "fetch": _fetch_counts(listing)} if listing else None
                    record_run(target, slug, run, status, error=error, details=details)
                finally:
                    if not reuse:
                        target.close()
                reuse = False
    except Exception as exc:
        log.error("could not record the %s attempt for %s in sync_runs: %s", status, slug, exc)
