"""Provider API health over time from `sync_runs` on the real PostgreSQL, and the pages that show it (rendered)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.store.catalog_reads import ModelQuery, list_models, model_detail
from include.gatewayz_sync.store.providers import sync_registry
from include.gatewayz_sync.store.run_stats import percentile, provider_api_health, run_outcomes_per_day
from include.gatewayz_sync.web.app import status_document
from include.gatewayz_sync.web.browse import query_string
from include.gatewayz_sync.web.views import render_model, render_models, render_page
from tests.test_catalog_reads import add_model

NOW = datetime.now(UTC)
SVG = "{http://www.w3.org/2000/svg}"


def add_run(catalog, slug: str, *, hours_ago: float, status: str = "success", fetch_seconds: float | None = None,
            fetched: int = 0, rejected: int = 0, duplicates: int = 0, price_changed: int = 0,
            error: str | None = None) -> int:
    details = {}
    if fetch_seconds is not None:
        details["timings"] = {"fetch_seconds": fetch_seconds}
    if price_changed:
        details["changes"] = {"price_changed": price_changed}
    started = NOW - timedelta(hours=hours_ago)
    return catalog.execute(
        """INSERT INTO sync_runs (provider_slug, started_at, finished_at, status, fetched, rejected, duplicates,
                                  error, details)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (slug, started, started + timedelta(seconds=2), status, fetched, rejected, duplicates, error,
         json.dumps(details) if details else None),
    ).fetchone()[0]


@pytest.fixture
def history(catalog):
    sync_registry(catalog, GATEWAY_REGISTRY.values())
    for n, seconds in enumerate((0.1, 0.2, 0.3, 0.4, 1.0)):
        add_run(catalog, "xai", hours_ago=60 - n * 12, fetch_seconds=seconds, fetched=10 + n, rejected=1, duplicates=1,
                price_changed=n)
    add_run(catalog, "xai", hours_ago=1, status="failed", error="HTTP 503 from xai: <script>alert(1)</script>")
    add_run(catalog, "groq", hours_ago=2, status="skipped", error="no API key")
    add_run(catalog, "groq", hours_ago=1, status="running")
    return catalog


def test_percentiles_interpolate_like_postgresql():
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.95) == 4.0
    assert percentile([0.1, 0.2, 0.3, 0.4, 1.0], 0.5) == 0.3
    assert percentile([0.1, 0.2, 0.3, 0.4, 1.0], 0.95) == pytest.approx(0.88)


def test_latency_error_rate_last_error_model_count_and_prices_moved(history):
    health = provider_api_health(history, runs=20)
    xai = health["xai"].as_dict()
    assert xai["attempts"] == 6 and xai["success"] == 5 and xai["failed"] == 1
    assert xai["error_rate"] == round(1 / 6, 4)
    assert xai["fetch_seconds"]["p50"] == 0.3 and xai["fetch_seconds"]["p95"] == pytest.approx(0.88)
    assert [value for _, value in xai["fetch_seconds"]["series"]] == [0.1, 0.2, 0.3, 0.4, 1.0]
    assert [value for _, value in xai["models"]["series"]] == [8, 9, 10, 11, 12]
    assert xai["models"]["latest"] == 12
    assert xai["prices_moved"] == 0 + 1 + 2 + 3 + 4
    assert xai["last_error"]["error"] == "HTTP 503 from xai: <script>alert(1)</script>"
    groq = health["groq"].as_dict()
    assert groq["attempts"] == 1 and groq["skipped"] == 1 and groq["error_rate"] is None, "running rows are not counted"

    last_three = provider_api_health(history, runs=3, slugs=["xai", "openai"])
    assert set(last_three) == {"xai", "openai"} and last_three["openai"].as_dict()["attempts"] == 0
    assert [value for _, value in last_three["xai"].as_dict()["models"]["series"]] == [11, 12]
    assert provider_api_health(history, runs=20, days=1)["xai"].as_dict()["attempts"] == 2


def test_run_outcomes_per_day_cover_every_day_of_the_window(history):
    days = run_outcomes_per_day(history, days=4, today=NOW.date())
    assert [d["day"] for d in days] == [(NOW.date() - timedelta(days=n)).isoformat() for n in (3, 2, 1, 0)]
    assert sum(d["success"] for d in days) == 5 and sum(d["failed"] for d in days) == 1
    assert sum(d["skipped"] for d in days) == 1


def test_the_status_document_and_page_show_health_with_charts_and_escaped_errors(history):
    document = status_document(history, None, 1000, 0, health_runs=20)
    xai = next(p for p in document["providers"] if p["slug"] == "xai")
    assert xai["api_health"]["attempts"] == 6
    assert document["api_health_window"] == {"runs": 20, "days": None}
    assert len(document["run_outcomes_per_day"]) == 14
    json.dumps(document)

    html = render_page(document, [])
    assert "<script>" not in html and "HTTP 503 from xai: &lt;script&gt;alert(1)&lt;/script&gt;" in html
    row = html[html.index('<tr data-slug="xai">'):]
    row = row[: row.index("</tr>")]
    charts = [ET.fromstring(svg[: svg.index("</svg>") + 6]) for svg in ("<svg" + part for part in row.split("<svg")[1:])]
    assert [c.get("data-points") for c in charts] == ["5", "5"]
    assert [len(c.findall(f"{SVG}circle")) for c in charts] == [5, 5]
    assert 'id="run-outcomes"' in html and html.count('class="column"') == 14


def test_browser_pages_render_escaped_provider_values(history):
    sync_registry(history, GATEWAY_REGISTRY.values())
    model = add_model(history, "groq", "evil<script>", name="<img src=x onerror=alert(1)>", price_in=1)
    query = ModelQuery(search="evil")
    page = list_models(history, query)
    html = render_models(page, [("groq", "Groq")], query_string)
    assert "<script>" not in html and "<img" not in html
    assert f'href="models/{model}"' in html and "evil&lt;script&gt;" in html
    assert '<select name="price_source">' in html
    detail_html = render_model(model_detail(history, model), now=NOW)
    assert "<script>" not in detail_html and "<img" not in detail_html
    assert 'class="chart step-chart"' in detail_html


def test_query_strings_keep_filters_and_reset_the_page():
    query = ModelQuery(provider="xai", capabilities=("tools", "vision"), price_min=1, search="a&b", page=3, sort="-price")
    assert query_string(query, page=4) == (
        "?provider=xai&capability=tools&capability=vision&price_field=input&price_min=1&q=a%26b&sort=-price"
        "&per_page=50&page=4"
    )
    assert query_string(query, sort="context").endswith("&sort=context&per_page=50&page=1")


def test_the_pages_format_counts_money_ages_and_flags_for_people(history):
    """Issue 24: a context of 1,050,000 reads with separators, a price with its currency and unit, times as ages
    with the exact time on hover, booleans as yes/no, the empty price columns in one line."""
    model = add_model(history, "xai", "grok-big", price_in=30, price_out=180, context=1050000, tools=True,
                      first_seen=NOW - timedelta(days=10, hours=1))
    page = list_models(history, ModelQuery(search="grok-big"))
    listing = render_models(page, [("xai", "xAI")], query_string)
    assert ">1,050,000<" in listing and ">$30.00<" in listing and ">$180.00<" in listing and "✓" in listing
    assert 'aria-sort="ascending"' in listing, "the sorted column is marked"
    detail = model_detail(history, model)
    assert detail.fields["last_seen_at"] >= detail.fields["first_seen_at"] and "listed_last_seen_at" not in detail.fields
    html = render_model(detail, now=NOW)
    assert '<b id="context">1,050,000</b>' in html
    assert '<b id="input-price">$30.00 / 1M tokens</b>' in html and "$180.00 / 1M tokens" in html
    assert html.count('<time datetime="') >= 2 and 'title="' in html and "10 days ago" in html
    assert "<th>supports_tools</th><td class=id>yes</td>" in html
    assert 'id="empty-prices"' in html and "cache_read_usd_per_mtok" in html
    every_field = html[html.index('<table id="fields">'):]
    assert "<th>deprecation_date</th>" not in every_field, "an empty field is named once, not a blank row"
