"""Which prices a model is billed by, from which source, and which rule decided: precedence, the unit-error guard,
recency, agreement.

Precedence: an operator price (negotiated rates: `operator_prices` columns and `operator_price_rows`) first, then
the provider's list API, then the references. A reference never replaces a list-API price and nothing replaces an
operator price.

Between references, in this order:

1. **Unit errors.** A candidate 10x or more away from every other first-party candidate it can be compared with
   is never stored (two candidates 10x apart store neither). A reseller's listing (OpenRouter) refuses nobody.
2. **Recency.** Each candidate's evidence spans from the date its source gives the price (`checked_at`:
   genai-prices' dated price change, models.dev's `last_updated`; none for LiteLLM) to the date of the document it
   was read from (`as_of`: a snapshot's date, a package's release date, a fetch). A candidate is *superseded*
   when another candidate that disagrees with it is provably newer: dated after this one's document. Dated
   evidence thus beats an undated or stale majority, and agreement only counts between sources of comparable age
   (neither provably newer than the other).
3. **Agreement.** Of the rest, the stored candidate is the one no candidate is 10x away from, then the one most
   others agree with (within 1% on the headline prices), then the first source in declaration order.
4. **Every meter.** The stored prices are the chosen candidate's, plus the prices it lacks (a long-context
   tier, a batch price) from the candidates that agree with it and are not superseded, each row keeping its
   source. A reseller's prices are never merged into a first party's.

A reseller's listing refuses nobody and is never marked disputed: a price 10x from the stored one there is
another host's price, flagged as `differs` with the ratio. A candidate whose price is not the provider's (an
open-weight model in OpenRouter's listing: `no_price` says so) is never stored, never refuses anybody; it is
compared with the stored price when there is one (`agrees`, `differs`), else `differs` with its reason.

A gap that is a *mislabel* counts against the mislabelling source only: when a source's headline price is
exactly the price another gives a more specific meter (models.dev files Gemini's image-output token price as
`output`), the other is not refused for it.

Confidence says which rule decided: `confirmed` (every source agrees), `single` (one source), `newest` (sources
disagreed; older evidence was superseded and the rest agree), `majority` (sources of comparable age disagreed; most
agree with the stored one), `preferred` (no majority: the first source in order), `reseller` (only OpenRouter's own
listing prices it), `disputed` (a candidate is 10x or more from the stored price, or every candidate was refused,
or one source's price is 10x or more from every sibling of the same provider and kind: `sibling_outlier`).
Each candidate is marked `stored`, `agrees`, `differs` (more than 1%, less than 10x), `superseded` or `disputed`,
with the reason.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from ..catalog.meters import PriceKey, PriceSheet
from .documents import LISTED_AT_ZERO
from .price_set import UNIT_ERROR_RATIO, agrees, gap_name, gap_rank, unit_error, widest_gap

OPERATOR, LIST_API = "operator", "list_api"
CONFIRMED, SINGLE, DISPUTED = "confirmed", "single", "disputed"
NEWEST, MAJORITY, PREFERRED, RESELLER = "newest", "majority", "preferred", "reseller"
CONFIDENCES = (CONFIRMED, SINGLE, NEWEST, MAJORITY, PREFERRED, RESELLER, DISPUTED)
STORED, AGREES, DIFFERS, SUPERSEDED = "stored", "agrees", "differs", "superseded"


@dataclass(frozen=True)
class Candidate:
    source: str
    prices: PriceSheet
    source_version: str
    checked_at: date | None = None
    as_of: date | None = None
    reseller: bool = False
    zero_only: bool = False
    # why a zero-only candidate gives no price, in words (`documents.py`); on a priced candidate, why its price is
    # not the model's provider's (an open-weight model's reseller price): compared and shown, never stored
    no_price: str | None = None

    @property
    def gives_no_price(self) -> bool:
        return self.zero_only or self.no_price is not None

    def provably_newer_than(self, other: Candidate) -> bool:
        """This price was set after the other's document vouched for its own: the other is stale."""
        return self.checked_at is not None and other.as_of is not None and self.checked_at > other.as_of


@dataclass
class Resolution:
    prices: PriceSheet | None
    source: str | None
    confidence: str | None
    source_version: str | None = None
    checked_at: date | None = None
    dispute: str | None = None
    candidate_status: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    chosen: Candidate | None = None


def _ratio(gap) -> str:
    ratio = gap[0]
    return str(ratio.quantize(1)) if ratio >= 100 else str(round(ratio, 1))


def _gap_text(gap, what: str) -> str:
    return f"{gap_name(gap[1])} {_ratio(gap)}x {what}"


def mislabelled(a: PriceSheet, b: PriceSheet) -> tuple[PriceKey, PriceKey] | None:
    """(a's key, b's key) when a headline price of `a` 10x away from `b`'s is exactly the price `b` gives another
    meter under the same unit and condition: `a` files that meter's price under the headline (models.dev puts
    Gemini's image-output token price under `output`). Such a gap accuses `a`, not `b`."""
    for key, value in a.headline().items():
        other = b.get(key)
        if other is None or unit_error(PriceSheet({key: value}), PriceSheet({key: other})) is None:
            continue
        for their_key, their_value in b.items():
            if (their_key.meter != key.meter and their_key.meter.startswith(key.meter)
                    and replace(their_key, meter=key.meter) == key and their_value == value):
                return key, their_key
    return None


def _gap(candidate: Candidate, other: Candidate):
    """The unit error between two candidates as it counts against `candidate` (None when the other's mislabel
    explains it)."""
    if mislabelled(other.prices, candidate.prices) is not None:
        return None
    return unit_error(candidate.prices, other.prices)


def _outliers(candidates: Sequence[Candidate]) -> dict[int, str]:
    """Candidates 10x or more away from every other candidate they compare with, when one of those is a first party
    (a reseller alone refuses nobody): index -> reason."""
    refused = {}
    for index, candidate in enumerate(candidates):
        others = [o for o in candidates if o is not candidate and not o.gives_no_price
                  and widest_gap(candidate.prices, o.prices) is not None]
        gaps = [(other, _gap(candidate, other)) for other in others]
        if gaps and any(not o.reseller for o in others) and all(gap is not None for _, gap in gaps):
            reasons = []
            for other, gap in gaps:
                swapped = mislabelled(candidate.prices, other.prices)
                reasons.append(_gap_text(gap, f"away from {other.source}") + (
                    f" (it is {other.source}'s {swapped[1].meter} price under {swapped[0].meter})" if swapped else ""))
            refused[index] = "; ".join(reasons)
    return refused


def _superseded(eligible: Sequence[Candidate]) -> dict[int, str]:
    """Eligible first-party candidates some disagreeing candidate is provably newer than: index -> reason."""
    found = {}
    for index, candidate in enumerate(eligible):
        for other in eligible:
            if other is not candidate and other.provably_newer_than(candidate) and not agrees(candidate.prices, other.prices):
                found[index] = (f"older evidence: {candidate.source} as of {candidate.as_of}, while {other.source}'s "
                                f"price dates from {other.checked_at}")
                break
    return found


def _choose(current: Sequence[Candidate], everyone: Sequence[Candidate], order: Sequence[str]) -> Candidate:
    def key(candidate: Candidate):
        conflicts = sum(unit_error(candidate.prices, o.prices) is not None for o in everyone if o is not candidate)
        agreeing = sum(agrees(candidate.prices, o.prices) for o in current if o is not candidate)
        return conflicts, -agreeing, order.index(candidate.source) if candidate.source in order else len(order)

    return min(current, key=key)


def _decide_references(candidates: Sequence[Candidate], refused: dict[int, str], order: Sequence[str]
                       ) -> tuple[Candidate | None, str | None, dict[int, str], PriceSheet | None]:
    """(chosen, confidence, superseded, stored sheet) among reference candidates."""
    usable = [(i, c) for i, c in enumerate(candidates) if i not in refused and not c.gives_no_price]
    first_party = [c for _, c in usable if not c.reseller]
    if not first_party:
        resellers = [c for _, c in usable if c.reseller]
        if not resellers:
            return None, None, {}, None
        chosen = resellers[0]
        return chosen, RESELLER, {}, chosen.prices.with_source(chosen.source)
    stale_local = _superseded(first_party)
    stale = {candidates.index(first_party[i]): reason for i, reason in stale_local.items()}
    current = [c for i, c in enumerate(first_party) if i not in stale_local]
    chosen = _choose(current, [c for _, c in usable], order)
    agreeing = [c for c in current if c is not chosen and agrees(chosen.prices, c.prices)]
    if len(first_party) == 1:
        confidence = SINGLE
    elif len(agreeing) == len(current) - 1:
        confidence = NEWEST if stale else CONFIRMED
    else:
        rivals = [c for c in current if c is not chosen and not agrees(chosen.prices, c.prices)]
        best_rival = max(sum(agrees(r.prices, o.prices) for o in current if o is not r) for r in rivals)
        confidence = MAJORITY if len(agreeing) > best_rival else PREFERRED
    sheet = chosen.prices.with_source(chosen.source)
    for other in sorted(agreeing, key=lambda c: order.index(c.source) if c.source in order else len(order)):
        sheet = sheet.merged(other.prices, other.source)
    return chosen, confidence, stale, sheet


def resolve(
    candidates: Sequence[Candidate],
    *,
    list_api: PriceSheet | None = None,
    operator: PriceSheet | None = None,
    operator_version: str | None = None,
    order: Sequence[str] = (),
) -> Resolution:
    """Decide one model's (or one alias group's) prices. `order` is the references' order of preference."""
    refused = _outliers(candidates)
    chosen: Candidate | None = None
    stale: dict[int, str] = {}
    if operator is not None:
        resolution = Resolution(operator.with_source(OPERATOR), OPERATOR, None, operator_version)
    elif list_api is not None:
        resolution = Resolution(list_api.with_source(LIST_API), LIST_API, None)
    else:
        chosen, confidence, stale, sheet = _decide_references(candidates, refused, order)
        if chosen is None:
            resolution = Resolution(None, None, None)
        else:
            resolution = Resolution(sheet, chosen.source, confidence, chosen.source_version, chosen.checked_at,
                                    chosen=chosen)

    disputes = []
    confirmed = False
    for index, candidate in enumerate(candidates):
        status = _status(index, candidate, resolution, refused, stale)
        resolution.candidate_status[candidate.source] = status
        if status[0] == DISPUTED:
            disputes.append(f"{candidate.source}: {status[1]}")
        elif status[0] == AGREES:
            confirmed = True

    if disputes:
        resolution.confidence, resolution.dispute = DISPUTED, "; ".join(disputes)
    elif resolution.prices is not None and resolution.source in (OPERATOR, LIST_API):
        resolution.confidence = CONFIRMED if confirmed else SINGLE
    return resolution


def _status(index: int, candidate: Candidate, resolution: Resolution, refused: dict[int, str],
            stale: dict[int, str]) -> tuple[str, str | None]:
    if candidate is resolution.chosen:
        return STORED, None
    if candidate.zero_only or (candidate.no_price is not None and resolution.prices is None):
        return DIFFERS, candidate.no_price or LISTED_AT_ZERO
    if resolution.prices is None:
        return DISPUTED, refused.get(index) or "refused"
    gap = unit_error(candidate.prices, resolution.prices)
    if gap is not None and not candidate.reseller:
        swapped = mislabelled(candidate.prices, resolution.prices)
        return DISPUTED, _gap_text(gap, f"away from the stored {resolution.source} price") + (
            f" (the stored {swapped[1].meter} price under {swapped[0].meter})" if swapped else "")
    if index in stale:
        return SUPERSEDED, stale[index]
    if agrees(candidate.prices, resolution.prices):
        return AGREES, None
    if candidate.reseller:
        gap = gap or widest_gap(candidate.prices, resolution.prices)
        if gap is not None:
            mine, theirs = candidate.prices[gap[1]], resolution.prices[gap[1]]
            why = candidate.no_price or "a regional, promotional or other host's price"
            return DIFFERS, (f"{candidate.source} lists {gap_name(gap[1])} at {mine} against {theirs} "
                             f"({(mine / theirs).quantize(Decimal('0.01'))}x): {why}; flagged, not averaged")
    return DIFFERS, None


MIN_SIBLINGS = 2
# A list-API price is the provider's own word: refused by its siblings only at the smallest gap a unit slip between
# the units providers list in makes (US cents read as dollars: 100x; per 1K as per 1M, per token as per 1M: 1000x
# and 10^6). At 10x the recorded catalog's real spreads would be refused: Together's FLUX.1-schnell at $0.0027 per
# megapixel (14.8x below its cheapest image sibling), AiHubMix's gpt-5-pro at 12x gpt-5, xAI's grok-3-mini at 20x
# below grok-2-vision on output.
LIST_PRICE_SIBLING_RATIO = Decimal(100)


def _gap_at(prices: PriceSheet, sheet: PriceSheet, ratio: Decimal):
    gap = widest_gap(prices, sheet)
    return gap if gap is not None and gap[0] >= ratio else None


def sibling_outlier(prices: PriceSheet, siblings: Sequence[tuple[str, PriceSheet]], what: str = "single source",
                    ratio: Decimal = UNIT_ERROR_RATIO) -> str | None:
    """A reason when `prices` is `ratio` (10x) or more away from every sibling it compares with, else None. With
    fewer than two siblings to compare there is no telling which of two prices is the odd one: nothing is refused."""
    compared = [(name, sheet) for name, sheet in siblings if widest_gap(prices, sheet) is not None]
    if len(compared) < MIN_SIBLINGS:
        return None
    gaps = [(name, _gap_at(prices, sheet, ratio)) for name, sheet in compared]
    if not all(gap is not None for _, gap in gaps):
        return None
    ratios = sorted(gap[0] for _, gap in gaps)
    nearest = min(gaps, key=lambda item: item[1][0])
    return (f"{what}, {gap_name(nearest[1][1])} {_ratio(nearest[1])}x or more away from every one of its "
            f"{len(compared)} priced siblings of the same provider and kind (nearest: {nearest[0]}; up to "
            f"{ratios[-1].quantize(1)}x): a unit error, not stored")


def sibling_outliers(sheets: Mapping[str, PriceSheet], judged: Iterable[str], what: str,
                     ratio: Decimal = UNIT_ERROR_RATIO) -> dict[str, str]:
    """`sibling_outlier` for each name in `judged` against every other sheet of `sheets` (one provider, one kind):
    name -> reason. A listing holds thousands of models, so a price is first compared with the siblings within
    `ratio` of it on its first headline price (found by bisection); only a price none of those agrees with is
    compared with every sibling."""
    # A listing repeats a few hundred price lists over thousands of models, which share one sheet object each
    # (`store.guards._SheetCache`): the neighbours are distinct sheets, and a gap is computed once per pair of them.
    holders: dict[int, int] = {}
    distinct: dict[int, PriceSheet] = {}
    for sheet in sheets.values():
        holders[id(sheet)] = holders.get(id(sheet), 0) + 1
        distinct[id(sheet)] = sheet
    by_key: dict[PriceKey, list[tuple[Decimal, int]]] = {}
    for sheet_id, sheet in distinct.items():
        for key, amount in sheet.items():
            if amount > 0:
                by_key.setdefault(key, []).append((amount, sheet_id))
    for values in by_key.values():
        values.sort()
    near_pairs: dict[tuple[int, int], bool] = {}
    anchors: dict[int, PriceKey | None] = {}

    def agrees_with_another(sheet: PriceSheet, other_id: int) -> bool:
        """Some model other than the judged one (which holds `sheet`) holds the sheet `other_id`, within `ratio`."""
        if other_id == id(sheet) and holders[other_id] < 2:
            return False
        pair = (id(sheet), other_id)
        if pair not in near_pairs:
            near_pairs[pair] = _gap_at(sheet, distinct[other_id], ratio) is None
        return near_pairs[pair]

    refused = {}
    for name in judged:
        sheet = sheets[name]
        if id(sheet) not in anchors:
            anchors[id(sheet)] = next((key for key in sorted(sheet, key=gap_rank) if sheet[key] > 0), None)
        anchor = anchors[id(sheet)]
        if anchor is None:
            continue
        values, amount = by_key[anchor], sheet[anchor]
        low = bisect_right(values, (amount / ratio, 2**64))
        high = bisect_left(values, (amount * ratio, -1))
        if any(agrees_with_another(sheet, other_id) for _, other_id in values[low:high]):
            continue
        reason = sibling_outlier(sheet, [(other, s) for other, s in sheets.items() if other != name], what, ratio)
        if reason is not None:
            refused[name] = reason
    return refused
