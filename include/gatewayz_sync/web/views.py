"""Server-rendered pages (Jinja2 templates in `templates/`, autoescaped): readable at a glance, no JavaScript."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import clock
from ..store.catalog_reads import LIFECYCLES, PRICE_CONFIDENCES, PRICE_SOURCES, ModelDetail, ModelPage
from .charts import SERIES_COLOURS, sparkline, stacked_bars, step_chart

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


def when(value: str | datetime | None) -> str:
    """`2026-11-26T20:53:25.59+00:00` -> `2026-11-26 20:53 UTC`."""
    if not value:
        return ""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return value


def cell(value: Any) -> str:
    """A stored value as text: exact decimals, UTC times, lists joined, JSON indented."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, indent=2, sort_keys=True, default=str)
    return str(value)


_templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["when"] = when
_templates.filters["cell"] = cell


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
        api_health=api_health_rows(document["providers"]),
        shape_rows=[{"slug": p["slug"], "shape": p["shape"]} for p in sorted(document["providers"], key=lambda p: p["slug"])
                    if p.get("shape") and (p["shape"]["runs"] or p["shape"]["listing"])],
        outcomes_chart=stacked_bars(
            [(day["day"], day) for day in document.get("run_outcomes_per_day", [])],
            label="provider sync attempts per day by outcome",
        ),
        health_window=document.get("api_health_window", {}),
    )


def api_health_rows(providers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Providers that were ever attempted, each with its health numbers and sparklines of model count and latency."""
    rows = []
    for provider in sorted(providers, key=lambda p: p["slug"]):
        health = provider.get("api_health") or {}
        if not health.get("attempts"):
            continue
        slug = provider["slug"]
        models = [(f"{when(at)}: {count} models", count) for at, count in health["models"]["series"]]
        seconds = [(f"{when(at)}: {value:.3f} s", value) for at, value in health["fetch_seconds"]["series"]]
        rows.append({
            "slug": slug,
            "health": health,
            "models_chart": sparkline(models, label=f"{slug}: model count per run"),
            "latency_chart": sparkline(seconds, label=f"{slug}: fetch latency per run", colour=SERIES_COLOURS[1]),
        })
    return rows


def render_models(page: ModelPage, providers: list[tuple[str, str]], query_string: Callable[..., str]) -> str:
    """The catalog browser: the filter form, one page of models, sort links and pagination."""
    return _templates.get_template("models.html").render(
        page=page, query=page.query, providers=providers, link=query_string, price_sources=PRICE_SOURCES,
        price_confidences=PRICE_CONFIDENCES, lifecycles=LIFECYCLES,
    )


def render_model(detail: ModelDetail) -> str:
    """One model: summary, price step chart, prices with sources, change history, every stored field."""
    fields = detail.fields
    chart = step_chart(
        {f"{name} ({detail.step_units.get(name, 'USD per 1M tokens')})": points
         for name, points in detail.price_steps.items()},
        end=clock.now() if fields["is_active"] else fields["listed_last_seen_at"],
        label=f"input and output price (and their tiers) of {fields['provider_slug']} {fields['provider_model_id']} "
              "over time",
    )
    hidden = {"raw", "raw_pricing", "effective_lifecycle", "effective_price_source", "listed_last_seen_at"}
    return _templates.get_template("model.html").render(
        model=fields, detail=detail, price_chart=chart,
        field_rows=[(name, value) for name, value in fields.items() if name not in hidden],
    )


def render_prices(document: dict[str, Any]) -> str:
    """The prices listing: each model's price rows (meter, amount, unit, condition, source) beside every source's
    candidate with its own rows and standing, disputes in colour."""
    return _templates.get_template("prices.html").render(document=document)


def render_error(status: int, reason: str, app_root: str) -> str:
    """An error on a page: the status and its one-line reason, escaped, with links back (under `app_root`)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return _templates.get_template("error.html").render(status=status, phrase=phrase, reason=reason, root=app_root)
