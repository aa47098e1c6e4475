"""The whole recorded catalog priced end to end (provider sync, model sync, reference prices via `dag.test()`,
the replay server over real HTTP, the real PostgreSQL): the acceptance figures of `make demo`, every reference
price checked against an independent reading of its source, and an unchanged rerun that writes nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from include.gatewayz_sync import clock
from include.gatewayz_sync.dev.price_report import price_figures
from include.gatewayz_sync.prices.sources import REFERENCE_SOURCES
from tests.airflow_helpers import rendered_map_indexes, task_states, xcom_values
from tests.conftest import CATALOG_TABLES, MODEL_SYNC_DEFAULTS, TEST_PAGE_SIZES, catalog_connection

D = Decimal
RUN_DEFAULTS = {"gatewayz_sync_models": MODEL_SYNC_DEFAULTS}
EXPECTED_RULES = {
    "genai-prices": {"exact": 112, "source-alias": 84},
    "models.dev": {"exact": 164, "snapshot-alias+exact": 27},
    "litellm": {"exact": 117, "provider-prefix": 81, "snapshot-alias+provider-prefix": 5},
}


@pytest.fixture(scope="module")
def priced(migrated_catalog, replay_server_session, dagbag):
    """One full run of the three DAGs on a fresh catalog, shared by this module's read-only tests."""
    server = replay_server_session
    server.clear_faults()
    server.reset_catalogs()
    for slug in list(server._page_sizes):
        server.set_page_size(slug, TEST_PAGE_SIZES.get(slug))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GATEWAYZ_BASE_URL_OVERRIDE", server.base_url_override)
        connection = catalog_connection()
        connection.execute(f"TRUNCATE {', '.join(CATALOG_TABLES)} RESTART IDENTITY CASCADE")

        def run(dag_id: str):
            return dagbag.dags[dag_id].test(run_conf=dict(RUN_DEFAULTS.get(dag_id, {})))

        runs = {dag_id: run(dag_id) for dag_id in ("gatewayz_sync_providers", "gatewayz_sync_models",
                                                     "gatewayz_sync_prices")}
        yield connection, runs, run
        connection.close()


def test_the_price_run_refreshes_each_source_in_its_own_task_then_resolves(priced):
    _, runs, _ = priced
    run = runs["gatewayz_sync_prices"]
    assert run.state == "success"
    states = task_states(run)
    assert [states[("refresh_source", i)] for i in range(3)] == ["success"] * 3
    assert states[("resolve_prices", -1)] == "success"
    assert set(rendered_map_indexes(run, "refresh_source").values()) == {"genai-prices", "models-dev", "litellm"}
    summary = xcom_values(run, "resolve_prices")[-1]
    assert summary["models"] == 1263 and summary["by_source"]["list_api"] == 630


def test_acceptance_figures_on_the_recorded_catalog(priced):
    catalog, _, _ = priced
    figures = price_figures(catalog)
    unlisted = figures["unlisted"]
    assert unlisted["models"] == 528 and len(unlisted["providers"]) == 15
    assert unlisted["reference_priced"] == 333 and unlisted["share"] >= 0.60
    assert (unlisted["reference_confirmed"], unlisted["reference_single"], unlisted["reference_disputed"]) == (162, 170, 1)
    assert figures["free"] == 17 and figures["free_outside_explicit_variants"] == []
    assert figures["deepinfra_output_equals_context"] == 0 and figures["deepinfra_active"] == 154
    assert figures["unflagged_unit_errors"] == []
    assert (figures["candidates_disputed"], figures["models_disputed"], figures["unpriced_by_guard"]) == (5, 3, 2)
    openai = figures["coverage"]["openai"]
    assert openai["retired"] == 41 and openai["none"] == 11


def test_each_matching_rule_fires_as_counted_on_the_recorded_catalog(priced):
    catalog, _, _ = priced
    rules = dict(catalog.execute("SELECT source, details->'rules' FROM reference_runs WHERE status = 'success'").fetchall())
    assert rules == EXPECTED_RULES


def _models_dev(entry: dict) -> dict:
    cost = entry["cost"]
    return {k: D(str(cost[k])) for k in ("input", "output", "cache_read", "cache_write") if k in cost}


def _litellm(entry: dict) -> dict:
    keys = {"input": "input_cost_per_token", "output": "output_cost_per_token",
            "cache_read": "cache_read_input_token_cost", "cache_write": "cache_creation_input_token_cost"}
    flat = {k: entry[v] for k, v in keys.items() if entry.get(v) is not None}
    base = next((t for t in entry.get("tiered_pricing") or [] if t["range"][0] == 0), {})
    flat = {**{k: base[v] for k, v in keys.items() if base.get(v) is not None}, **flat}
    return {k: D(str(v)) * 10**6 for k, v in flat.items()}


def _genai(providers: list, provider_id: str, model_id: str) -> dict:
    model = next(m for p in providers if p.id == provider_id for m in p.models if m.id == model_id)
    noon = clock.now().replace(hour=12, minute=0, second=0, microsecond=0)
    price = model.get_prices(noon)
    out = {}
    for ours, theirs in (("input", "input_mtok"), ("output", "output_mtok"), ("cache_read", "cache_read_mtok"),
                         ("cache_write", "cache_write_mtok")):
        value = getattr(price, theirs, None)
        if value is not None:
            out[ours] = value.base if hasattr(value, "base") else value
    return out


def test_every_reference_price_equals_its_named_sources_value_exactly(priced):
    """Re-read each source independently (plain json floats through Decimal(str(x)); genai-prices' own
    get_prices) and compare every stored reference price with the value under the id its candidate names."""
    from genai_prices.data import providers

    catalog, _, _ = priced
    models_dev = json.loads(REFERENCE_SOURCES["models-dev"].snapshot_path.read_text())
    litellm = json.loads(REFERENCE_SOURCES["litellm"].snapshot_path.read_text())
    rows = catalog.execute(
        """SELECT m.price_source, m.price_source_version, m.price_confidence, c.source_model_id, p.slug,
                  m.price_input_usd_per_mtok, m.price_output_usd_per_mtok, m.price_cache_read_usd_per_mtok,
                  m.price_cache_write_usd_per_mtok
           FROM models m JOIN providers p ON p.id = m.provider_id
           JOIN model_price_candidates c ON c.model_id = m.id AND c.source = m.price_source
           WHERE m.is_active AND m.price_source IN ('genai-prices', 'models.dev', 'litellm')"""
    ).fetchall()
    assert len(rows) == 333
    checked = 0
    for source, version, confidence, source_id, slug, *stored in rows:
        assert version and confidence in ("confirmed", "single", "disputed")
        mapping = next(s for s in REFERENCE_SOURCES.values() if s.name == source).providers[slug]
        if source == "models.dev":
            provider = next(p for p in mapping.providers if source_id in models_dev.get(p, {}).get("models", {}))
            expected = _models_dev(models_dev[provider]["models"][source_id])
        elif source == "litellm":
            expected = _litellm(litellm[source_id])
        else:
            expected = _genai(providers, mapping.providers[0], source_id)
        got = dict(zip(("input", "output", "cache_read", "cache_write"), stored, strict=True))
        for name, value in expected.items():
            assert got[name] == value, (slug, source, source_id, name, got[name], value)
        assert {k for k, v in got.items() if v is not None} == set(expected), (slug, source_id)
        checked += 1
    assert checked == 333


def test_list_api_prices_are_untouched_and_cross_checked(priced):
    catalog, _, _ = priced
    groq = catalog.execute(
        """SELECT m.price_source, m.price_confidence, count(*) FROM models m JOIN providers p ON p.id = m.provider_id
           WHERE p.slug = 'groq' AND m.is_active GROUP BY 1, 2 ORDER BY 1, 2"""
    ).fetchall()
    assert ("list_api", "confirmed") in {(s, c) for s, c, _ in groq}
    variants = catalog.execute(
        """SELECT count(*) FROM models WHERE price_source = 'list_api'
           AND num_nonnulls(price_long_context_threshold_tokens, price_input_batch_usd_per_mtok) > 0"""
    ).fetchone()[0]
    assert variants == 0, "a list-API row carries no reference variant"


def test_variants_and_lifecycle_are_stored_where_sources_give_them(priced):
    catalog, _, _ = priced
    tiers, batch = catalog.execute(
        """SELECT count(*) FILTER (WHERE price_long_context_threshold_tokens IS NOT NULL),
                  count(*) FILTER (WHERE price_input_batch_usd_per_mtok IS NOT NULL) FROM models"""
    ).fetchone()
    assert tiers > 10 and batch > 50
    lifecycle = dict(catalog.execute(
        "SELECT lifecycle, count(*) FROM models_current WHERE provider_slug = 'openai' GROUP BY 1"
    ).fetchall())
    assert lifecycle["retired"] == 41


def test_status_api_page_and_prices_listing_show_coverage_and_candidates(priced):
    from include.gatewayz_sync.store.price_status import price_listing
    from include.gatewayz_sync.web.app import status_document
    from include.gatewayz_sync.web.views import render_page, render_prices

    catalog, _, _ = priced
    document = status_document(catalog, None, 100, 0)
    by_slug = {p["slug"]: p for p in document["providers"]}
    assert by_slug["openai"]["prices"]["retired"] == 41
    assert by_slug["groq"]["prices"]["api"] == 8
    assert document["totals"]["prices"]["reference_priced"] == 333 and document["totals"]["retired_models"] == 41
    page = render_page(document, [])
    assert "63.1%" in page and "Disputed prices" in page

    disputed = price_listing(catalog, provider="google-vertex", status="disputed", limit=100, offset=0)
    assert {m["model"] for m in disputed} == {
        "gemini-2.5-flash-image", "gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview"}
    image = next(m for m in disputed if m["model"] == "gemini-3-pro-image-preview")
    assert image["stored"]["source"] == "genai-prices" and image["stored"]["confidence"] == "disputed"
    assert {c["source"]: c["status"] for c in image["candidates"]} == {
        "genai-prices": "stored", "litellm": "agrees", "models.dev": "disputed"}
    assert "10.0x" in next(c["reason"] for c in image["candidates"] if c["source"] == "models.dev")
    html = render_prices({"models": disputed, "provider": "google-vertex", "status": "disputed", "limit": 100,
                          "offset": 0, "next_offset": None})
    assert "gemini-3-pro-image-preview" in html and "status-disputed" in html


def test_prices_route_answers_json_and_html(priced, monkeypatch):
    from typing import get_args

    from fastapi.testclient import TestClient

    from include.gatewayz_sync.store.price_status import STATUS_FILTERS
    from include.gatewayz_sync.web import app as web

    assert get_args(web.PriceStatusFilter) == STATUS_FILTERS
    application = web.create_app()
    for dependency in application.router.dependencies:
        application.dependency_overrides[dependency.dependency] = lambda: None
    monkeypatch.setattr(web, "_catalog", _catalog_for(priced[0]))
    client = TestClient(application)
    answer = client.get("/prices", params={"provider": "openai", "status": "confirmed", "limit": 5})
    assert answer.status_code == 200
    body = answer.json()
    assert len(body["models"]) == 5 and body["next_offset"] == 5
    assert all(m["stored"]["confidence"] == "confirmed" for m in body["models"])
    assert client.get("/prices", params={"status": "nonsense"}).status_code == 422
    assert client.get("/prices", params={"provider": "nope"}).status_code == 404
    assert "<table>" in client.get("/prices", params={"status": "disputed", "format": "html"}).text


def _catalog_for(connection):
    from contextlib import contextmanager

    @contextmanager
    def borrowed():
        yield connection

    return borrowed


def test_an_unchanged_rerun_of_prices_and_models_writes_nothing(priced):
    catalog, _, run = priced

    def versions(table: str) -> dict:
        return dict(catalog.execute(f"SELECT id, xmin::text FROM {table}").fetchall())

    before = {t: versions(t) for t in ("models", "model_price_candidates")}
    changes = catalog.execute("SELECT count(*) FROM model_changes").fetchone()[0]
    assert run("gatewayz_sync_prices").state == "success"
    assert run("gatewayz_sync_models").state == "success"
    assert {t: versions(t) for t in before} == before
    assert catalog.execute("SELECT count(*) FROM model_changes").fetchone()[0] == changes
    writes = catalog.execute(
        """SELECT DISTINCT ON (source) source, inserted, updated, deleted FROM reference_runs ORDER BY source, id DESC"""
    ).fetchall()
    assert all(row[1:] == (0, 0, 0) for row in writes)
