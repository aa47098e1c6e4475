"""The whole recorded catalog priced end to end (provider sync, model sync, reference prices via `dag.test()`,
the replay server over real HTTP, the real PostgreSQL): the acceptance figures of `make demo`, the billing
report, one test per row of the billing-grade prices issue (a listed 0, units, tiers and meters, aliases, recency,
the sibling guard, OpenRouter as a reference), every reference price checked against an independent reading of
its source, and an unchanged rerun that writes nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from include.gatewayz_sync import clock
from include.gatewayz_sync.dev.price_report import price_figures
from include.gatewayz_sync.prices.sources import REFERENCE_SOURCES
from tests.airflow_helpers import rendered_map_indexes, task_states, xcom_values
from tests.conftest import pipeline_on_a_fresh_catalog

D = Decimal
# Changed from 112/84, 117/81: entries priced only in other units (text-to-speech per character, transcription per
# hour, OCR per page, rerank per search) and genai-prices' `huggingface_nebius` (Nebius) are read now, and an
# entry listed only at 0 is kept as a candidate so the reason a model stays unpriced can name it.
# Changed from genai-prices exact 150, models.dev exact 164, LiteLLM provider-prefix 84 (issue 19, gap 1): an entry
# listed without any price is kept as a candidate too, so that an unpriced model's reason says what the source
# has (genai-prices' gemma-4-26b-a4b-it and -31b-it, "free of charge on the Gemini API with no paid tier"; 14
# models.dev entries without `cost`; LiteLLM's dashscope/qwen3-30b-a3b); and models.dev's `elsewhere` providers of
# Alibaba (alibaba-cn, the plans) name the 18 Alibaba ids listed only there, without their prices.
# Issue 19, row 7: LiteLLM's `accounts/fireworks/models/` entries for Sentient's two Dobby models, which Fireworks
# serves from Sentient's accounts, price them through a declared pair each (`declared-id`).
EXPECTED_RULES = {
    "genai-prices": {"exact": 152, "source-alias": 93},
    "models.dev": {"exact": 178, "snapshot-alias+exact": 27, "elsewhere+exact": 13,
                   "elsewhere+snapshot-alias+exact": 5},
    "litellm": {"exact": 124, "provider-prefix": 85, "snapshot-alias+provider-prefix": 5,
                "declared-id+provider-prefix": 2},
    "openrouter": {"openrouter-author": 48, "snapshot-alias+openrouter-author": 8},
}
# 703 candidates before: the 35 entries above that give no price (2 + 14 + 1 + 18), the 2 declared Dobby pairs
CANDIDATES = 703 + 2 + 14 + 1 + 18 + 2
# 385 before: OpenRouter's prices for the 5 open-weight Alibaba models it alone priced are other hosts' (row 7)
REFERENCE_PRICED = 380
# Alibaba's open-weight models OpenRouter's listing alone priced, with its `hugging_face_id` and its price
OPEN_WEIGHTS_RESOLD = {
    "qwen3-30b-a3b-instruct-2507": ("Qwen/Qwen3-30B-A3B-Instruct-2507", D("0.04815"), D("0.19305")),
    "qwen3-30b-a3b-thinking-2507": ("Qwen/Qwen3-30B-A3B-Thinking-2507", D("0.2"), D("2.4")),
    "qwen3-coder-next": ("Qwen/Qwen3-Coder-Next", D("0.12"), D("0.8")),
    "qwen3-vl-235b-a22b-instruct": ("Qwen/Qwen3-VL-235B-A22B-Instruct", D("0.21"), D("1.9")),
    "qwen3-vl-235b-a22b-thinking": ("Qwen/Qwen3-VL-235B-A22B-Thinking", D("0.4"), D("4")),
}


@pytest.fixture(scope="module")
def priced(migrated_catalog, replay_server_session, dagbag):
    """One full run of the three DAGs on a fresh catalog, shared by this module's read-only tests."""
    with pytest.MonkeyPatch.context() as patch, \
            pipeline_on_a_fresh_catalog(replay_server_session, dagbag, patch) as ran:
        yield ran


def test_the_price_run_refreshes_each_source_in_its_own_task_then_resolves(priced):
    _, runs, _ = priced
    run = runs["gatewayz_sync_prices"]
    assert run.state == "success"
    states = task_states(run)
    assert [states[("refresh_source", i)] for i in range(4)] == ["success"] * 4
    assert states[("resolve_prices", -1)] == "success"
    assert set(rendered_map_indexes(run, "refresh_source").values()) == {
        "genai-prices", "models-dev", "litellm", "openrouter-listing"}
    summary = xcom_values(run, "resolve_prices")[-1]
    # 630 before: 151 models listed only at 0 (not free variants) are no longer priced by their listing
    assert summary["models"] == 1263 and summary["by_source"]["list_api"] == 479


def test_acceptance_figures_on_the_recorded_catalog(priced):
    catalog, _, _ = priced
    figures = price_figures(catalog)
    unlisted = figures["unlisted"]
    assert unlisted["models"] == 528 and len(unlisted["providers"]) == 15
    assert unlisted["reference_priced"] == REFERENCE_PRICED and unlisted["share"] >= 0.71
    by_rule = {c: unlisted[f"reference_{c}"] for c in ("confirmed", "single", "newest", "majority", "preferred",
                                                         "reseller", "disputed")}
    assert by_rule == {"confirmed": 174, "single": 165, "newest": 17, "majority": 8, "preferred": 13, "reseller": 0,
                       "disputed": 3}
    assert figures["free"] == 17 and figures["free_outside_explicit_variants"] == []
    assert figures["deepinfra_output_equals_context"] == 0 and figures["deepinfra_active"] == 154
    assert figures["unflagged_unit_errors"] == []
    assert (figures["candidates"], figures["candidates_disputed"], figures["models_disputed"],
            figures["unpriced_by_guard"]) == (CANDIDATES, 4, 4, 1)
    openai = figures["coverage"]["openai"]
    assert openai["retired"] == 41 and openai["none"] == 2


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
    get_prices) and compare every stored base token price of a reference source with the value under the id its
    candidate names; each row's source is the source whose value it is, the stored one's or an agreeing one's."""
    from genai_prices.data import providers

    catalog, _, _ = priced
    models_dev = json.loads(REFERENCE_SOURCES["models-dev"].snapshot_path.read_text())
    litellm = json.loads(REFERENCE_SOURCES["litellm"].snapshot_path.read_text())
    rows = catalog.execute(
        """SELECT r.source, m.id, m.price_source_version, m.price_confidence, r.source_model_id, p.slug,
                  r.meter, r.amount_usd
           FROM model_prices r JOIN models m ON m.id = r.model_id JOIN providers p ON p.id = m.provider_id
           WHERE m.is_active AND r.source IN ('genai-prices', 'models.dev', 'litellm') AND r.unit = 'token'
             AND r.meter IN ('input', 'output', 'cache_read', 'cache_write') AND r.above_input_tokens = 0
             AND r.service_tier = 'standard' AND r.time_window = '' AND r.option = ''"""
    ).fetchall()
    models = set()
    for source, model, version, confidence, source_id, slug, meter, amount in rows:
        assert version and confidence in ("confirmed", "single", "newest", "majority", "preferred", "disputed")
        mapping = next(s for s in REFERENCE_SOURCES.values() if s.name == source).providers[slug]
        if source == "models.dev":
            provider = next(p for p in mapping.providers if source_id in models_dev.get(p, {}).get("models", {}))
            expected = _models_dev(models_dev[provider]["models"][source_id])
        elif source == "litellm":
            expected = _litellm(litellm[source_id])
        else:
            expected = _genai(providers, mapping.providers[0], source_id)
        assert expected[meter] == amount, (slug, source, source_id, meter, amount, expected[meter])
        models.add(model)
    # 333 models before, each row its stored source's; now the rows of 352 models (the others are priced in
    # other units or by OpenRouter only), some of them added by a source that agrees with the stored one; 896 rows
    # of 352 models before Fireworks' two Dobby models were priced from LiteLLM (declared ids)
    assert len(rows) == 900 and len(models) == 354


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
    foreign = catalog.execute(
        """SELECT count(*) FROM model_prices r JOIN models m ON m.id = r.model_id
           WHERE m.price_source = 'list_api' AND r.source <> 'list_api'"""
    ).fetchone()[0]
    assert foreign == 0, "a listed price is never mixed with a reference's"


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
    assert document["totals"]["prices"]["reference_priced"] == REFERENCE_PRICED
    assert document["totals"]["retired_models"] == 41
    page = render_page(document, [])
    assert "72.0%" in page
    everywhere = price_listing(catalog, provider=None, status="disputed", limit=1000, offset=0)
    assert document["totals"]["disputed_prices"] == len(everywhere) > 0, "the count is what its link lists"
    assert f'id="disputed-count" href="prices?status=disputed&amp;format=html">{len(everywhere)}</a>' in page

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
    assert by_slug["google-vertex"]["prices"]["disputed"] == len(disputed), "per provider too"
    assert 'href="prices?provider=google-vertex&amp;status=disputed&amp;format=html">3</a>' in page


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
    assert 'id="price-listing"' in client.get("/prices", params={"status": "disputed", "format": "html"}).text


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

    before = {t: versions(t) for t in ("models", "model_price_candidates", "model_prices")}
    changes = catalog.execute("SELECT count(*) FROM model_changes").fetchone()[0]
    assert run("gatewayz_sync_prices").state == "success"
    assert run("gatewayz_sync_models").state == "success"
    assert {t: versions(t) for t in before} == before
    assert catalog.execute("SELECT count(*) FROM model_changes").fetchone()[0] == changes
    writes = catalog.execute(
        """SELECT DISTINCT ON (source) source, inserted, updated, deleted FROM reference_runs ORDER BY source, id DESC"""
    ).fetchall()
    assert all(row[1:] == (0, 0, 0) for row in writes)


def _rows(catalog, slug: str, model_id: str) -> dict:
    """{(meter, unit, above, service tier, window, option): (amount, source)} of one model's price rows."""
    return {tuple(row[:6]): tuple(row[6:]) for row in catalog.execute(
        """SELECT r.meter, r.unit, r.above_input_tokens, r.service_tier, r.time_window, r.option, r.amount_usd, r.source
           FROM model_prices_current r WHERE r.provider_slug = %s AND r.provider_model_id = %s""",
        (slug, model_id),
    ).fetchall()}


def _model(catalog, slug: str, model_id: str) -> dict:
    cursor = catalog.execute(
        """SELECT m.* FROM models_current m WHERE m.provider_slug = %s AND m.provider_model_id = %s""", (slug, model_id))
    names = [column.name for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def test_billing_report_on_the_recorded_catalog(priced):
    """The billing report `make demo` ends with: every check a gateway bills by holds on the recorded catalog."""
    catalog, _, _ = priced
    figures = price_figures(catalog)
    assert figures["zero_prices_not_free"] == []
    assert figures["wrong_units"] == [] and figures["per_character_list_prices"] == 10
    assert figures["alias_disagreements"] == [] and figures["alias_groups"] == 18
    for source, entry in figures["meters_per_source"].items():
        assert entry["stored"] == entry["has"], source
        assert not entry["unread"], source
    assert figures["unpriced_without_reason"] == 0
    assert sum(figures["unpriced_by_reason"].values()) == 397 + len(OPEN_WEIGHTS_RESOLD)
    unlisted = figures["unlisted"]
    assert (unlisted["chat_priced"], unlisted["chat_models"]) == (290, 358)


def test_row1_a_listed_zero_is_unknown_with_a_reason_and_only_free_variants_are_free(priced):
    catalog, _, _ = priced
    zero = " OR ".join(f"m.{c} = 0" for c in ("price_input_usd_per_mtok", "price_output_usd_per_mtok",
                                               "price_cache_read_usd_per_mtok", "price_request_usd", "price_image_usd"))
    assert catalog.execute(
        f"""SELECT count(*) FROM models m WHERE m.is_active AND m.is_free IS NOT TRUE
            AND ({zero} OR EXISTS (SELECT 1 FROM model_prices r WHERE r.model_id = m.id AND r.amount_usd = 0))"""
    ).fetchone()[0] == 0, "167 active models stored $0 / $0 before"
    dedicated = _model(catalog, "together", "Qwen/Qwen2-72B")
    assert (dedicated["price_input_usd_per_mtok"], dedicated["price_source"], dedicated["is_free"]) == (None, None, None)
    assert dedicated["price_unknown_reason"].startswith("listed as 0 (input, output), which is not a price")
    assert "dedicated endpoints" in dedicated["price_unknown_reason"]
    flags = dict(catalog.execute(
        """SELECT CASE WHEN is_free THEN 'free' WHEN NOT is_free THEN 'priced' ELSE 'unknown' END
                  || '/' || CASE WHEN price_source IS NULL THEN 'no price' ELSE 'price' END, count(*)
           FROM models WHERE is_active GROUP BY 1"""
    ).fetchall())
    unpriced = 397 + len(OPEN_WEIGHTS_RESOLD)
    assert flags == {"free/price": 17, "priced/price": 849 - len(OPEN_WEIGHTS_RESOLD), "unknown/no price": unpriced}, (
        "is_free follows the rule")
    assert _model(catalog, "openrouter", "openrouter/free")["is_free"] is True


def test_row2_every_meter_keeps_its_own_unit(priced):
    catalog, _, _ = priced
    sonic = _model(catalog, "together", "cartesia/sonic")
    assert sonic["price_input_usd_per_mtok"] is None, "a per-character price never lands in a per-token column"
    assert _rows(catalog, "together", "cartesia/sonic") == {("input", "character", 0, "standard", "", ""): (D(65), "list_api")}
    assert _rows(catalog, "groq", "canopylabs/orpheus-v1-english")[("input", "character", 0, "standard", "", "")] == (
        D(22), "list_api")
    assert _rows(catalog, "groq", "canopylabs/orpheus-arabic-saudi")[("input", "character", 0, "standard", "", "")] == (
        D(40), "list_api")
    whisper = _rows(catalog, "together", "openai/whisper-large-v3")
    assert whisper[("input_audio", "minute", 0, "standard", "", "")] == (D("0.0015"), "list_api")
    assert _rows(catalog, "together", "black-forest-labs/FLUX.1-schnell") == {
        ("output_image", "megapixel", 0, "standard", "", ""): (D("0.0027"), "list_api")}
    assert _rows(catalog, "openai", "tts-1")[("input", "character", 0, "standard", "", "")][0] == D(15)
    assert price_figures(catalog)["wrong_units"] == []


def test_row3_every_tier_and_meter_a_source_gives_is_stored(priced):
    catalog, _, _ = priced
    claude = _rows(catalog, "anthropic", "claude-sonnet-4-5-20250929")
    assert claude[("input", "token", 200000, "standard", "", "")][0] == D(6)
    assert claude[("output", "token", 200000, "standard", "", "")][0] == D("22.5")
    coder = _rows(catalog, "alibaba", "qwen3-coder-plus")
    assert [coder[("input", "token", above, "standard", "", "")][0] for above in (0, 32000, 128000, 256000)] == [
        D(1), D("1.8"), D(3), D(6)], "LiteLLM's tiers, up to 6x"
    deepseek = _rows(catalog, "deepseek", "deepseek-v4-pro")
    assert deepseek[("input", "token", 0, "standard", "", "")][0] == D("0.66")
    assert {deepseek[("input", "token", 0, "standard", w, "")][0] for w in ("01:00-04:00", "06:00-10:00")} == {D("1.32")}
    assert _model(catalog, "deepseek", "deepseek-v4-pro")["price_is_variable"] is True
    image = _rows(catalog, "google-vertex", "gemini-3-pro-image-preview")
    assert image[("output_image", "token", 0, "standard", "", "")][0] == D(120), "image tokens at $120/M, output at 12"
    assert image[("output", "token", 0, "standard", "", "")][0] == D(12)
    meters = dict(catalog.execute(
        """SELECT r.meter, count(DISTINCT r.model_id) FROM model_prices_current r
           WHERE r.is_active AND r.meter IN ('input_audio', 'output_audio', 'output_image', 'web_search') GROUP BY 1"""
    ).fetchall())
    assert meters == {"input_audio": 60, "output_audio": 25, "output_image": 16, "web_search": 145}


def test_row4_a_provider_declared_alias_group_shares_one_price_and_one_set_of_limits(priced):
    catalog, _, _ = priced
    large, latest = _model(catalog, "mistral", "mistral-large-2512"), _model(catalog, "mistral", "mistral-large-latest")
    assert latest["alias_of"] == "mistral-large-2512" and large["alias_of"] is None
    assert _rows(catalog, "mistral", "mistral-large-latest") == _rows(catalog, "mistral", "mistral-large-2512")
    assert (latest["price_input_usd_per_mtok"], latest["price_output_usd_per_mtok"]) == (D("0.5"), D("1.5"))
    assert latest["context_length"] == large["context_length"]
    medium = {m: _rows(catalog, "mistral", m) for m in ("mistral-medium-latest", "mistral-medium", "mistral-medium-2604")}
    assert medium["mistral-medium"] == medium["mistral-medium-latest"] == medium["mistral-medium-2604"]
    assert _rows(catalog, "mistral", "magistral-small-latest") == _rows(catalog, "mistral", "mistral-small-2603")
    assert _rows(catalog, "mistral", "ministral-3b-latest") == _rows(catalog, "mistral", "ministral-3b-2512")
    assert price_figures(catalog)["alias_disagreements"] == []


def test_row5_the_newest_dated_evidence_wins_and_the_disagreement_stays_visible(priced):
    from include.gatewayz_sync.store.price_status import price_listing

    catalog, _, _ = priced
    large = _model(catalog, "mistral", "mistral-large-latest")
    assert (large["price_input_usd_per_mtok"], large["price_output_usd_per_mtok"]) == (D("0.5"), D("1.5"))
    assert large["price_confidence"] == "majority", "LiteLLM's stale 2 / 6 is outvoted by sources of comparable age"
    medium = _model(catalog, "mistral", "mistral-medium-latest")
    assert (medium["price_input_usd_per_mtok"], medium["price_output_usd_per_mtok"]) == (D("1.5"), D("7.5"))
    assert medium["price_confidence"] == "newest"
    listing = price_listing(catalog, provider="mistral", status="newest", limit=100, offset=0)
    entry = next(m for m in listing if m["model"] == "mistral-medium-latest")
    statuses = {c["source"]: (c["status"], c["reason"]) for c in entry["candidates"]}
    assert statuses["genai-prices"] == ("stored", None)
    assert statuses["litellm"][0] == "superseded" and "as of 2026-02-21" in statuses["litellm"][1]
    assert statuses["models.dev"] == ("differs", "this source's entry 'mistral-medium-2604' priced the group"), (
        "its stale mistral-medium-latest entry (0.4 / 2, 2025-08-12) is not used: the group's newer 2604 entry is")


def test_row6_a_single_source_price_ten_times_from_every_sibling_is_disputed_not_stored(priced):
    catalog, _, _ = priced
    light = _model(catalog, "cohere", "embed-multilingual-light-v3.0")
    assert (light["price_source"], light["price_input_usd_per_mtok"], light["price_confidence"]) == (None, None, "disputed")
    assert "10x or more" not in light["price_dispute"] and "every one of its 4 priced siblings" in light["price_dispute"]
    assert "every one of its 4 priced siblings" in light["price_unknown_reason"]
    status = catalog.execute(
        """SELECT c.status FROM model_price_candidates c JOIN models m ON m.id = c.model_id
           WHERE m.provider_model_id = 'embed-multilingual-light-v3.0' AND c.source = 'litellm'"""
    ).fetchone()[0]
    assert status == "disputed"
    assert _model(catalog, "cohere", "embed-multilingual-v3.0")["price_input_usd_per_mtok"] == D("0.1")


def test_row7_openrouter_cross_checks_first_party_models_and_every_unpriced_model_says_why(priced):
    catalog, _, _ = priced
    statuses = dict(catalog.execute(
        """SELECT m.provider_model_id, c.status FROM model_price_candidates c JOIN models m ON m.id = c.model_id
           WHERE c.source = 'openrouter' AND m.provider_model_id IN ('gpt-4o-2024-05-13', 'qwen-plus')"""
    ).fetchall())
    assert statuses == {"gpt-4o-2024-05-13": "agrees", "qwen-plus": "differs"}
    qwen = catalog.execute(
        """SELECT c.status_reason FROM model_price_candidates c JOIN models m ON m.id = c.model_id
           WHERE c.source = 'openrouter' AND m.provider_model_id = 'qwen-plus'"""
    ).fetchone()[0]
    assert "0.65x" in qwen and "not averaged" in qwen
    assert _model(catalog, "alibaba", "qwen-plus")["price_input_usd_per_mtok"] == D("0.4"), "flagged, never averaged"
    resold = catalog.execute(
        "SELECT provider_model_id, price_confidence FROM models WHERE is_active AND price_source = 'openrouter'"
    ).fetchall()
    assert resold == [], "each model OpenRouter alone prices on the recorded listing is open-weight"
    open_weights = {model: (status, reason, input_price, output_price) for model, status, reason, input_price,
                    output_price in catalog.execute(
        """SELECT m.provider_model_id, c.status, c.status_reason, c.price_input_usd_per_mtok,
                  c.price_output_usd_per_mtok
           FROM model_price_candidates c JOIN models m ON m.id = c.model_id JOIN providers p ON p.id = m.provider_id
           WHERE c.source = 'openrouter' AND p.slug = 'alibaba' AND m.price_source IS NULL""").fetchall()}
    assert set(open_weights) == set(OPEN_WEIGHTS_RESOLD)
    for model, (weights, input_price, output_price) in OPEN_WEIGHTS_RESOLD.items():
        why = f"open-weight model ({weights}); OpenRouter's price is a third-party host's"
        assert open_weights[model] == ("differs", why, input_price, output_price), "kept to be seen, never stored"
        stored = _model(catalog, "alibaba", model)
        assert (stored["price_input_usd_per_mtok"], stored["is_free"], stored["price_confidence"]) == (None, None, None)
        assert f"openrouter: {why}" in stored["price_unknown_reason"]
    assert _model(catalog, "alibaba", "qwen3-32b")["price_input_usd_per_mtok"] == D("0.7"), (
        "an open-weight model another source prices for Alibaba keeps that price; OpenRouter's 0.08 is flagged")
    dobby = catalog.execute(
        """SELECT m.price_source, m.price_input_usd_per_mtok, c.match_rule, c.source_model_id, c.source_version
           FROM models m JOIN model_price_candidates c ON c.model_id = m.id AND c.source = m.price_source
           WHERE m.provider_model_id = 'accounts/sentientfoundation/models/dobby-unhinged-llama-3-3-70b-new'"""
    ).fetchone()
    assert dobby == ("litellm", D("0.9"), "declared-id+provider-prefix",
                     "fireworks_ai/accounts/fireworks/models/dobby-unhinged-llama-3-3-70b-new",
                     REFERENCE_SOURCES["litellm"].snapshot_version)
    nebius = _model(catalog, "nebius", "deepseek-ai/DeepSeek-V3-0324")
    assert nebius["price_source"] == "genai-prices", "genai-prices' huggingface_nebius is mapped"
    assert catalog.execute(
        "SELECT count(*) FROM models WHERE is_active AND price_source IS NULL AND price_unknown_reason IS NULL"
    ).fetchone()[0] == 0


def test_also_gpt_3_5_turbo_1106_batch_falls_back_to_its_standard_price(priced):
    catalog, _, _ = priced
    rows = _rows(catalog, "openai", "gpt-3.5-turbo-1106")
    assert rows[("input", "token", 0, "batch", "", "")][0] == rows[("input", "token", 0, "standard", "", "")][0] == D(1)
    assert rows[("output", "token", 0, "batch", "", "")][0] == D(2)
    assert _model(catalog, "openai", "gpt-3.5-turbo-1106")["price_input_batch_usd_per_mtok"] == D(1)


def test_also_gpt_4o_mini_tts_and_its_snapshot_are_priced_alike_from_genai_prices(priced):
    """genai-prices: 0.6 per 1M text tokens in, 12 per 1M audio tokens out (OpenAI's price); LiteLLM's 2.5 / 10
    are text prices this model does not have (its own audio-token 12 and $0.00025/s agree with 0.6 / 12). LiteLLM
    prices the dated snapshot exactly as the alias, so the two are priced as one model."""
    catalog, _, _ = priced
    alias, dated = _rows(catalog, "openai", "gpt-4o-mini-tts"), _rows(catalog, "openai", "gpt-4o-mini-tts-2025-03-20")
    assert alias == dated
    assert (alias[("input", "token", 0, "standard", "", "")][0], alias[("output", "token", 0, "standard", "", "")][0]) == (
        D("0.6"), D(12))
    assert {source for _, source in alias.values()} == {"genai-prices"}


UNLISTED_CHAT_UNPRICED = """
WITH unlisted AS (SELECT provider_slug FROM models_current WHERE is_active GROUP BY 1
                  HAVING count(*) FILTER (WHERE price_source = 'list_api') = 0)
SELECT provider_slug, provider_model_id, price_unknown_reason FROM models_current
WHERE is_active AND kind = 'chat' AND price_source IS NULL AND provider_slug IN (SELECT provider_slug FROM unlisted)
"""


def test_gap1_every_unpriced_chat_model_of_a_no_price_provider_says_what_each_source_has(priced):
    """Issue 19, gap 1: the chat-model goal (90%) is not reachable honestly from the bundled sources: 290 of 358
    (81.0%; 293 before Fireworks' two Dobby models were priced through LiteLLM's declared ids, 295 before the 5
    open-weight Alibaba models lost OpenRouter's price, another host's). Each of the 68 unpriced chat models says
    what every source has for it: listed only in Alibaba's China-region price list or a subscription plan (never
    billed at that price), an open-weight model's OpenRouter price (a third-party host's), listed without a price
    (with genai-prices' own note), at 0, in a unit nobody documents, or nowhere."""
    from include.gatewayz_sync.store.billing import reason_category

    catalog, _, _ = priced
    reasons = {(slug, model): reason for slug, model, reason in catalog.execute(UNLISTED_CHAT_UNPRICED).fetchall()}
    assert len(reasons) == 358 - 290
    categories = {}
    for reason in reasons.values():
        categories[reason_category(reason)] = categories.get(reason_category(reason), 0) + 1
    assert categories == {
        "no list price; no reference source lists it": 45,
        "no list price; open-weight model priced only by OpenRouter (another host's price)": 5,
        "no list price; listed only in another region's price list": 6,
        "no list price; references list it without a price": 4,
        "no list price; listed only on a subscription plan": 3,
        "the listing's prices are in an undocumented unit (not read)": 3,
        "no list price; references list it only at 0": 1,
        "no price in the provider's listing": 1,
    }, "133 chat and other models said only 'no reference source lists it' before"
    assert reasons[("alibaba", "qwen3.5-flash-2026-02-23")] == (
        "the provider's list API publishes no prices; models.dev: listed only as alibaba-cn's qwen3.5-flash: the "
        "China-region price list (dashscope.aliyuncs.com), not the international endpoint's; not listed by litellm, "
        "openrouter")
    assert "alibaba-token-plan's glm-5.2: a subscription plan" in reasons[("alibaba", "glm-5.2")]
    assert "litellm: listed without a price" in reasons[("alibaba", "qwen3-30b-a3b")]
    assert ("genai-prices: listed without a price (its note: Free of charge on the Gemini API with no paid tier)"
            in reasons[("google-vertex", "gemma-4-31b-it")])
    assert "models.dev lists it at 0" in reasons[("cohere", "north-mini-code-1-0")]
    assert reasons[("aimo", "Kimi-K2")].startswith("AiMo lists a price per serving provider")
    assert "undocumented unit" in reasons[("aimo", "Kimi-K2")]
    elsewhere = catalog.execute(
        """SELECT count(*), count(*) FILTER (WHERE c.meters = '[]'::jsonb AND c.price_input_usd_per_mtok IS NULL),
                  count(*) FILTER (WHERE EXISTS (SELECT 1 FROM model_prices p WHERE p.model_id = c.model_id
                                                 AND p.source = 'models.dev'))
           FROM model_price_candidates c WHERE c.match_rule LIKE 'elsewhere+%'""").fetchone()
    assert elsewhere == (18, 18, 0), "a China-region or plan entry never prices an international model"
