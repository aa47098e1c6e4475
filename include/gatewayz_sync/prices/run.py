"""The two steps of the reference-price job: refresh one source's candidates; resolve every model's stored price.

`refresh_source` reads one source (fetched, or bundled), matches every active model of the providers it maps,
and stores the candidates that changed; it fails alone, with the source named, when the document cannot be
had, leaving its earlier candidates in place. `resolve_prices` then applies precedence and the unit-error
guard to every active model and writes only the decisions that differ from what is stored.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from ..catalog.normalize import RecordNormalizer
from ..catalog.records import PRICE_COLUMNS
from ..config import FetchSettings
from ..errors import ProviderSyncError
from ..sources.endpoints import ConnectionLike
from ..sources.registry import GATEWAY_REGISTRY
from ..store.candidates import CandidateRow, ReferenceRunResult, record_reference_run, reference_targets, store_candidates
from ..store.prices import (
    PRICE_FIELDS,
    TRACKED_FIELDS,
    PriceChange,
    PriceState,
    apply_decisions,
    load_price_state,
    lock_for_resolution,
    raw_records,
)
from ..store.runs import RunInfo
from .fetch import load_reference
from .matching import match_model
from .price_set import PriceSet
from .resolve import LIST_API, OPERATOR, Resolution, resolve
from .sources import REFERENCE_NAMES, ReferenceSource

log = logging.getLogger(__name__)


class ReferenceUnavailable(Exception):
    """A reference source could not be read; its earlier candidates stay. The message names it and the cause."""

    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


def refresh_source(
    source: ReferenceSource,
    connect: Callable[[], Any],
    run: RunInfo,
    *,
    mode: str,
    connection_for: Callable[[ReferenceSource], ConnectionLike | None],
    env: Mapping[str, str],
    fetch_settings: FetchSettings,
    session: requests.Session | None = None,
) -> ReferenceRunResult:
    result = ReferenceRunResult(status="failed")
    started = time.monotonic()
    try:
        document = load_reference(source, mode=mode, connection=connection_for(source), env=env,
                                  fetch_settings=fetch_settings, session=session)
    except ProviderSyncError as failure:
        result.error = (f"reference source {source.name} could not be read: {failure}; its candidates from the "
                        "last successful refresh stay in place")
        _record(connect, run, source, result)
        raise ReferenceUnavailable(result.error, failure.retryable) from None
    result.digest, result.source_version = document.digest, document.version
    connection = connect()
    try:
        targets = reference_targets(connection, tuple(source.providers))
        matched = time.monotonic()
        rows, rules = [], Counter()
        for model_id, slug, provider_model_id in targets:
            found = match_model(document.index, source.providers[slug], slug, provider_model_id)
            if found is not None:
                rules[found.rule] += 1
                entry = found.entry
                rows.append(CandidateRow(model_id, entry.source_model_id, found.rule, entry.prices, document.version,
                                         entry.checked_at, dict(entry.detail)))
        match_seconds = time.monotonic() - matched
        result.writes = store_candidates(connection, source.name, rows)
        result.status, result.matched = "success", len(rows)
        result.details = {
            "origin": document.origin, "bytes": document.bytes, "entries": document.index.size,
            "models": len(targets), "rules": dict(sorted(rules.items())), "dropped": dict(document.index.dropped),
            "seconds": {"fetch": round(document.fetch_seconds, 3), "read": round(document.read_seconds, 3),
                        "match": round(match_seconds, 3), "total": round(time.monotonic() - started, 3)},
        }
        record_reference_run(connection, run, source.name, result)
    finally:
        connection.close()
    writes = result.writes
    log.info("%s: %s; %d of %d models matched; %d inserted, %d updated, %d deleted", source.name, document.version,
             result.matched, len(targets), writes.inserted, writes.updated, writes.deleted)
    return result


def _record(connect, run: RunInfo, source: ReferenceSource, result: ReferenceRunResult) -> None:
    try:
        connection = connect()
        try:
            record_reference_run(connection, run, source.name, result)
        finally:
            connection.close()
    except Exception as exc:  # the source's own error is the one to report, not this one
        log.error("could not record the failed %s attempt in reference_runs: %s", source.name, exc)


def list_api_prices(slug: str, raw: Any) -> PriceSet | None:
    """The provider's own prices, normalized again from the stored raw record (after an operator price is withdrawn)."""
    provider = GATEWAY_REGISTRY.get(slug)
    if provider is None or provider.list_api is None or not isinstance(raw, Mapping):
        return None
    model = RecordNormalizer(provider.list_api).normalize(raw)
    if model is None or all(value is None for value in model.prices.values()):
        return None
    return PriceSet(**model.prices)


@dataclass
class ResolveSummary:
    models: int = 0
    rows_written: int = 0
    price_changes: int = 0
    statuses_written: int = 0
    by_source: Counter = field(default_factory=Counter)
    by_confidence: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"models": self.models, "rows_written": self.rows_written, "price_changes": self.price_changes,
                "candidate_statuses_written": self.statuses_written, "by_source": dict(self.by_source),
                "by_confidence": dict(self.by_confidence), "seconds": round(self.seconds, 3)}


def _decide(state: PriceState, restored: Mapping[int, PriceSet | None], order: tuple[str, ...]) -> Resolution:
    api = None
    if state.source == LIST_API:
        api = PriceSet.from_columns({column: state.values[column] for column in PRICE_COLUMNS.values()})
    elif state.source == OPERATOR and state.operator is None:
        api = restored.get(state.model_id)
    return resolve(state.candidates, list_api=api, operator=state.operator, operator_version=state.operator_version,
                   order=order)


def _new_values(decision: Resolution) -> dict[str, Any]:
    prices = decision.prices.columns() if decision.prices is not None else dict.fromkeys(PRICE_FIELDS)
    return {**prices, "price_source": decision.source, "price_confidence": decision.confidence,
            "price_source_version": decision.source_version, "price_checked_at": decision.checked_at,
            "price_dispute": decision.dispute}


def resolve_prices(connection) -> ResolveSummary:
    """Decide and store every active model's price in one transaction. `connection` is autocommit."""
    started = time.monotonic()
    summary = ResolveSummary()
    order = REFERENCE_NAMES
    with connection.transaction(), connection.cursor() as cursor:
        lock_for_resolution(cursor)
        states = load_price_state(cursor)
        withdrawn = [s for s in states if s.source == OPERATOR and s.operator is None]
        raws = raw_records(cursor, [s.model_id for s in withdrawn]) if withdrawn else {}
        restored = {s.model_id: list_api_prices(s.slug, raws.get(s.model_id)) for s in withdrawn}
        rows, changes, statuses = [], [], []
        for state in states:
            decision = _decide(state, restored, order)
            summary.by_source[decision.source or "none"] += 1
            summary.by_confidence[decision.confidence or "none"] += 1
            new = _new_values(decision)
            if new != state.values:
                rows.append((state.model_id, new))
                source = decision.source or state.source
                changes += [PriceChange(state, name, state.values[name], new[name], source)
                            for name in TRACKED_FIELDS if new[name] != state.values[name]]
            for candidate in state.candidates:
                status, reason = decision.candidate_status[candidate.source]
                if (status, reason) != (candidate.status, candidate.status_reason):
                    statuses.append((state.model_id, candidate.source, status, reason))
        summary.models = len(states)
        summary.rows_written, summary.price_changes, summary.statuses_written = apply_decisions(
            cursor, rows, changes, statuses
        )
    summary.seconds = time.monotonic() - started
    log.info("Prices resolved for %d active models: %d rows and %d candidate statuses written, %d price changes; "
             "sources %s; confidence %s", summary.models, summary.rows_written, summary.statuses_written,
             summary.price_changes, dict(summary.by_source), dict(summary.by_confidence))
    return summary
