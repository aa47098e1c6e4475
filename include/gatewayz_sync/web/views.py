"""Server-rendered pages (Jinja2 templates in `templates/`, autoescaped): readable at a glance, no JavaScript."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import clock
from ..store.catalog_reads import LIFECYCLES, PRICE_CONFIDENCES, PRICE_SOURCES, ModelDetail, ModelPage
from . import formats
from .charts import SERIES_COLOURS, sparkline, stacked_bars, step_chart
from .formats import when

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


_templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(formats.FILTERS)
_templates.globals["field_value"] = formats.field_value
ATTENTION_STATES = ("failed", "stale", "never")


def render_page(document: dict[str, Any], changes: list[dict[str, Any]]) -> str:
    """The Model catalog page: a summary first (totals, what needs attention), then the providers, the latest
    changes, API health and listing shape below; states in distinct colours; refreshes every minute. Ages are
    measured from the document's `generated_at`."""
    counts: dict[str, int] = {}
    for provider in document["providers"]:
        counts[provider["state"]] = counts.get(provider["state"], 0) + 1
    ordered = sorted(document["providers"], key=lambda p: (STATE_ORDER.index(p["state"]), p["slug"]))
    shape_rows = [{"slug": p["slug"], "shape": p["shape"]} for p in sorted(document["providers"], key=lambda p: p["slug"])
                  if p.get("shape") and (p["shape"]["runs"] or p["shape"]["listing"])]
    return _templates.get_template("page.html").render(
        document=document,
        now=formats.utc_time(document["generated_at"]),
        totals=document["totals"],
        next_sync=document["next_model_sync"],
        state_counts=sorted(counts.items(), key=lambda item: STATE_ORDER.index(item[0])),
        providers=ordered,
        attention=[p for p in ordered if p["state"] in ATTENTION_STATES],
        changes=changes,
        state_styles=STATE_STYLES,
        api_health=api_health_rows(document["providers"]),
        shape_rows=shape_rows,
        shape_problems=[row["slug"] for row in shape_rows if _shape_problem(row["shape"])],
        outcomes_chart=stacked_bars(
            [(day["day"], day) for day in document.get("run_outcomes_per_day", [])],
            label="provider sync attempts per day by outcome",
        ),
        health_window=document.get("api_health_window", {}),
    )


def _shape_problem(shape: dict[str, Any]) -> bool:
    listing = shape.get("listing") or {}
    return bool(listing.get("absent") or listing.get("fewer") or listing.get("drift"))


def api_health_rows(providers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Providers that were ever attempted, each with its health numbers and sparklines of model count and latency."""
    rows = []
    for provider in sorted(providers, key=lambda p: p["slug"]):
        health = provider.get("api_health") or {}
        if not health.get("attempts"):
            continue
        slug = provider["slug"]
        models = [(f"{when(at)}: {formats.number(count)} models", count) for at, count in health["models"]["series"]]
        seconds = [(f"{when(at)}: {formats.duration(value)}", value) for at, value in health["fetch_seconds"]["series"]]
        rows.append({
            "slug": slug,
            "health": health,
            "models_chart": sparkline(models, label=f"{slug}: model count per run"),
            "latency_chart": sparkline(seconds, label=f"{slug}: fetch latency per run", colour=SERIES_COLOURS[1]),
        })
    return rows


def render_models(page: ModelPage, providers: list[tuple[str, str]], query_string: Callable[..., str]) -> str:
    """The catalog browser: the filter form, one page of models, sort links (the sorted one marked) and pagination."""
    return _templates.get_template("models.html").render(
        page=page, query=page.query, providers=providers, link=query_string, price_sources=PRICE_SOURCES,
        price_confidences=PRICE_CONFIDENCES, lifecycles=LIFECYCLES,
    )


def render_model(detail: ModelDetail, now: datetime | None = None) -> str:
    """One model: summary, price step chart, the prices it has (the empty ones collapsed into one line), change
    history, the fields that hold a value (the empty ones named in one line), the raw record. Ages are measured
    from `now` (the route passes the wall clock; by default the catalog's clock)."""
    now = now or clock.now()
    fields = detail.fields
    charted = {f"{name} ({detail.step_units.get(name, 'USD per 1M tokens')})": points
               for name, points in detail.price_steps.items() if any(value is not None for _, value in points)}
    chart = step_chart(
        charted,
        end=now if fields["is_active"] else fields["last_seen_at"],
        label=f"input and output price (and their tiers) of {fields['provider_slug']} {fields['provider_model_id']} "
              "over time",
    ) if charted else None
    hidden = {"raw", "raw_pricing", "effective_lifecycle", "effective_price_source"}
    shown = [(name, value) for name, value in fields.items() if name not in hidden]
    return _templates.get_template("model.html").render(
        model=fields, detail=detail, price_chart=chart, now=now, headline=headline_prices(detail.price_rows),
        known_prices=[price for price in detail.prices if price["value"] is not None],
        empty_prices=[price["name"] for price in detail.prices if price["value"] is None],
        field_rows=[(name, value) for name, value in shown if value not in (None, "", [], {})],
        empty_fields=[name for name, value in shown if value in (None, "", [], {})],
    )


def headline_prices(rows: list[dict[str, Any]]) -> dict[str, str]:
    """`input` and `output` as money, from the unconditioned price rows: per token where there is one, else in the
    model's own unit (a text-to-speech model's input per 1M characters)."""
    headline: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r["unit"] != "token"):
        if row["meter"] in ("input", "output") and not row["condition"] and row["meter"] not in headline:
            headline[row["meter"]] = formats.money(row["amount_usd"], row["unit"])
    return headline


def render_prices(document: dict[str, Any]) -> str:
    """The prices listing: each model's price rows (meter, amount, unit, condition, source) beside every source's
    candidate with its own rows and standing, disputes in colour; previous and next pages."""
    models, offset, limit = document["models"], document["offset"], document["limit"]
    base = {"format": "html", "limit": limit, "provider": document.get("provider"), "status": document.get("status")}
    return _templates.get_template("prices.html").render(
        document=document,
        first=offset + 1, last=offset + len(models),
        previous_link=_prices_link(base, max(offset - limit, 0)) if offset > 0 else None,
        next_link=_prices_link(base, document["next_offset"]) if document.get("next_offset") is not None else None,
        first_link=_prices_link(base, 0),
    )


def _prices_link(base: dict[str, Any], offset: int) -> str:
    return "prices?" + urlencode({**{k: v for k, v in base.items() if v is not None}, "offset": offset})


def render_error(status: int, reason: str, app_root: str) -> str:
    """An error on a page: the status and its one-line reason, escaped, with links back (under `app_root`)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return _templates.get_template("error.html").render(status=status, phrase=phrase, reason=reason, root=app_root)
