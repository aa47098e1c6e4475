"""Which price a model stores, from which source, with which confidence: precedence and the unit-error guard.

Precedence: an operator price (negotiated rates, `operator_prices`) first, then the provider's list API, then
the references. A reference never replaces a list-API price and nothing replaces an operator price.

Between references: a candidate 10x or more away from every other candidate it can be compared with is a unit
error and is never stored (two candidates 10x apart store neither). Of the rest, the stored one is the one no
other candidate is 10x away from, then the one most others agree with (within 1%), then the first source in
declaration order.

Confidence of the stored price: `disputed` when any candidate is 10x or more away from it (or, with nothing
stored, when the guard refused every candidate), else `confirmed` when another source agrees within 1%, else
`single`. Each candidate is marked `stored`, `agrees`, `differs` (more than 1%, less than 10x) or `disputed`,
with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from .price_set import PriceSet, agrees, unit_error

OPERATOR, LIST_API = "operator", "list_api"
CONFIRMED, SINGLE, DISPUTED = "confirmed", "single", "disputed"
STORED, AGREES, DIFFERS = "stored", "agrees", "differs"


@dataclass(frozen=True)
class Candidate:
    source: str
    prices: PriceSet
    source_version: str
    checked_at: date | None = None


@dataclass
class Resolution:
    prices: PriceSet | None
    source: str | None
    confidence: str | None
    source_version: str | None = None
    checked_at: date | None = None
    dispute: str | None = None
    candidate_status: dict[str, tuple[str, str | None]] = field(default_factory=dict)


def _gap_text(gap, what: str) -> str:
    ratio, name = gap
    return f"{name} {ratio.quantize(1) if ratio >= 100 else round(ratio, 1)}x {what}"


def _outliers(candidates: Sequence[Candidate]) -> dict[str, str]:
    """Candidates 10x or more away from every other candidate they compare with: source -> reason."""
    refused = {}
    for candidate in candidates:
        gaps = [(other, unit_error(candidate.prices, other.prices)) for other in candidates if other is not candidate]
        if gaps and all(gap is not None for _, gap in gaps):
            refused[candidate.source] = "; ".join(_gap_text(gap, f"away from {other.source}") for other, gap in gaps)
    return refused


def _choose(eligible: Sequence[Candidate], everyone: Sequence[Candidate], order: Sequence[str]) -> Candidate:
    def key(candidate: Candidate):
        others = [o for o in everyone if o is not candidate]
        conflicts = sum(unit_error(candidate.prices, o.prices) is not None for o in others)
        agreeing = sum(agrees(candidate.prices, o.prices) for o in others)
        return conflicts, -agreeing, order.index(candidate.source) if candidate.source in order else len(order)

    return min(eligible, key=key)


def resolve(
    candidates: Sequence[Candidate],
    *,
    list_api: PriceSet | None = None,
    operator: PriceSet | None = None,
    operator_version: str | None = None,
    order: Sequence[str] = (),
) -> Resolution:
    """Decide one model's stored price. `order` is the references' order of preference."""
    refused = _outliers(candidates)
    chosen: Candidate | None = None
    if operator is not None:
        resolution = Resolution(operator, OPERATOR, None, operator_version)
    elif list_api is not None:
        resolution = Resolution(list_api, LIST_API, None)
    elif eligible := [c for c in candidates if c.source not in refused]:
        chosen = _choose(eligible, candidates, order)
        resolution = Resolution(chosen.prices, chosen.source, None, chosen.source_version, chosen.checked_at)
    else:
        resolution = Resolution(None, None, None)

    disputes = []
    confirmed = False
    for candidate in candidates:
        if candidate is chosen:
            resolution.candidate_status[candidate.source] = (STORED, None)
            continue
        if resolution.prices is None:
            reason = refused.get(candidate.source)
            resolution.candidate_status[candidate.source] = (DISPUTED, reason)
            disputes.append(f"{candidate.source}: {reason}")
            continue
        gap = unit_error(candidate.prices, resolution.prices)
        if gap is not None:
            reason = _gap_text(gap, f"away from the stored {resolution.source} price")
            resolution.candidate_status[candidate.source] = (DISPUTED, reason)
            disputes.append(f"{candidate.source}: {reason}")
        elif agrees(candidate.prices, resolution.prices):
            resolution.candidate_status[candidate.source] = (AGREES, None)
            confirmed = True
        else:
            resolution.candidate_status[candidate.source] = (DIFFERS, None)

    if disputes:
        resolution.confidence, resolution.dispute = DISPUTED, "; ".join(disputes)
    elif resolution.prices is not None:
        resolution.confidence = CONFIRMED if confirmed else SINGLE
    return resolution
