"""The catalog browser and the API-health charts on real Airflow components, driven in headless Chromium.

Syncs a few providers through the replay server, moves one model's prices and syncs again (so it has history),
makes one provider fail with `<script>` in its error, then filters, sorts, pages and opens that model in the
browser, counting the points its SVG charts plot. A second test reads known values as an operator would: a context
of 1,050,000 with separators, prices with their currency and unit, counts that match what their links list.
Screenshots of every page at 1600x1000 are kept beside the other e2e ones (GATEWAYZ_SCREENSHOT_DIR, else the
session's folder) and named in the output. Everything it changes in the session's replay server is put back, so the
operations test sees the recordings it expects.
"""

from __future__ import annotations

import copy
import json
import time
from decimal import Decimal

import pytest
import requests
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from tests.e2e.test_operations import SCREENSHOTS, browser  # noqa: F401

pytestmark = pytest.mark.slow

MODEL = "qwen/qwen3.8-27b"
LONG_CONTEXT_MODEL = "openai/gpt-5.5-pro"  # context 1,050,000; $30 / $180 per 1M tokens in the recording
SCRIPT_ERROR = "<script>alert('gatewayz')</script> bad request"


def wait_for_run(cluster, headers, dag_id: str, run_id: str, timeout: float = 300) -> str:
    """The run's final state; a slow answer from a busy api-server is asked again until the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = requests.get(f"{cluster.url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers=headers,
                                 timeout=30).json()["state"]
        except requests.Timeout:
            continue
        if state in ("success", "failed"):
            return state
        time.sleep(1)
    raise TimeoutError(f"{dag_id} {run_id} unfinished after {timeout} s")


def sync_providers(cluster, headers) -> str:
    dag = f"{cluster.url}/api/v2/dags/gatewayz_sync_providers"
    requests.patch(dag, json={"is_paused": False}, headers=headers, timeout=60).raise_for_status()
    created = requests.post(f"{dag}/dagRuns", json={"logical_date": None}, headers=headers, timeout=60)
    assert created.status_code == 200, created.text
    return wait_for_run(cluster, headers, "gatewayz_sync_providers", created.json()["dag_run_id"])


def sync(cluster, headers, slugs: list[str]) -> dict[str, str]:
    runs = {}
    for slug in slugs:
        created = requests.post(f"{cluster.url}/admin/model-sync/provider/{slug}", params={"unpause": "true"},
                                headers=headers, timeout=60)
        assert created.status_code == 200, created.text
        runs[slug] = created.json()["dag_run_id"]
    return {slug: wait_for_run(cluster, headers, "gatewayz_sync_models", run) for slug, run in runs.items()}


def charted_runs(catalog, slug: str, window: int = 20) -> tuple[int, int]:
    """How many of the provider's last attempts carry a model count, and how many a fetch time."""
    return catalog.execute(
        """SELECT count(*) FILTER (WHERE status IN ('success', 'dry_run')),
                  count(*) FILTER (WHERE details -> 'timings' ? 'fetch_seconds')
           FROM (SELECT status, details FROM sync_runs WHERE provider_slug = %s AND status <> 'running'
                 ORDER BY id DESC LIMIT %s) w""",
        (slug, window),
    ).fetchone()


def svg_points(element) -> tuple[int, int]:
    return int(element.get_attribute("data-points")), len(element.find_elements(By.CSS_SELECTOR, "circle.point"))


def wait_for_url(browser, fragment: str) -> None:  # noqa: F811
    WebDriverWait(browser, 30).until(lambda driver: fragment in driver.current_url)


def shot(browser, name: str) -> None:  # noqa: F811
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    assert browser.save_screenshot(str(path)) and path.stat().st_size > 10_000
    print(f"screenshot: {path}")


def prices_in_column(browser, css: str) -> list[Decimal | None]:  # noqa: F811
    """The exact amounts behind a column's cells (each shows `$1.25`; its `data-value` holds the stored amount)."""
    cells = browser.find_elements(By.CSS_SELECTOR, css)
    assert all(cell.text.startswith("$") for cell in cells if cell.text), "a price shows its currency"
    return [Decimal(cell.get_attribute("data-value")) if cell.get_attribute("data-value") else None for cell in cells]


def page_height(browser) -> int:  # noqa: F811
    return browser.execute_script("return document.documentElement.scrollHeight")


def test_catalog_browser_and_health_charts_in_chromium(cluster, e2e_catalog, e2e_replay, browser):  # noqa: F811
    token = cluster.token()
    headers = {"Authorization": f"Bearer {token}"}
    plugins = requests.get(f"{cluster.url}/api/v2/plugins", headers=headers, timeout=30).json()["plugins"]
    views = [view for plugin in plugins for view in plugin["external_views"]]
    assert any(view["name"] == "Model browser" and view["href"] == "/admin/model-sync/models" for view in views)
    for path in ("/admin/model-sync/models", "/admin/model-sync/models/1"):
        assert requests.get(cluster.url + path, timeout=30).status_code == 401
        assert requests.get(cluster.url + path, headers={"Authorization": "Bearer forged.jwt.token"},
                            timeout=30).status_code in (401, 403)
    try:
        assert sync_providers(cluster, headers) == "success"
        assert sync(cluster, headers, ["openrouter", "xai", "anthropic"]) == dict.fromkeys(
            ("openrouter", "xai", "anthropic"), "success")

        records = copy.deepcopy(e2e_replay.catalog("openrouter").records)
        moved = next(record for record in records if record["id"] == MODEL)
        moved["pricing"]["prompt"], moved["pricing"]["completion"] = "0.0000005", "0.0000036"
        e2e_replay.set_records("openrouter", records)
        assert sync(cluster, headers, ["openrouter"]) == {"openrouter": "success"}

        e2e_replay.add_fault("groq", status=400, body=json.dumps({"error": {"message": SCRIPT_ERROR}}), times=-1)
        assert sync(cluster, headers, ["groq"]) == {"groq": "failed"}
    finally:
        e2e_replay.clear_faults()
        e2e_replay.reset_catalogs()
        e2e_replay.clear_requests()

    document = requests.get(f"{cluster.url}/admin/model-sync/status", headers=headers, timeout=30).json()
    by_slug = {p["slug"]: p for p in document["providers"]}
    assert by_slug["openrouter"]["api_health"]["models"]["latest"] == 225
    assert by_slug["openrouter"]["api_health"]["prices_moved"] >= 2
    assert SCRIPT_ERROR in by_slug["groq"]["api_health"]["last_error"]["error"]
    assert by_slug["groq"]["api_health"]["error_rate"] > 0

    browser.get(f"{cluster.url}/api/v2/version")
    browser.add_cookie({"name": "_token", "value": token, "path": "/"})
    browser.get(f"{cluster.url}/admin/model-sync/page")
    assert browser.title == "Model catalog"
    assert browser.find_elements(By.TAG_NAME, "script") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018
    groq_error = browser.find_element(By.CSS_SELECTOR, '#api-health tr[data-slug="groq"] td.err').text
    assert SCRIPT_ERROR in groq_error
    models_expected, latency_expected = charted_runs(e2e_catalog, "openrouter")
    assert models_expected >= 2 and latency_expected >= 2
    row = browser.find_element(By.CSS_SELECTOR, '#api-health tr[data-slug="openrouter"]')
    assert svg_points(row.find_element(By.CSS_SELECTOR, ".models-chart svg")) == (models_expected, models_expected)
    assert svg_points(row.find_element(By.CSS_SELECTOR, ".latency-chart svg")) == (latency_expected, latency_expected)
    outcome_days = browser.find_elements(By.CSS_SELECTOR, "#run-outcomes svg g.column")
    assert len(outcome_days) == 14
    assert outcome_days[-1].find_elements(By.CSS_SELECTOR, "rect.segment-failed")
    shot(browser, "model-catalog-summary.png")
    print(f"model catalog page: {page_height(browser)} px tall at 1600 px wide")
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.ID, "api-health-title"))
    shot(browser, "model-catalog-api-health.png")

    browser.find_element(By.LINK_TEXT, "Browse models →").click()
    wait_for_url(browser, "/admin/model-sync/models")
    assert browser.title == "Model browser"
    Select(browser.find_element(By.NAME, "provider")).select_by_value("openrouter")
    browser.find_element(By.CSS_SELECTOR, 'input[name="capability"][value="tools"]').click()
    Select(browser.find_element(By.NAME, "per_page")).select_by_visible_text("25")
    browser.find_element(By.ID, "apply").click()
    wait_for_url(browser, "capability=tools")
    expected = e2e_catalog.execute(
        """SELECT count(*) FROM models m JOIN providers p ON p.id = m.provider_id
           WHERE p.slug = 'openrouter' AND m.is_active AND m.supports_tools"""
    ).fetchone()[0]
    assert 25 < expected < 225
    assert browser.find_element(By.ID, "result-count").text == f"{expected} models"
    rows = browser.find_elements(By.CSS_SELECTOR, "#models tbody tr")
    assert len(rows) == 25 and {r.find_element(By.CSS_SELECTOR, "td").text for r in rows} == {"openrouter"}

    browser.find_element(By.LINK_TEXT, "input $/1M").click()
    wait_for_url(browser, "sort=price")
    ascending = prices_in_column(browser, "#models td.input-price")
    priced = [p for p in ascending if p is not None]
    assert priced == sorted(priced) and ascending[: len(priced)] == priced
    assert browser.find_element(By.CSS_SELECTOR, "th.sorted .arrow").text == "▲"
    first_page = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "a.model-link")]
    browser.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
    wait_for_url(browser, "page=2")
    assert "page 2 of" in browser.page_source
    assert not set(first_page) & {a.text for a in browser.find_elements(By.CSS_SELECTOR, "a.model-link")}
    browser.find_element(By.LINK_TEXT, "input $/1M").click()
    wait_for_url(browser, "sort=-price")
    descending = [p for p in prices_in_column(browser, "#models td.input-price") if p is not None]
    assert descending == sorted(descending, reverse=True) and descending[0] >= priced[-1]
    assert browser.find_element(By.CSS_SELECTOR, "th.sorted .arrow").text == "▼"
    shot(browser, "model-browser-filtered-sorted.png")

    browser.find_element(By.LINK_TEXT, "reset").click()
    wait_for_url(browser, "/admin/model-sync/models")
    browser.find_element(By.NAME, "q").send_keys("qwen3.8-27b")
    browser.find_element(By.ID, "apply").click()
    wait_for_url(browser, "q=qwen3.8-27b")
    browser.find_element(By.LINK_TEXT, MODEL).click()
    wait_for_url(browser, "/admin/model-sync/models/")
    assert browser.find_element(By.ID, "model-id").text == f"openrouter / {MODEL}"
    moves = dict(e2e_catalog.execute(
        """SELECT c.field, count(*) FROM model_changes c JOIN models m ON m.id = c.model_id
           WHERE m.provider_model_id = %s AND c.kind = 'price_changed' GROUP BY c.field""",
        (MODEL,),
    ).fetchall())
    assert moves["price_input_usd_per_mtok"] >= 1 and moves["price_output_usd_per_mtok"] >= 1
    chart = browser.find_element(By.CSS_SELECTOR, "svg.step-chart")
    for name, column in (("input", "price_input_usd_per_mtok"), ("output", "price_output_usd_per_mtok")):
        series = chart.find_element(By.CSS_SELECTOR, f'g.series[data-series^="{name} "]')
        assert svg_points(series) == (1 + moves[column], 1 + moves[column])
    history = browser.find_element(By.ID, "history").text
    assert "price_changed price_input_usd_per_mtok $0.45 / 1M tokens $0.50 / 1M tokens" in history
    assert "price_changed price_output_usd_per_mtok $3.20 / 1M tokens $3.60 / 1M tokens" in history
    prices = browser.find_element(By.ID, "prices").text
    assert "input_usd_per_mtok" in prices and "list_api" in prices
    first_seen = browser.find_element(By.CSS_SELECTOR, "#first-seen time")
    assert first_seen.text == "just now" or first_seen.text.endswith(" ago"), first_seen.text
    assert first_seen.get_attribute("title").endswith(" UTC")
    shot(browser, "model-page.png")
    browser.execute_script("arguments[0].scrollIntoView()", chart)
    shot(browser, "model-page-price-chart.png")


def test_the_pages_show_known_values_formatted_for_people(cluster, e2e_catalog, e2e_replay, browser):  # noqa: F811
    """Issue 24: a model with a context of 1,050,000 shows "1,050,000" and its prices with a currency and unit;
    ages carry the exact time on hover; a count on the catalog page is what its link lists; one `last_seen_at`."""
    token = cluster.token()
    headers = {"Authorization": f"Bearer {token}"}
    found = e2e_catalog.execute(
        """SELECT m.id, m.context_length, m.price_input_usd_per_mtok, m.price_output_usd_per_mtok
           FROM models m JOIN providers p ON p.id = m.provider_id
           WHERE p.slug = 'openrouter' AND m.provider_model_id = %s""", (LONG_CONTEXT_MODEL,)).fetchone()
    if found is None:
        assert sync_providers(cluster, headers) == "success"
        assert sync(cluster, headers, ["openrouter"]) == {"openrouter": "success"}
        found = e2e_catalog.execute(
            """SELECT m.id, m.context_length, m.price_input_usd_per_mtok, m.price_output_usd_per_mtok
               FROM models m JOIN providers p ON p.id = m.provider_id
               WHERE p.slug = 'openrouter' AND m.provider_model_id = %s""", (LONG_CONTEXT_MODEL,)).fetchone()
    model_id, context, price_in, price_out = found
    assert (context, price_in, price_out) == (1_050_000, Decimal("30"), Decimal("180"))

    browser.get(f"{cluster.url}/api/v2/version")
    browser.add_cookie({"name": "_token", "value": token, "path": "/"})
    base = f"{cluster.url}/admin/model-sync"
    browser.get(f"{base}/models?provider=openrouter&q=gpt-5.5-pro&sort=-context")
    row = browser.find_element(By.CSS_SELECTOR, f'#models tr[data-model-id="{model_id}"]')
    assert row.find_element(By.CSS_SELECTOR, "td.context").text in ("1,050,000", "1.05M")
    assert row.find_element(By.CSS_SELECTOR, "td.input-price").text == "$30.00"
    assert row.find_element(By.CSS_SELECTOR, "td.output-price").text == "$180.00"
    assert browser.find_element(By.CSS_SELECTOR, "th.sorted").get_attribute("aria-sort") == "descending"
    shot(browser, "model-browser-known-values.png")

    browser.get(f"{base}/models/{model_id}")
    assert browser.find_element(By.ID, "context").text in ("1,050,000", "1.05M")
    assert browser.find_element(By.ID, "input-price").text == "$30.00 / 1M tokens"
    assert browser.find_element(By.ID, "output-price").text == "$180.00 / 1M tokens"
    meters = {row.find_element(By.CSS_SELECTOR, "td").text: row.find_element(By.CSS_SELECTOR, "td.num").text
              for row in browser.find_elements(By.CSS_SELECTOR, "#price-rows tr.price-row")}
    assert meters["input"] == "$30.00 / 1M tokens" and meters["web_search"].endswith(" / request")
    fields = {row.find_element(By.TAG_NAME, "th").text: row.find_element(By.TAG_NAME, "td")
              for row in browser.find_elements(By.CSS_SELECTOR, "#fields tr")}
    assert fields["context_length"].text == "1,050,000" and fields["supports_tools"].text in ("yes", "✓")
    header_seen = browser.find_element(By.CSS_SELECTOR, "#last-seen time").get_attribute("datetime")
    assert fields["last_seen_at"].find_element(By.TAG_NAME, "time").get_attribute("datetime") == header_seen
    assert "price_cache_write_usd_per_mtok" not in fields, "an empty meter is named once, not a blank row"
    assert "cache_write_usd_per_mtok" in browser.find_element(By.ID, "empty-prices").text
    ticks = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "svg.step-chart text.tick")]
    assert ticks[:2] == ["$0.00", "$50.00"] and len(ticks) >= 4, ticks
    shot(browser, "model-page-known-values.png")

    browser.get(f"{base}/page")
    summary = browser.find_element(By.ID, "summary").text
    assert f"{e2e_catalog.execute('SELECT count(*) FROM models WHERE is_active').fetchone()[0]:,}" in summary
    disputed = int(browser.find_element(By.ID, "disputed-count").text.replace(",", ""))
    ages = browser.find_elements(By.CSS_SELECTOR, "#providers time")
    assert ages and all(age.get_attribute("title").endswith(" UTC") for age in ages)
    assert all(age.size["height"] < 24 for age in ages), "a time stays on one line"
    changes = browser.find_elements(By.CSS_SELECTOR, "#changes a.model-link")
    assert changes and all("/admin/model-sync/models/" in link.get_attribute("href") for link in changes)
    print(f"model catalog page: {page_height(browser)} px tall at 1600 px wide")
    browser.find_element(By.ID, "disputed-count").click()
    wait_for_url(browser, "status=disputed")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#price-listing tr.model")) == disputed
    shot(browser, "prices-disputed.png")

    browser.get(f"{base}/prices?format=html&status=api&limit=5")
    assert browser.find_element(By.CSS_SELECTOR, ".pager .range").text == "models 1–5"
    assert not browser.find_elements(By.CSS_SELECTOR, "a[rel=prev]")
    browser.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
    wait_for_url(browser, "offset=5")
    assert browser.find_element(By.CSS_SELECTOR, ".pager .range").text == "models 6–10"
    assert browser.find_element(By.CSS_SELECTOR, "a[rel=prev]").get_attribute("href").endswith("offset=0")
    amounts = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "tr.meter td.num")]
    assert amounts and all(text.startswith("$") and " / " in text for text in amounts)
    shot(browser, "prices.png")
    browser.get(f"{base}/prices?format=html&offset=1000000")
    assert "models 1000001–1000000" not in browser.page_source
    assert browser.find_element(By.CSS_SELECTOR, ".pager .range").text == "no models from 1,000,001 on"
    shot(browser, "prices-past-the-end.png")
