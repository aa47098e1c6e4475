"""Which value a routing field (`catalog/routing.py`) takes, from which source, by the rules prices follow.

Precedence as for prices (`resolve.py`): an operator's value (`operator_fields`) first, then the provider's list
API, then the references. A reference fills only what the list API leaves empty and never replaces a listed
value: where it disagrees it stays a candidate, `differs`, with the size of the difference.

Between references, the price rules:

1. **Unit errors.** A token count 10x or more away from every other candidate is refused (`disputed`).
2. **Recency.** A candidate is superseded when a disagreeing one is provably newer: the date its source last
   updated the entry (`checked_at`: models.dev's `last_updated`) is after the other's document date (`as_of`).
   Most disagreements between references are out-of-date entries; this keeps a stale one from outvoting newer
   evidence. LiteLLM gives no date per entry, so its values never supersede another's.
3. **Agreement.** Of the rest, the value most others give, then the first source in declaration order.

A fallback source (`FALLBACK_SOURCES`: `same-weights`, the other hosts of a model's weights, `same_weights.py`) is
read only where no other reference gives a usable value: evidence about the weights never outvotes evidence about
the host.

Confidence says which rule decided, with the price vocabulary: `confirmed`, `single`, `newest`, `majority`,
`preferred`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..catalog.routing import ROUTING_FIELDS, TOKENS, size_of_gap
from .price_set import UNIT_ERROR_RATIO
from .resolve import (
    AGREES,
    CONFIRMED,
    DIFFERS,
    DISPUTED,
    LIST_API,
    MAJORITY,
    NEWEST,
    OPERATOR,
    PREFERRED,
    SINGLE,
    STORED,
    SUPERSEDED,
    Candidate,
)
from .same_weights import SAME_WEIGHTS

FALLBACK_SOURCES = (SAME_WEIGHTS,)


@dataclass(frozen=True)
class FieldCandidate:
    source: str
    value: Any
    source_version: str | None = None
    source_model_id: str | None = None
    as_of: date | None = None
    checked_at: date | None = None

    # the price rule, unchanged: this value was set after the other's document vouched for its own
    provably_newer_than = Candidate.provably_newer_than


@dataclass
class FieldDecision:
    value: Any
    source: str | None
    confidence: str | None = None
    source_version: str | None = None
    source_model_id: str | None = None
    checked_at: date | None = None
    statuses: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # the field whose value stands for this one, where no source gives this one
    derived_from: str | None = None

    def provenance(self) -> dict[str, Any] | None:
        """The `field_sources` entry of the stored value."""
        if self.value is None or self.source is None:
            return None
        found = {"source": self.source, "confidence": self.confidence, "source_version": self.source_version,
                 "source_model_id": self.source_model_id,
                 "checked_at": self.checked_at.isoformat() if self.checked_at else None,
                 "derived_from": self.derived_from}
        return {k: v for k, v in found.items() if v is not None}


def _unit_error(name: str, a: Any, b: Any) -> bool:
    if ROUTING_FIELDS[name] != TOKENS or not a or not b:
        return False
    return max(a, b) / min(a, b) >= UNIT_ERROR_RATIO


def _refused(name: str, candidates: Sequence[FieldCandidate], bounds: tuple[int | None, int | None]
             ) -> dict[str, str]:
    low, high = bounds
    refused = {}
    for candidate in candidates:
        if high is not None and candidate.value > high:
            refused[candidate.source] = f"{candidate.value:,} is above the model's context length, {high:,}"
            continue
        if low is not None and candidate.value < low:
            refused[candidate.source] = f"{candidate.value:,} is below a limit the listing gives, {low:,}"
            continue
        others = [o for o in candidates if o is not candidate]
        if others and all(_unit_error(name, candidate.value, o.value) for o in others):
            refused[candidate.source] = "10x or more away from " + ", ".join(
                f"{o.source}'s {o.value:,}" for o in others)
    return refused


def decide_field(name: str, candidates: Sequence[FieldCandidate], *, listed: Any = None,
                 operator: tuple[Any, str] | None = None, order: Sequence[str] = (),
                 bounds: tuple[int | None, int | None] = (None, None)) -> FieldDecision:
    """One field of one model. `listed`: the list API's value; `operator`: (value, version); `bounds`: the least
    and most a token count may be (a window holds its output and input limits, as models.dev's schema checks)."""
    refused = _refused(name, candidates, bounds)
    usable = [c for c in candidates if c.source not in refused]
    usable = [c for c in usable if c.source not in FALLBACK_SOURCES] or usable
    stale: dict[str, str] = {}
    if operator is not None:
        decision = FieldDecision(operator[0], OPERATOR, source_version=operator[1])
    elif listed is not None:
        decision = FieldDecision(listed, LIST_API)
    elif not usable:
        decision = FieldDecision(None, None)
    else:
        for candidate in usable:
            newer = next((o for o in usable if o.value != candidate.value and o.provably_newer_than(candidate)), None)
            if newer is not None:
                stale[candidate.source] = (f"older evidence: {candidate.source} as of {candidate.as_of}, while "
                                           f"{newer.source}'s entry dates from {newer.checked_at}")
        current = [c for c in usable if c.source not in stale]

        def rank(candidate: FieldCandidate):
            agreeing = sum(o.value == candidate.value for o in current if o is not candidate)
            return -agreeing, order.index(candidate.source) if candidate.source in order else len(order)

        chosen = min(current, key=rank)
        agreeing = [c for c in current if c is not chosen and c.value == chosen.value]
        if len(usable) == 1:
            confidence = SINGLE
        elif len(agreeing) == len(current) - 1:
            confidence = NEWEST if stale else CONFIRMED
        else:
            rivals = [c for c in current if c.value != chosen.value]
            best_rival = max(sum(o.value == r.value for o in current if o is not r) for r in rivals)
            confidence = MAJORITY if len(agreeing) > best_rival else PREFERRED
        decision = FieldDecision(chosen.value, chosen.source, confidence, chosen.source_version,
                                 chosen.source_model_id, chosen.checked_at)
    for candidate in candidates:
        if decision.source == candidate.source and decision.value == candidate.value:
            status = (STORED, None)
        elif candidate.source in refused:
            status = (DISPUTED, refused[candidate.source])
        elif candidate.source in stale:
            status = (SUPERSEDED, stale[candidate.source])
        elif candidate.value == decision.value:
            status = (AGREES, None)
        else:
            status = (DIFFERS, f"{size_of_gap(name, candidate.value, decision.value)}, the stored "
                               f"{decision.source} value" if decision.value is not None else None)
        decision.statuses[candidate.source] = status
    if decision.source in (OPERATOR, LIST_API):
        agreed = any(status == AGREES for status, _ in decision.statuses.values())
        decision.confidence = CONFIRMED if agreed else SINGLE
    return decision


def decide_fields(candidates: Mapping[str, Sequence[FieldCandidate]], listed: Mapping[str, Any],
                  operator: Mapping[str, tuple[Any, str]], order: Sequence[str]) -> dict[str, FieldDecision]:
    """Every routing field of one model: the window first, so that no limit within it is stored above it."""
    def decide(name: str, bounds: tuple[int | None, int | None] = (None, None)) -> FieldDecision:
        return decide_field(name, candidates.get(name, ()), listed=listed.get(name), operator=operator.get(name),
                            order=order, bounds=bounds)

    within = [listed.get(n) for n in WITHIN_CONTEXT if listed.get(n) is not None and operator.get(n) is None]
    floor = max(within, default=None)
    decided = {"context_length": decide("context_length", (floor, None))}
    if decided["context_length"].value is None:
        limit = decide("max_input_tokens")
        if limit.value is not None and (floor is None or limit.value >= floor):
            decided["max_input_tokens"] = limit
            decided["context_length"] = _window_from_input_limit(decided["context_length"], limit)
    window = decided["context_length"].value
    for name in ROUTING_FIELDS:
        if name not in decided:
            decided[name] = decide(name, (None, window) if name in WITHIN_CONTEXT else (None, None))
    _keep_within_window(decided)
    return decided


def _keep_within_window(decided: dict[str, FieldDecision]) -> None:
    """An operator's window below a listed limit (or an operator's limit above a listed window): the limit that
    does not fit is left unknown rather than stored against the catalog's rule that a window holds its limits."""
    window = decided["context_length"]
    for name in WITHIN_CONTEXT:
        limit = decided[name]
        if window.value is None or limit.value is None or limit.value <= window.value:
            continue
        if limit.source == OPERATOR and window.source != OPERATOR:
            decided["context_length"] = window = FieldDecision(None, None, statuses=window.statuses)
        else:
            decided[name] = FieldDecision(None, None, statuses=limit.statuses)


def _window_from_input_limit(window: FieldDecision, limit: FieldDecision) -> FieldDecision:
    """Where no source states a model's window, its input limit stands for it, marked so: every prompt it admits
    fits (LiteLLM states only `max_input_tokens`, which is the window for most models and less for a few: gpt-5's
    272,000 of 400,000). The window's own candidates, all refused, keep their statuses."""
    return FieldDecision(limit.value, limit.source, limit.confidence, limit.source_version, limit.source_model_id,
                         limit.checked_at, window.statuses, derived_from="max_input_tokens")


# the limits a window holds: never stored above the context length
WITHIN_CONTEXT = ("max_output_tokens", "max_input_tokens")
