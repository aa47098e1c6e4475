"""One digest per model-sync run of what changed in the catalog, or nothing when nothing notable changed.

Sections, each with its total and its first entries (largest price moves first): price moves of at least the
threshold, models added, removed and reappeared, and deprecation or shutdown dates that fall within the
lifecycle window. Values are the catalog's own: token prices in USD per 1M tokens, other meters in USD.
"""

from __future__ import annotations

from ..catalog.records import PRICE_COLUMNS
from ..store.alerts import ADDED, LIFECYCLE, PRICE_MOVES, REAPPEARED, REMOVED, ChangeRow, RunChanges
from .messages import RunRef, clamp, listed
from .send import INFO, Alert

PRICE_LABELS = {column: key.replace("_", " ") for key, column in PRICE_COLUMNS.items()}
LIFECYCLE_LABELS = {"deprecation_date": "deprecation", "shutdown_date": "shutdown"}
TITLE_WORDS = {PRICE_MOVES: "price move", ADDED: "added", REMOVED: "removed", REAPPEARED: "reappeared",
               LIFECYCLE: "lifecycle date"}


def counted(section: str, total: int) -> str:
    word = TITLE_WORDS[section]
    return f"{total} {word}{'s' if total != 1 and section in (PRICE_MOVES, LIFECYCLE) else ''}"


def price_line(row: ChangeRow) -> str:
    unit = "USD/1M tokens" if row.field.endswith("_per_mtok") else "USD"
    move = f" ({row.ratio * 100:+.1f}%)" if row.ratio is not None else ""
    label = PRICE_LABELS.get(row.field, row.field)
    return f"{row.provider} {row.model}: {label} {row.old_value or 'none'} -> {row.new_value or 'none'} {unit}{move}"


def lifecycle_line(row: ChangeRow) -> str:
    return f"{row.provider} {row.model}: {LIFECYCLE_LABELS.get(row.field, row.field)} {(row.new_value or '')[:10]}"


def model_line(row: ChangeRow) -> str:
    return f"{row.provider} {row.model}"


def change_digest(changes: RunChanges, run: RunRef, *, price_move_percent: float,
                  lifecycle_days: int) -> Alert | None:
    """The run's digest, or None when it changed nothing worth telling."""
    if changes.empty:
        return None
    headings = {
        PRICE_MOVES: (f"Price moves of at least {price_move_percent:g}%", price_line),
        ADDED: ("Added", model_line),
        REMOVED: ("Removed", model_line),
        REAPPEARED: ("Reappeared", model_line),
        LIFECYCLE: (f"Deprecation or shutdown within {lifecycle_days} days", lifecycle_line),
    }
    lines = [f"Catalog changes in run {run.run_id}:"]
    for section, (heading, line) in headings.items():
        total = changes.totals.get(section, 0)
        if total:
            lines += ["", f"{heading} ({total}):", *listed([line(row) for row in changes.rows[section]], total)]
    lines += ["", f"Run: {run.url}"]
    counts = ", ".join(counted(s, changes.totals[s]) for s in headings if changes.totals.get(s))
    return Alert(f"Catalog changes: {counts}", clamp("\n".join(lines)), INFO)
