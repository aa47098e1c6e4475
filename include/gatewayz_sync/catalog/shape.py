"""A listing's shape: which keys its records carry and how many records carry each, and how it drifted.

The key paths counted are a record's own keys and the keys of its object values (`pricing`, `pricing.prompt`),
whatever the spec reads: a provider that renames `pricing` to `price` shows as records that now lack `pricing`
and a new key `price`, before anyone has to guess why 218 prices went missing. A shape is kept in the attempt's
`sync_runs.details` (at most `MAX_PATHS` paths) and compared with the last successful listing's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_PATHS = 200
MOSTLY = 0.5
DRIFT_SHARE = 0.3
DRIFT_MIN_RECORDS = 5
MAX_NOTES = 6
MAX_NAMED_KEYS = 3


@dataclass
class ShapeCounter:
    """Counts the key paths of every record it is shown (C-speed `Counter.update` per record)."""

    records: int = 0
    top: Counter = field(default_factory=Counter)
    nested: defaultdict = field(default_factory=lambda: defaultdict(Counter))

    def count(self, record: Mapping[str, Any]) -> None:
        self.records += 1
        self.top.update(record.keys())
        nested = self.nested
        for key, value in record.items():
            if type(value) is dict:  # parsed JSON objects; an ABC check costs twice the whole count
                nested[key].update(value.keys())

    def shape(self) -> ListingShape:
        keys = Counter({str(key): count for key, count in self.top.items()})
        for parent, children in self.nested.items():
            keys.update({f"{parent}.{child}": count for child, count in children.items()})
        return ListingShape(self.records, dict(sorted(keys.most_common(MAX_PATHS))))


@dataclass(frozen=True)
class ListingShape:
    records: int
    keys: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "keys": self.keys}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any] | None) -> ListingShape | None:
        if not isinstance(document, Mapping) or not isinstance(document.get("keys"), Mapping):
            return None
        return cls(int(document.get("records") or 0), {str(k): int(v) for k, v in document["keys"].items()})

    def share(self, key: str) -> float:
        return self.keys.get(key, 0) / self.records if self.records else 0.0


def _under(path: str, parents: set[str]) -> bool:
    return "." in path and path.split(".", 1)[0] in parents


def lost_keys(before: ListingShape, now: ListingShape) -> list[tuple[str, int]]:
    """Keys most records carried before that at least DRIFT_SHARE more of them now lack: (key, records lacking it).
    A key under a lost parent is not named again."""
    lost = []
    for key in sorted(before.keys, key=lambda k: (-before.keys[k], k)):
        lacking = now.records - now.keys.get(key, 0)
        if before.share(key) >= MOSTLY and before.share(key) - now.share(key) >= DRIFT_SHARE \
                and lacking >= DRIFT_MIN_RECORDS:
            lost.append((key, lacking))
    parents = {key for key, _ in lost if "." not in key}
    return [(key, lacking) for key, lacking in lost if not _under(key, parents)]


def new_keys(before: ListingShape, now: ListingShape) -> list[str]:
    """Keys never seen in the earlier listing that at least DRIFT_MIN_RECORDS records now carry (children of a new
    key are not named again)."""
    found = [key for key in sorted(now.keys, key=lambda k: (-now.keys[k], k))
             if key not in before.keys and now.keys[key] >= DRIFT_MIN_RECORDS]
    parents = {key for key in found if "." not in key}
    return [key for key in found if not _under(key, parents)]


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def _jumped(reasons_before: Mapping[str, int], reasons_now: Mapping[str, int], seen_before: int,
            seen_now: int) -> list[tuple[str, int, int]]:
    """Reasons whose share of the records rose by DRIFT_SHARE or more: (reason, count now, count before)."""
    return [(reason, count, int(reasons_before.get(reason, 0))) for reason, count in sorted(reasons_now.items())
            if count >= DRIFT_MIN_RECORDS
            and _share(count, seen_now) - _share(int(reasons_before.get(reason, 0)), seen_before) >= DRIFT_SHARE]


def drift_notes(before: ListingShape | None, before_report: Mapping[str, Any] | None, now: ListingShape,
                now_report: Mapping[str, Any]) -> list[str]:
    """What changed in the listing's shape since the last successful one, in words; empty when nothing did."""
    if before is None or not before.records or not now.records:
        return []
    notes = [f"{lacking} records now lack `{key}`" for key, lacking in lost_keys(before, now)]
    if notes:
        fresh = new_keys(before, now)
        if fresh:
            shown = ", ".join(f"`{key}`" for key in fresh[:MAX_NAMED_KEYS])
            more = f" and {len(fresh) - MAX_NAMED_KEYS} more" if len(fresh) > MAX_NAMED_KEYS else ""
            notes.append(f"new key{'s' if len(fresh) > 1 else ''} {shown}{more} seen")
    before_report = before_report or {}
    seen_before, seen_now = int(before_report.get("records_seen") or 0), int(now_report.get("records_seen") or 0)
    for kind in ("rejected", "nulled"):
        for reason, count, was in _jumped(before_report.get(kind) or {}, now_report.get(kind) or {}, seen_before,
                                          seen_now):
            notes.append(f"{count} of {seen_now} records {kind} for `{reason}` (was {was} of {seen_before})")
    return notes[:MAX_NOTES]
