"""One digest per model-sync run of what changed in the catalog, or nothing when nothing notable changed.

Sections, each with its total and its first entries (largest moves first): list-API prices held (jumps of 10x or
more, the stored price kept; new prices 100x from every sibling, not stored), price moves of at least the
threshold, fields a listing took away from a model, models added, removed and reappeared, deprecation or shutdown
dates that fall within the lifecycle window, replacement models a provider named, changed or stopped naming,
retirement notices (90, 30 and 7 days before a model's retirement date, each sent once; `store/retirements.py`),
and providers whose listing changed shape. Values are the catalog's own:
token prices in USD per 1M tokens, other meters in USD.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ..catalog.lifecycle import NOTICE_DAYS
from ..catalog.meters import BASE_COLUMNS, LONG_CONTEXT_COLUMNS, SERVICE_COLUMNS, THRESHOLD_COLUMN
from ..store.alerts import (
    ADDED,
    FIELDS_REMOVED,
    LIFECYCLE,
    PRICE_MOVES,
    PRICES_HELD,
    REAPPEARED,
    REMOVED,
    REPLACEMENTS,
    ChangeRow,
    RunChanges,
)
from ..store.retirements import RetirementNotice
from .messages import RunRef, clamp, listed
from .send import INFO, WARNING, Alert

PRICE_LABELS = {
    **{column: key.meter.replace("_", " ") for key, column in BASE_COLUMNS.items()},
    **{column: f"{key.meter} {key.service_tier}" for key, column in SERVICE_COLUMNS.items()},
    **{column: f"{meter.replace('_', ' ')} long context" for meter, column in LONG_CONTEXT_COLUMNS.items()},
    THRESHOLD_COLUMN: "long context threshold",
}
LIFECYCLE_LABELS = {"deprecation_date": "deprecation", "shutdown_date": "shutdown"}
RETIRING = "retiring"
TITLE_WORDS = {PRICES_HELD: ("price jump held", "price jumps held"), PRICE_MOVES: ("price move", "price moves"),
               FIELDS_REMOVED: ("field removed", "fields removed"), ADDED: ("added", "added"),
               REMOVED: ("removed", "removed"), REAPPEARED: ("reappeared", "reappeared"),
               LIFECYCLE: ("lifecycle date", "lifecycle dates"),
               REPLACEMENTS: ("replacement changed", "replacements changed"),
               RETIRING: ("retirement notice", "retirement notices")}


def counted(section: str, total: int) -> str:
    singular, plural = TITLE_WORDS[section]
    return f"{total} {singular if total == 1 else plural}"


def label(field: str | None) -> str:
    return PRICE_LABELS.get(field or "", field or "")


def _unit(field: str) -> str:
    """A flat column's unit by its name; a price slug's (`input/character`) by its unit."""
    if field.endswith("_per_mtok") or field.split(">")[0].split(";")[0].endswith("/token"):
        return "USD/1M tokens"
    return "USD/1M characters" if "/character" in field else "USD"


def price_line(row: ChangeRow) -> str:
    move = f" ({row.ratio * 100:+.1f}%)" if row.ratio is not None else ""
    return (f"{row.provider} {row.model}: {label(row.field)} {row.old_value or 'none'} -> {row.new_value or 'none'} "
            f"{_unit(row.field)}{move}")


def factor_text(ratio: Decimal | None) -> str:
    """A held jump's size: `1000x up`, `1000x down`."""
    if ratio is None:
        return "from nothing"
    factor = ratio + 1
    if factor >= 1:
        return f"{factor.quantize(Decimal(1)) if factor >= 100 else round(factor, 1)}x up"
    inverse = 1 / factor if factor else Decimal(0)
    return f"{inverse.quantize(Decimal(1)) if inverse >= 100 else round(inverse, 1)}x down"


def held_line(row: ChangeRow) -> str:
    if row.old_value is None:  # a new price 100x from every sibling (`store/guards.py`): nothing was stored
        return (f"{row.provider} {row.model}: {label(row.field)} {row.new_value} {_unit(row.field)} held (a new "
                "price 100x or more from every sibling; not stored)")
    return (f"{row.provider} {row.model}: {label(row.field)} {row.old_value} -> {row.new_value} {_unit(row.field)} "
            f"held ({factor_text(row.ratio)}; the stored price stays)")


def removed_field_line(row: ChangeRow) -> str:
    if row.field in PRICE_LABELS:
        return f"{row.provider} {row.model}: {label(row.field)} price removed (was {row.old_value} {_unit(row.field)})"
    return f"{row.provider} {row.model}: {row.field} removed (was {row.old_value})"


def lifecycle_line(row: ChangeRow) -> str:
    return f"{row.provider} {row.model}: {LIFECYCLE_LABELS.get(row.field, row.field)} {(row.new_value or '')[:10]}"


def replacement_line(row: ChangeRow) -> str:
    return f"{row.provider} {row.model}: replacement {row.old_value or 'none'} -> {row.new_value or 'none'}"


MODELS_PER_NOTICE_LINE = 8


def retirement_groups(notices: Sequence[RetirementNotice]) -> list[list[RetirementNotice]]:
    """Notices that say the same thing (provider, date, stage, replacement) as one group each, soonest first."""
    groups: dict[tuple, list[RetirementNotice]] = {}
    for notice in notices:
        key = (notice.provider, notice.retires_at, notice.date_field, notice.days_before, notice.replacement_model)
        groups.setdefault(key, []).append(notice)
    return sorted(groups.values(), key=lambda group: (group[0].retires_at, group[0].provider))


def carried_notices(notices: Sequence[RetirementNotice], limit: int) -> list[RetirementNotice]:
    """The notices of the first `limit` groups: what one digest carries (the rest stay due for the next one)."""
    return [notice for group in retirement_groups(notices)[:limit] for notice in group]


def retirement_line(group: list[RetirementNotice]) -> str:
    notice = group[0]
    when = notice.retires_at.date().isoformat()
    verb = ("shuts down" if len(group) == 1 else "shut down") if notice.date_field == "shutdown_date" else None
    date_text = f"{verb} {when}" if verb else f"deprecated from {when} (no shutdown date known)"
    days = f"{notice.days_left} day{'s' if notice.days_left != 1 else ''}"
    replacement = f"; replacement: {notice.replacement_model}" if notice.replacement_model else ""
    models = [n.model for n in group]
    if len(models) == 1:
        named = f"{notice.provider} {models[0]}"
    else:
        shown = ", ".join(models[:MODELS_PER_NOTICE_LINE])
        more = f" and {len(models) - MODELS_PER_NOTICE_LINE} more" if len(models) > MODELS_PER_NOTICE_LINE else ""
        named = f"{notice.provider} ({len(models)} models: {shown}{more})"
    return f"{named}: {date_text}, in {days} ({notice.days_before}-day notice){replacement}"


def model_line(row: ChangeRow) -> str:
    return f"{row.provider} {row.model}"


def change_digest(changes: RunChanges, run: RunRef, *, price_move_percent: float, lifecycle_days: int,
                  notices: Sequence[RetirementNotice] = (), notices_due: int = 0) -> Alert | None:
    """The run's digest, or None when it changed nothing worth telling and no retirement notice is due. `notices`
    are the retirement notices this digest carries (`carried_notices`: one line per group, at most `MAX_LISTED`
    lines), of `notices_due` due now; a 7-day notice makes it a warning."""
    if changes.empty and not changes.drift and not notices:
        return None
    headings = {
        PRICES_HELD: ("List-API prices held until accepted (an operator_prices row or conf accept_price_jumps): "
                      "jumps of 10x or more, new prices 100x from every sibling", held_line),
        PRICE_MOVES: (f"Price moves of at least {price_move_percent:g}%", price_line),
        FIELDS_REMOVED: ("Fields removed", removed_field_line),
        ADDED: ("Added", model_line),
        REMOVED: ("Removed", model_line),
        REAPPEARED: ("Reappeared", model_line),
        LIFECYCLE: (f"Deprecation or shutdown within {lifecycle_days} days", lifecycle_line),
        REPLACEMENTS: ("Replacement model named by the provider", replacement_line),
    }
    lines = [f"Catalog changes in run {run.run_id}:"]
    if notices:  # first, so that a clamped body never cuts a notice that is recorded as sent
        heading = f"Retiring: notices {', '.join(map(str, NOTICE_DAYS))} days before a model's retirement date"
        more = f" of {notices_due}; the rest in the next digests" if notices_due > len(notices) else ""
        lines += ["", f"{heading} ({len(notices)}{more}):",
                  *(f"- {retirement_line(group)}" for group in retirement_groups(notices))]
    if changes.drift:
        drift = [f"{slug}: {'; '.join(notes)}" for slug, notes in sorted(changes.drift.items())]
        lines += ["", f"Listings that changed shape ({len(drift)}):", *listed(drift)]
    for section, (heading, line) in headings.items():
        total = changes.totals.get(section, 0)
        if total:
            lines += ["", f"{heading} ({total}):", *listed([line(row) for row in changes.rows[section]], total)]
    lines += ["", f"Run: {run.url}"]
    counts = [counted(s, changes.totals[s]) for s in headings if changes.totals.get(s)]
    if notices:
        counts.append(counted(RETIRING, len(notices)))
    if changes.drift:
        counts.insert(0, f"{len(changes.drift)} listing{'s' if len(changes.drift) != 1 else ''} changed shape")
    last_week = any(notice.days_before <= min(NOTICE_DAYS) for notice in notices)
    notify_type = WARNING if changes.drift or changes.totals.get(PRICES_HELD) or last_week else INFO
    return Alert(f"Catalog changes: {', '.join(counts)}", clamp("\n".join(lines)), notify_type)
