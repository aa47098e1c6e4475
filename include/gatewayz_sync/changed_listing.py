"""A listing that changed since the last load: normalized and staged as it is parsed, then loaded.

Apart from `model_sync` so that a provider task whose listing is unchanged, most runs' case, never imports the
normalizer, the stage or the load's guards (~0.04 s of every such task): `model_sync` imports this module only
once a listing has to be parsed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from .catalog.normalize import RecordNormalizer
from .catalog.shape import ListingShape, drift_notes
from .sources.fetch import FetchedPage, gc_paused
from .sources.specs import Provider
from .sources.stream import PARSER_NAME
from .store.listing import ListingState, LoadOptions
from .store.load import load_models
from .store.runs import RunInfo, RunResult
from .store.staging import StagedListing

log = logging.getLogger(__name__)


@dataclass
class Listing:
    """A fetched listing to load: its staged rows, and the digest and validators it is known by next time."""

    staged: StagedListing
    digest: str | None
    validators: dict[str, str] | None

    def load(self, connection, slug: str, run: RunInfo, options: LoadOptions, result: RunResult) -> None:
        """Load the staged rows in one transaction (`load_models`), then drop the stage."""
        with self.staged:
            load_models(connection, slug, self.staged, run, options, result, listing_digest=self.digest,
                        listing_validators=self.validators)


def stage_changed_listing(connection, provider: Provider, state: ListingState, pages: Iterable[FetchedPage],
                          result: RunResult, parse_seconds: Callable[[], float],
                          known_by: tuple[str | None, dict[str, str] | None]) -> Listing:
    """Stage every page's records (`stage_listing`) and note the listing's shape: what to load, known next time
    by `known_by` (its digest and validators)."""
    normalizer = RecordNormalizer(provider.list_api)
    staged = stage_listing(connection, pages, normalizer, state.known_hashes, result, parse_seconds)
    result.details["parser"] = PARSER_NAME
    _note_shape(provider.slug, state, normalizer, result)
    return Listing(staged, *known_by)


def stage_listing(connection, pages: Iterable[FetchedPage], normalizer: RecordNormalizer,
                  known_hashes: Mapping[str, str], result: RunResult,
                  parse_seconds: Callable[[], float] = lambda: 0.0) -> StagedListing:
    """Normalize every page's records as they are parsed into the stage on `connection` (autocommit), each raw
    record freed as it goes; each page's COPY ends with the page, before the next one is fetched.

    A record whose content hash equals the stored row's is not normalized again: equal hashes mean equal rows.
    `parse_seconds` reads the parse time so far, which the loop's time includes and the normalize time does not;
    the normalize time includes waiting for PostgreSQL to store the page's last rows.
    """
    staged = StagedListing(connection)
    try:
        for page in pages:
            started, parsed_before = time.monotonic(), parse_seconds()
            with gc_paused():
                for record in page.records():
                    checked = normalizer.check(record)
                    if checked is None:
                        continue
                    if known_hashes.get(checked.model_id) == checked.content_hash:
                        normalizer.accept_unchanged(checked)
                        staged.add_unchanged(checked.model_id, checked.content_hash)
                    else:
                        staged.add(normalizer.finish(checked))
            staged.end_page()
            result.timings.normalize_seconds += time.monotonic() - started - (parse_seconds() - parsed_before)
    except BaseException:
        staged.close()
        raise
    report = normalizer.report
    result.fetch.fetched, result.fetch.rejected, result.fetch.duplicates = (
        report.records_seen, report.rejected_total, report.duplicates,
    )
    result.details["normalize"] = report.as_dict()
    return staged


def _note_shape(slug: str, state: ListingState, normalizer: RecordNormalizer, result: RunResult) -> None:
    """The listing's shape, and how it drifted from the last successful listing's, into the attempt's record."""
    shape = normalizer.shape.shape()
    result.details["shape"] = shape.as_dict()
    notes = drift_notes(ListingShape.from_dict(state.previous_shape), state.previous_report, shape,
                        result.details["normalize"])
    if notes:
        result.details["drift"] = notes
        log.warning("%s: the listing changed shape: %s", slug, "; ".join(notes))
