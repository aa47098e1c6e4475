"""Server-rendered pages (Jinja2 templates in `templates/`, autoescaped): readable at a glance, no JavaScript."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

STATE_STYLES = {
    "fresh": ("#0f7b3f", "#e3f6ea"),
    "stale": ("#8a5a00", "#fff2d6"),
    "failed": ("#b42318", "#fde8e6"),
    "skipped": ("#475467", "#eef0f3"),
    "never": ("#8a5a00", "#fff2d6"),
    "disabled": ("#475467", "#eef0f3"),
    "inactive": ("#475467", "#eef0f3"),
    "no-api": ("#475467", "#eef0f3"),
}
STATE_ORDER = ("failed", "stale", "never", "skipped", "fresh", "disabled", "no-api", "inactive")


def when(value: str | None) -> str:
    """`2026-11-26T20:53:25.59+00:00` -> `2026-11-26 20:53 UTC`."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


_templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["when"] = when


def render_page(document: dict[str, Any], changes: list[dict[str, Any]]) -> str:
    """The Model catalog page: problems first, states in distinct colours, the latest changes; refreshes every minute."""
    counts: dict[str, int] = {}
    for provider in document["providers"]:
        counts[provider["state"]] = counts.get(provider["state"], 0) + 1
    ordered = sorted(document["providers"], key=lambda p: (STATE_ORDER.index(p["state"]), p["slug"]))
    return _templates.get_template("page.html").render(
        document=document,
        totals=document["totals"],
        next_sync=document["next_model_sync"],
        state_counts=sorted(counts.items()),
        providers=ordered,
        changes=changes,
        state_styles=STATE_STYLES,
    )
