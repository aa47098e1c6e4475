"""The two steps of the reference-price job: refresh one source's candidates; resolve every model's stored price
and routing fields.

`refresh_source` reads one source (fetched, or bundled), matches every active model of the providers it maps,
and stores the candidates that changed, prices and routing fields (`catalog/routing.py`); it fails alone, with
the source named, when the document cannot be had, leaving its earlier candidates in place. `resolve_prices`
then applies precedence and the unit-error guard to every active model and writes only the decisions that differ
from what is stored; `resolve_fields` does the same for the routing fields (`prices/field_resolve.py`).
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import requests

from . import clock
from .catalog.lifecycle import deprecated_by, is_placeholder
from .catalog.meters import PriceSheet
from .catalog.normalize import RecordNormalizer
from .catalog.records import CAPABILITY_COLUMNS
from .catalog.routing import DATE, ROUTING_FIELDS, column_value, context_as_input_limit, json_value
from .config import FetchSettings
from .errors import ProviderSyncError
from .prices.documents import LISTED_AT_ZERO
from .prices.fetch import load_reference, read_catalog_listing
from .prices.field_resolve import FieldDecision, decide_field, decide_fields
from .prices.matching import match_model
from .prices.price_set import agrees, unit_error
from .prices.resolve import (
    AGREES,
    DIFFERS,
    DISPUTED,
    LIST_API,
    OPERATOR,
    RESELLER,
    SINGLE,
    SUPERSEDED,
    Resolution,
    resolve,
    sibling_outlier,
)
from .prices.same_weights import SAME_WEIGHTS, WEIGHTS_FIELDS, HostedModel, same_weights_values
from .prices.same_weights import SOURCE_VERSION as SAME_WEIGHTS_VERSION
from .prices.sources import REFERENCE_NAMES, REFERENCE_SOURCES, RESELLER_NAMES, ReferenceSource, SourceProviders
from .sources.endpoints import ConnectionLike
from .sources.registry import GATEWAY_REGISTRY
from .store.candidates import CandidateRow, ReferenceRunResult, record_reference_run, reference_targets, store_candidates
from .store.field_candidates import (
    FieldCandidateRow,
    FieldState,
    chat_models_with_repository,
    load_field_state,
    operator_field_values,
    store_field_candidates,
    stored_candidate_values,
    write_field_decisions,
)
from .store.price_rows import PriceRowWrites, SheetWrite, write_price_sheets
from .store.prices import (
    PRICE_FIELDS,
    TRACKED_FIELDS,
    PriceChange,
    PriceState,
    StoredCandidate,
    apply_decisions,
    load_price_state,
    lock_for_resolution,
    raw_records,
)
from .store.runs import RunInfo

SNAPSHOT_ID = re.compile(r"^(?P<alias>.+)-\d{4}-\d{2}-\d{2}$")

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
        if source.document_format == "catalog-listing":
            listing_connection = connect()
            try:
                document = read_catalog_listing(listing_connection, source)
            finally:
                listing_connection.close()
        else:
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
        targets = reference_targets(connection, tuple({*source.providers, *source.field_providers}))
        matched = time.monotonic()
        rows, field_rows, rules, field_only = [], [], Counter(), Counter()
        deprecation_dates = stored_candidate_values(connection, source.name, "deprecation_date")
        for model_id, slug, provider_model_id in targets:
            mapping = source.fields_mapping(slug)
            found = match_model(document.index, mapping, slug, provider_model_id)
            if found is None:
                continue
            entry = found.entry
            # a model's limits are its own wherever it is listed: an `elsewhere` entry gives them, never its prices
            field_rows += _field_rows(model_id, entry, mapping, document, deprecation_dates.get(model_id))
            if slug not in source.providers:
                field_only[found.rule] += 1
                continue
            rules[found.rule] += 1
            prices = entry.prices if found.elsewhere is None else PriceSheet()
            rows.append(CandidateRow(model_id, entry.source_model_id, found.rule, prices, document.version,
                                     entry.checked_at, entry.unread, document.as_of, found.no_price))
        match_seconds = time.monotonic() - matched
        result.writes = store_candidates(connection, source.name, rows)
        field_writes = store_field_candidates(connection, source.name, field_rows)
        result.status, result.matched = "success", len(rows)
        result.details = {
            "origin": document.origin, "bytes": document.bytes, "entries": document.index.size,
            "as_of": document.as_of.isoformat() if document.as_of else None,
            "models": sum(slug in source.providers for _, slug, _ in targets), "rules": dict(sorted(rules.items())),
            "field_only_rules": dict(sorted(field_only.items())), "dropped": dict(document.index.dropped),
            "field_candidates": {"rows": len(field_rows), "inserted": field_writes.inserted,
                                 "updated": field_writes.updated, "deleted": field_writes.deleted},
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


def _field_rows(model_id: int, entry, mapping: SourceProviders, document, deprecation_date: str | None = None
                ) -> list[FieldCandidateRow]:
    """The entry's routing fields as one model's candidates (`catalog/routing.py`); a placeholder date (far in the
    future: "no date", `catalog/lifecycle.py`) is no candidate. An entry deprecated without a date gives the date of
    the first document that said so (`deprecation_date`: the candidate stored by an earlier refresh)."""
    fields = context_as_input_limit(entry.fields) if mapping.context_is_input else entry.fields
    now = clock.now()
    if entry.deprecated_without_date and "deprecation_date" not in fields:
        first_said = date.fromisoformat(deprecation_date) if isinstance(deprecation_date, str) else None
        fields = {**fields, "deprecation_date": deprecated_by(first_said, document.as_of, now.date()).isoformat()}
    return [FieldCandidateRow(model_id, name, value, entry.source_model_id, document.version, document.as_of,
                              entry.fields_checked_at)
            for name, value in fields.items() if name not in mapping.unread_fields
            and not (ROUTING_FIELDS[name] == DATE and is_placeholder(column_value(name, value), now))]


def _record(connect, run: RunInfo, source: ReferenceSource, result: ReferenceRunResult) -> None:
    try:
        connection = connect()
        try:
            record_reference_run(connection, run, source.name, result)
        finally:
            connection.close()
    except Exception as exc:  # the source's own error is the one to report, not this one
        log.error("could not record the failed %s attempt in reference_runs: %s", source.name, exc)


def list_api_verdict(slug: str, raw: Any, normalizers: dict[str, RecordNormalizer] | None = None
                     ) -> tuple[PriceSheet | None, str | None]:
    """The provider's own prices (None when it lists none) and the listing's reason it has none, normalized again
    from the stored raw record (after an operator price is withdrawn; for the reason an unpriced model shows)."""
    provider = GATEWAY_REGISTRY.get(slug)
    if provider is None or provider.list_api is None or not isinstance(raw, Mapping):
        return None, None
    normalizers = {} if normalizers is None else normalizers
    normalizer = normalizers.get(slug) or normalizers.setdefault(slug, RecordNormalizer(provider.list_api))
    model = normalizer.normalize(raw)
    if model is None:
        return None, None
    return (model.prices or None), model.price_unknown_reason


@dataclass
class ResolveSummary:
    models: int = 0
    rows_written: int = 0
    price_changes: int = 0
    statuses_written: int = 0
    price_rows: PriceRowWrites = field(default_factory=PriceRowWrites)
    by_source: Counter = field(default_factory=Counter)
    by_confidence: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        rows = self.price_rows
        return {"models": self.models, "rows_written": self.rows_written, "price_changes": self.price_changes,
                "candidate_statuses_written": self.statuses_written,
                "price_rows": {"inserted": rows.inserted, "updated": rows.updated, "deleted": rows.deleted},
                "by_source": dict(self.by_source), "by_confidence": dict(self.by_confidence),
                "seconds": round(self.seconds, 3)}


@dataclass
class PriceGroup:
    """Models priced as one: a provider-declared alias group, a dated snapshot its sources price as its alias, or
    one model alone. `members[0]` is the canonical id."""

    members: list[PriceState]
    decision: Resolution | None = None
    used: dict[str, StoredCandidate] = field(default_factory=dict)
    sibling_note: str | None = None

    @property
    def canonical(self) -> PriceState:
        return self.members[0]


def _same_price_evidence(a: PriceState, b: PriceState) -> bool:
    """Some source prices both ids, every source that prices both gives them identical prices: the sources treat
    the dated snapshot as the model its undated id names."""
    mine = {c.source: c.prices for c in a.candidates if not c.gives_no_price}
    theirs = {c.source: c.prices for c in b.candidates if not c.gives_no_price}
    shared = set(mine) & set(theirs)
    return bool(shared) and all(mine[source] == theirs[source] for source in shared)


def price_groups(states: list[PriceState]) -> list[PriceGroup]:
    """Alias groups (the provider's listing declares them) and snapshot groups (`<id>-YYYY-MM-DD` whose sources
    price it exactly as `<id>`), among models that take no list-API price; every other model alone."""
    by_id = {(s.provider_id, s.provider_model_id): s for s in states}
    parent = {s.model_id: s.model_id for s in states}

    def root(model_id: int) -> int:
        while parent[model_id] != model_id:
            parent[model_id] = parent[parent[model_id]]
            model_id = parent[model_id]
        return model_id

    def join(member: PriceState, target: PriceState) -> None:
        if member.source != LIST_API and target.source != LIST_API:
            parent[root(member.model_id)] = root(target.model_id)

    for state in states:
        if state.alias_of and (target := by_id.get((state.provider_id, state.alias_of))) is not None:
            join(state, target)
    for state in states:
        dated = SNAPSHOT_ID.match(state.provider_model_id)
        target = by_id.get((state.provider_id, dated["alias"])) if dated else None
        if target is not None and root(state.model_id) != root(target.model_id) and _same_price_evidence(state, target):
            join(state, target)
    grouped: dict[int, list[PriceState]] = {}
    for state in states:
        grouped.setdefault(root(state.model_id), []).append(state)
    groups = []
    for members in grouped.values():
        names = {m.provider_model_id for m in members}
        targets = [m for m in members if m.alias_of not in names and not (
            (d := SNAPSHOT_ID.match(m.provider_model_id)) and d["alias"] in names)]
        canonical = min(targets or members, key=lambda m: m.model_id)
        groups.append(PriceGroup([canonical, *sorted((m for m in members if m is not canonical),
                                                    key=lambda m: m.model_id)]))
    return groups


def _group_candidates(group: PriceGroup) -> list[StoredCandidate]:
    """One candidate per source for the group: a priced one before a zero, the newest dated, the canonical id's."""
    best: dict[str, tuple] = {}
    for rank, member in enumerate(group.members):
        for candidate in member.candidates:
            key = (not candidate.gives_no_price, candidate.checked_at or date.min, -rank)
            if candidate.source not in best or key > best[candidate.source][0]:
                best[candidate.source] = (key, candidate)
    group.used = {source: candidate for source, (_, candidate) in best.items()}
    return list(group.used.values())


def _decide(group: PriceGroup, restored: Mapping[int, PriceSheet | None], order: tuple[str, ...]) -> Resolution:
    state = group.canonical
    api = None
    if state.source == LIST_API:
        api = state.stored
    elif state.source == OPERATOR and state.operator is None:
        api = restored.get(state.model_id)
    operator = next((m.operator for m in group.members if m.operator is not None), None)
    operator_version = next((m.operator_version for m in group.members if m.operator is not None), None)
    if operator is not None:
        operator = operator.without_zeros() or None
    return resolve(_group_candidates(group), list_api=api, operator=operator, operator_version=operator_version,
                   order=order)


def _apply_sibling_guard(groups: list[PriceGroup]) -> None:
    """A single source's price 10x or more from every priced sibling (same provider, same kind) is refused."""
    decided: dict[tuple[int, str | None], list[tuple[str, PriceSheet, PriceGroup]]] = {}
    for group in groups:
        if group.decision.prices:
            key = (group.canonical.provider_id, group.canonical.kind)
            decided.setdefault(key, []).append((group.canonical.provider_model_id, group.decision.prices, group))
    for group in groups:
        decision = group.decision
        if decision.confidence not in (SINGLE, RESELLER) or decision.source in (LIST_API, OPERATOR):
            continue
        key = (group.canonical.provider_id, group.canonical.kind)
        siblings = [(name, sheet) for name, sheet, other in decided.get(key, ()) if other is not group]
        reason = sibling_outlier(decision.prices, siblings)
        if reason is None:
            continue
        source = decision.source
        group.decision = Resolution(None, None, DISPUTED, dispute=f"{source}: {reason}",
                                    candidate_status={**decision.candidate_status, source: (DISPUTED, reason)})
        group.sibling_note = f"{source}'s price refused: {reason}"


def _unknown_reason(group: PriceGroup, state: PriceState, listing_reason: str | None) -> str:
    """Why a model has no price, in words: what its listing says, then what each reference source said."""
    searched = [source.name for source in REFERENCE_SOURCES.values() if state.slug in source.providers]
    refused = next((m.refused_list_price for m in group.members if m.refused_list_price), None)
    if refused:
        listing_reason = f"the listed price was refused: {refused}"
    if _publishes_prices(state.slug) and not searched:
        # the listing is all there is: its reason, as the model sync wrote it
        return listing_reason or state.values["price_unknown_reason"] or "no price in the listing"
    parts = [listing_reason or no_list_price_words(state.slug)]
    decision = group.decision
    if not searched:
        parts.append(f"no reference source covers {state.slug}")
    elif not group.used:
        scope = "any id of its group" if len(group.members) > 1 else "it"
        parts.append(f"no reference source lists {scope} ({', '.join(searched)} searched)")
    elif group.sibling_note:
        parts.append(group.sibling_note)
    else:
        notes: dict[str, list[str]] = {}
        for source, candidate in group.used.items():
            if candidate.gives_no_price:
                notes.setdefault(candidate.no_price or LISTED_AT_ZERO, []).append(source)
        for note, sources in notes.items():
            if note == LISTED_AT_ZERO:
                verb = "lists" if len(sources) == 1 else "list"
                parts.append(f"{', '.join(sources)} {verb} it at 0, which is not a price")
            else:
                parts.append(f"{', '.join(sources)}: {note}")
        if decision.dispute:
            parts.append(f"every reference price was refused ({decision.dispute})")
        if notes and (unlisted := [name for name in searched if name not in group.used]):
            parts.append(f"not listed by {', '.join(unlisted)}")
    return "; ".join(parts)


def no_list_price_words(slug: str) -> str:
    """Why a provider's listing gives a model no price when its spec reads none: its own words, else the usual."""
    provider = GATEWAY_REGISTRY.get(slug)
    spec = provider.list_api if provider else None
    return (spec and spec.prices_unread_reason) or "the provider's list API publishes no prices"


def _new_values(group: PriceGroup, state: PriceState, listing_reason: str | None) -> dict[str, Any]:
    decision = group.decision
    prices = decision.prices
    values: dict[str, Any] = dict.fromkeys(PRICE_FIELDS)
    if prices:
        values.update(prices.columns())
    values.update({"price_source": decision.source, "price_confidence": decision.confidence,
                   "price_source_version": decision.source_version, "price_checked_at": decision.checked_at,
                   "price_dispute": decision.dispute})
    refused = next((m.refused_list_price for m in group.members if m.refused_list_price), None)
    if refused and not prices:
        values.update({"price_confidence": DISPUTED,
                       "price_dispute": "; ".join(filter(None, (f"list_api: {refused}", decision.dispute)))})
    if decision.source == LIST_API and state.source == LIST_API:
        values.update({name: state.values[name] for name in ("is_free", "price_is_variable", "price_unknown_reason")})
    elif prices:
        values.update({"is_free": False if prices.any_positive else None, "price_is_variable": prices.has_windows,
                       "price_unknown_reason": None})
    else:
        # the listing's own "variable" mark stays (OpenRouter's routers); a reference's time windows went with it
        variable = bool(state.values["price_is_variable"]) and _publishes_prices(state.slug)
        values.update({"is_free": None, "price_is_variable": variable,
                       "price_unknown_reason": _unknown_reason(group, state, listing_reason)})
    return values


def _status_of(candidate: StoredCandidate, group: PriceGroup) -> tuple[str, str | None]:
    decision = group.decision
    used = group.used.get(candidate.source)
    if used is candidate:
        return decision.candidate_status[candidate.source]
    via = used.source_model_id if used is not None else None
    note = f"this source's entry {via!r} priced the group" if via else None
    if candidate.zero_only or (candidate.no_price is not None and decision.prices is None):
        return DIFFERS, candidate.no_price or LISTED_AT_ZERO
    if decision.prices is None:
        return DISPUTED if decision.dispute else DIFFERS, note
    gap = unit_error(candidate.prices, decision.prices)
    if gap is not None:
        return DISPUTED, f"{gap[1].meter} {round(gap[0], 1)}x away from the stored {decision.source} price"
    if agrees(candidate.prices, decision.prices):
        return AGREES, None
    chosen = decision.chosen
    if chosen is not None and chosen.provably_newer_than(candidate):
        return SUPERSEDED, (f"older evidence: {candidate.source} as of {candidate.as_of}, while {chosen.source}'s price "
                            f"dates from {chosen.checked_at}")
    return DIFFERS, note


def resolve_prices(connection) -> ResolveSummary:
    """Decide and store every active model's price in one transaction. `connection` is autocommit."""
    started = time.monotonic()
    summary = ResolveSummary()
    order = REFERENCE_NAMES
    with connection.transaction(), connection.cursor() as cursor:
        lock_for_resolution(cursor)
        states = load_price_state(cursor, RESELLER_NAMES, REFERENCE_NAMES)
        withdrawn = [s for s in states if s.source == OPERATOR and s.operator is None]
        # what the listing says of a model it gives no price, where the stored reason cannot be taken as the
        # listing's: a provider some reference covers (its reason has the references' part) or no reason yet
        unpriced_listed = [s for s in states if s.source not in (LIST_API, OPERATOR) and _publishes_prices(s.slug)
                           and (_covered(s.slug) or not s.values["price_unknown_reason"])]
        raws = raw_records(cursor, [s.model_id for s in withdrawn + unpriced_listed])
        normalizers: dict[str, RecordNormalizer] = {}
        verdicts = {s.model_id: list_api_verdict(s.slug, raws.get(s.model_id), normalizers)
                    for s in withdrawn + unpriced_listed}
        restored = {s.model_id: verdicts[s.model_id][0] for s in withdrawn}
        groups = price_groups(states)
        for group in groups:
            group.decision = _decide(group, restored, order)
        _apply_sibling_guard(groups)

        rows, changes, statuses, sheets = [], [], [], {}
        for group in groups:
            decision = group.decision
            for state in group.members:
                summary.by_source[decision.source or "none"] += 1
                summary.by_confidence[decision.confidence or "none"] += 1
                listing_reason = verdicts.get(state.model_id, (None, None))[1]
                new = _new_values(group, state, listing_reason)
                if new != state.values:
                    rows.append((state.model_id, new))
                    source = decision.source or state.source
                    changes += [PriceChange(state, name, state.values[name], new[name], source)
                                for name in TRACKED_FIELDS if new[name] != state.values[name]]
                if decision.source != LIST_API or state.source != LIST_API:
                    chosen = decision.chosen
                    merged = {c.source: (c.source_model_id, c.source_version, c.checked_at) for c in group.used.values()}
                    sheets[state.model_id] = SheetWrite(decision.prices or PriceSheet(), decision.source,
                                                        chosen.source_version if chosen else decision.source_version,
                                                        chosen.checked_at if chosen else None,
                                                        getattr(chosen, "source_model_id", None), merged)
                for candidate in state.candidates:
                    status, reason = _status_of(candidate, group)
                    if (status, reason) != (candidate.status, candidate.status_reason):
                        statuses.append((state.model_id, candidate.source, status, reason))
        by_id = {s.model_id: s for s in states}
        summary.price_rows = write_price_sheets(cursor, sheets)
        changes += [PriceChange(by_id[c.model_id], c.key.slug(), c.old, c.new, c.source)
                    for c in summary.price_rows.changes]
        summary.models = len(states)
        summary.rows_written, summary.price_changes, summary.statuses_written = apply_decisions(
            cursor, rows, changes, statuses
        )
    summary.seconds = time.monotonic() - started
    log.info("Prices resolved for %d active models: %d rows and %d candidate statuses written, %d price changes "
             "(price rows: %d inserted, %d updated, %d deleted); sources %s; confidence %s", summary.models,
             summary.rows_written, summary.statuses_written, summary.price_changes, summary.price_rows.inserted,
             summary.price_rows.updated, summary.price_rows.deleted, dict(summary.by_source),
             dict(summary.by_confidence))
    return summary


def _covered(slug: str) -> bool:
    return any(slug in source.providers for source in REFERENCE_SOURCES.values())


def _publishes_prices(slug: str) -> bool:
    provider = GATEWAY_REGISTRY.get(slug)
    spec = provider.list_api if provider else None
    return spec is not None and bool(spec.fields.token_prices or spec.fields.unit_prices_usd)


def listed_fields(slug: str, raw: Any, normalizers: dict[str, RecordNormalizer]) -> dict[str, Any]:
    """The routing fields the provider's listing gives a model, normalized again from its stored raw record (after
    an operator's value is withdrawn)."""
    provider = GATEWAY_REGISTRY.get(slug)
    if provider is None or provider.list_api is None or not isinstance(raw, Mapping):
        return {}
    normalizer = normalizers.get(slug) or normalizers.setdefault(slug, RecordNormalizer(provider.list_api))
    model = normalizer.normalize(raw)
    if model is None:
        return {}
    columns = {"context_length": model.context_length, "max_input_tokens": model.max_input_tokens,
               "max_output_tokens": model.max_output_tokens, "deprecation_date": model.deprecation_date,
               "shutdown_date": model.shutdown_date,
               **{column: model.capabilities.get(name) for name, column in CAPABILITY_COLUMNS.items()}}
    return {name: json_value(name, value) for name, value in columns.items() if json_value(name, value) is not None}


@dataclass
class FieldSummary:
    models: int = 0
    models_written: int = 0
    changes: int = 0
    statuses_written: int = 0
    # field -> source -> models whose stored value it gave
    by_source: dict[str, Counter] = field(default_factory=dict)
    # `same-weights` candidates inserted, updated or deleted
    same_weights: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"models": self.models, "models_written": self.models_written, "changes": self.changes,
                "same_weights_candidates_written": self.same_weights,
                "candidate_statuses_written": self.statuses_written,
                "by_source": {name: dict(counts) for name, counts in self.by_source.items()},
                "seconds": round(self.seconds, 3)}


def _adopt(name: str, state: FieldState, target: FieldDecision) -> FieldDecision:
    """An alias's limit is its target's (as the model sync aligns them); its own candidates are judged against it."""
    if target.value is None:
        return FieldDecision(None, None, statuses={c.source: (DIFFERS, "an alias takes its target's limits, unknown")
                                                   for c in state.candidates.get(name, ())})
    decision = decide_field(name, state.candidates.get(name, ()), listed=target.value)
    decision.source, decision.confidence = target.source, target.confidence
    decision.source_version, decision.source_model_id, decision.checked_at = (
        target.source_version, target.source_model_id, target.checked_at)
    return decision


def _decide_all(cursor, states: list[FieldState], operator) -> dict[int, dict[str, FieldDecision]]:
    """Every active model's routing fields, by the rules of `field_resolve.py`; aliases take their target's limits."""
    withdrawn = [s for s in states if any(s.source_of(name) == OPERATOR
                                          and name not in operator.get((s.slug, s.provider_model_id), {})
                                          for name in ROUTING_FIELDS)]
    raws = raw_records(cursor, [s.model_id for s in withdrawn])
    normalizers: dict[str, RecordNormalizer] = {}
    relisted = {s.model_id: listed_fields(s.slug, raws.get(s.model_id), normalizers) for s in withdrawn}
    decided: dict[int, dict[str, FieldDecision]] = {}
    for state in states:
        listed = {name: value for name, value in state.values.items()
                  if value is not None and state.source_of(name) in (LIST_API, None)}
        for name in ROUTING_FIELDS:
            if state.source_of(name) == OPERATOR and state.model_id in relisted:
                listed.pop(name, None)
                if (value := relisted[state.model_id].get(name)) is not None:
                    listed[name] = value
        decided[state.model_id] = decide_fields(state.candidates, listed,
                                                operator.get((state.slug, state.provider_model_id), {}),
                                                REFERENCE_NAMES)
    by_name = {(s.provider_id, s.provider_model_id): s for s in states}
    for state in states:
        target = by_name.get((state.provider_id, state.alias_of)) if state.alias_of else None
        if target is not None and target is not state:
            for name in ("context_length", "max_output_tokens"):
                if name not in operator.get((state.slug, state.provider_model_id), {}):
                    decided[state.model_id][name] = _adopt(name, state, decided[target.model_id][name])
    return decided


def _same_weights_rows(cursor, states: list[FieldState], decided: dict[int, dict[str, FieldDecision]]
                       ) -> list[FieldCandidateRow]:
    """The `same-weights` candidates of the active chat models, from what the other hosts of their weights were just
    decided to support (`prices/same_weights.py`)."""
    chat = {model_id: repository for model_id, repository in chat_models_with_repository(cursor)}
    hosted = [HostedModel(s.model_id, s.slug, s.provider_model_id, chat[s.model_id],
                          {name: (decided[s.model_id][name].value, decided[s.model_id][name].source)
                           for name in WEIGHTS_FIELDS})
              for s in states if s.model_id in chat]
    today = clock.now().date()
    return [FieldCandidateRow(found.model_id, found.field, found.value, found.evidence, SAME_WEIGHTS_VERSION, today)
            for found in same_weights_values(hosted)]


def resolve_fields(connection) -> FieldSummary:
    """Decide and store every active model's routing fields in one transaction. `connection` is autocommit.

    The decisions are made twice when the `same-weights` candidates they give change: those candidates are read
    from the first decisions (what every host of a model's weights supports), stored, and decided with the rest."""
    started = time.monotonic()
    summary = FieldSummary()
    with connection.transaction(), connection.cursor() as cursor:
        lock_for_resolution(cursor)
        states = load_field_state(cursor)
        operator = operator_field_values(cursor)
        decided = _decide_all(cursor, states, operator)
        weights = store_field_candidates(connection, SAME_WEIGHTS, _same_weights_rows(cursor, states, decided))
        summary.same_weights = weights.inserted + weights.updated + weights.deleted
        if summary.same_weights:
            states = load_field_state(cursor)
            decided = _decide_all(cursor, states, operator)

        rows, changes, statuses = [], [], []
        for state in states:
            decisions = decided[state.model_id]
            values = {name: decision.value for name, decision in decisions.items()}
            sources = {name: d.provenance() for name, d in decisions.items() if d.provenance() is not None}
            for name, decision in decisions.items():
                if decision.value is not None:
                    summary.by_source.setdefault(name, Counter())[decision.source] += 1
                for candidate in state.candidates.get(name, ()):
                    status = decision.statuses[candidate.source]
                    if status != (candidate.status, candidate.status_reason):
                        statuses.append((state.model_id, name, candidate.source, *status))
            if values != state.values or sources != state.sources:
                rows.append((state.model_id, values, sources))
                changes += [(state, name, state.values[name], values[name], decisions[name].source)
                            for name in ROUTING_FIELDS if values[name] != state.values[name]]
        writes = write_field_decisions(cursor, rows, changes, statuses)
    summary.models, summary.models_written = len(states), writes.models
    summary.changes, summary.statuses_written = writes.changes, writes.statuses
    summary.seconds = time.monotonic() - started
    log.info("Routing fields resolved for %d active models: %d models and %d candidate statuses written, %d changes",
             summary.models, summary.models_written, summary.statuses_written, summary.changes)
    return summary
