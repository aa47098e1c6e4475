"""Reference prices against changes, through `dag.test()`, the replay server and the real PostgreSQL: operator >
list API > reference, a refreshed snapshot that moves one price, a reference host that is down, bundled mode."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from include.gatewayz_sync.catalog.records import dumps_json
from include.gatewayz_sync.catalog.units import canonical
from include.gatewayz_sync.prices.sources import REFERENCE_SOURCES
from include.gatewayz_sync.store.changes import is_price_slug
from tests.airflow_helpers import task_states
from tests.migrations import catalog_at
from tests.readme import blocks

D = Decimal


@pytest.fixture
def synced(catalog, run_dag, replay):
    """Providers, then the models of a few providers, then reference prices."""

    def sync(*slugs: str):
        assert run_dag("gatewayz_sync_providers").state == "success"
        assert run_dag("gatewayz_sync_models", {"providers": list(slugs)}).state == "success"
        assert run_dag("gatewayz_sync_prices").state == "success"
        return catalog

    return sync


def stored(catalog, slug: str, model_id: str) -> tuple:
    return catalog.execute(
        """SELECT m.price_source, m.price_input_usd_per_mtok, m.price_output_usd_per_mtok, m.price_confidence
           FROM models m JOIN providers p ON p.id = m.provider_id WHERE p.slug = %s AND m.provider_model_id = %s""",
        (slug, model_id),
    ).fetchone()


def versions(catalog, table: str) -> dict:
    return dict(catalog.execute(f"SELECT id, xmin::text FROM {table}").fetchall())


def changes_since(catalog, last_id: int) -> list[tuple]:
    return catalog.execute(
        "SELECT provider_model_id, kind, field, old_value, new_value, source FROM model_changes WHERE id > %s ORDER BY id",
        (last_id,),
    ).fetchall()


def last_change(catalog) -> int:
    return catalog.execute("SELECT coalesce(max(id), 0) FROM model_changes").fetchone()[0]


def test_operator_price_over_list_api_over_reference(synced, run_dag, replay):
    catalog = synced("groq", "openai")
    api_model = catalog.execute(
        """SELECT m.provider_model_id FROM models m JOIN providers p ON p.id = m.provider_id
           JOIN model_price_candidates c ON c.model_id = m.id
           WHERE p.slug = 'groq' AND m.price_source = 'list_api' AND m.price_input_usd_per_mtok IS NOT NULL
           ORDER BY m.provider_model_id LIMIT 1"""
    ).fetchone()[0]
    api_price = stored(catalog, "groq", api_model)
    assert api_price[0] == "list_api", "a reference never replaces the provider's own price"
    assert stored(catalog, "openai", "gpt-4o")[:3] == ("genai-prices", D("2.5"), D("10"))

    catalog.execute(
        """INSERT INTO operator_prices (provider_slug, provider_model_id, price_input_usd_per_mtok,
                                        price_output_usd_per_mtok, note, updated_by)
           VALUES ('groq', %s, 0.05, 0.08, 'negotiated', 'ops'), ('openai', 'gpt-4o', 2, 8, 'negotiated', 'ops')""",
        (api_model,),
    )
    mark = last_change(catalog)
    assert run_dag("gatewayz_sync_prices").state == "success"
    assert stored(catalog, "groq", api_model)[:3] == ("operator", D("0.05"), D("0.08"))
    assert stored(catalog, "openai", "gpt-4o")[:3] == ("operator", D("2"), D("8"))
    operator_changes = changes_since(catalog, mark)
    assert {(m, f, s) for m, _, f, _, _, s in operator_changes} >= {
        (api_model, "price_input_usd_per_mtok", "operator"), ("gpt-4o", "price_source", "operator")}
    removed = [(f, old, new) for _, kind, f, old, new, _ in operator_changes if kind == "field_removed"]
    assert {kind for _, kind, *_ in operator_changes} <= {"price_changed", "field_removed"}
    assert removed and all((f.startswith("price_") or is_price_slug(f)) and old is not None and new is None
                           for f, old, new in removed), \
        "a price the operator's row does not give is removed (a flat column or a price row's slug), with its old value"
    assert ("cache_read/token;batch", "1.25", None) in removed, "a price row without a flat column too"

    # the provider moves its list price: the sync keeps the operator price and reports no change for it
    records = copy.deepcopy(replay.catalog("groq").records)
    record = next(r for r in records if r["id"] == api_model)
    record["pricing"]["prompt"] = str(D(record["pricing"]["prompt"]) * 2)
    replay.set_records("groq", records)
    mark = last_change(catalog)
    assert run_dag("gatewayz_sync_models", {"providers": ["groq"]}).state == "success"
    assert stored(catalog, "groq", api_model)[:3] == ("operator", D("0.05"), D("0.08"))
    assert [c for c in changes_since(catalog, mark) if c[1] == "price_changed"] == []

    # the operator withdraws the price: the provider's current list price comes back, the reference elsewhere
    catalog.execute("DELETE FROM operator_prices")
    assert run_dag("gatewayz_sync_prices").state == "success"
    restored = stored(catalog, "groq", api_model)
    assert restored[:2] == ("list_api", api_price[1] * 2) and restored[2] == api_price[2]
    assert stored(catalog, "openai", "gpt-4o")[:3] == ("genai-prices", D("2.5"), D("10"))


def test_a_refreshed_snapshot_that_changes_one_price_rewrites_one_candidate_and_one_model(synced, run_dag, replay):
    catalog = synced("fireworks")
    model_id, candidate_id, source_id = catalog.execute(
        """SELECT m.provider_model_id, c.id, c.source_model_id FROM models m
           JOIN model_price_candidates c ON c.model_id = m.id AND c.source = 'litellm'
           WHERE m.price_source = 'litellm' AND m.price_confidence = 'single'
             AND (SELECT count(*) FROM model_price_candidates o WHERE o.model_id = m.id) = 1
           ORDER BY m.provider_model_id LIMIT 1"""
    ).fetchone()
    before_price = stored(catalog, "fireworks", model_id)
    source = REFERENCE_SOURCES["litellm"]
    document = json.loads(source.snapshot_path.read_bytes(), parse_float=Decimal)
    document[source_id]["output_cost_per_token"] = document[source_id]["output_cost_per_token"] * D("1.5")
    replay.references.set_document("litellm", dumps_json(document))

    candidates_before, models_before = versions(catalog, "model_price_candidates"), versions(catalog, "models")
    mark = last_change(catalog)
    assert run_dag("gatewayz_sync_prices").state == "success"
    candidates_after, models_after = versions(catalog, "model_price_candidates"), versions(catalog, "models")
    assert [k for k in candidates_before if candidates_before[k] != candidates_after[k]] == [candidate_id]
    assert len([k for k in models_before if models_before[k] != models_after[k]]) == 1
    new_output = canonical(before_price[2] * D("1.5"))
    assert changes_since(catalog, mark) == [
        (model_id, "price_changed", "price_output_usd_per_mtok", str(before_price[2]), str(new_output), "litellm")]
    versions_now = dict(catalog.execute("SELECT id, source_version FROM model_price_candidates WHERE source = 'litellm'"))
    assert versions_now[candidate_id].startswith("sha256:") and " fetched " in versions_now[candidate_id]
    assert {v for k, v in versions_now.items() if k != candidate_id} == {source.snapshot_version}
    run = catalog.execute(
        "SELECT inserted, updated, deleted FROM reference_runs WHERE source = 'litellm' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert run == (0, 1, 0)


def test_a_reference_host_that_is_down_fails_its_task_alone(synced, run_dag, replay):
    catalog = synced("fireworks", "cerebras")
    litellm_before = dict(catalog.execute(
        "SELECT id, xmin::text FROM model_price_candidates WHERE source = 'litellm'").fetchall())
    prices_before = catalog.execute(
        "SELECT id, price_source, price_input_usd_per_mtok FROM models ORDER BY id").fetchall()
    assert litellm_before

    replay.add_fault("litellm", status=503, times=-1)
    run = run_dag("gatewayz_sync_prices")
    assert run.state == "failed"
    states = task_states(run)
    refresh = {i: states[("refresh_source", i)] for i in range(3)}
    assert sorted(refresh.values()) == ["failed", "success", "success"]
    assert states[("resolve_prices", -1)] == "failed", "it resolves with what it has, then fails the run"
    status, error = catalog.execute(
        "SELECT status, error FROM reference_runs WHERE source = 'litellm' ORDER BY id DESC LIMIT 1").fetchone()
    assert status == "failed"
    assert error.startswith("reference source litellm could not be read: HTTP 503 from litellm: injected HTTP 503")
    assert "stay in place" in error
    assert dict(catalog.execute(
        "SELECT id, xmin::text FROM model_price_candidates WHERE source = 'litellm'").fetchall()) == litellm_before
    assert catalog.execute(
        "SELECT id, price_source, price_input_usd_per_mtok FROM models ORDER BY id").fetchall() == prices_before

    models = run_dag("gatewayz_sync_models", {"providers": ["fireworks", "cerebras"]})
    assert models.state == "success", "the model sync does not depend on a reference host"


def test_bundled_mode_reads_the_snapshots_without_a_request(synced, run_dag, replay, monkeypatch):
    catalog = synced("cerebras")
    catalog.execute("DELETE FROM model_price_candidates")
    replay.clear_requests()
    monkeypatch.setenv("GATEWAYZ_REFERENCE_PRICES", "bundled")
    monkeypatch.delenv("GATEWAYZ_BASE_URL_OVERRIDE")
    assert run_dag("gatewayz_sync_prices").state == "success"
    assert replay.requests == []
    rows = dict(catalog.execute("SELECT source, max(source_version) FROM model_price_candidates GROUP BY 1").fetchall())
    assert rows == {s.name: s.snapshot_version for s in REFERENCE_SOURCES.values() if s.listing_provider is None}
    origins = dict(catalog.execute(
        "SELECT DISTINCT ON (source) source, details->>'origin' FROM reference_runs ORDER BY source, id DESC").fetchall())
    assert origins == {"genai-prices": "package", "models.dev": "bundled snapshot", "litellm": "bundled snapshot",
                       "openrouter": "the catalog"}


def test_migration_0004_backfills_list_api_sources_and_downgrades_cleanly():


    from include.gatewayz_sync.store import schema

    with catalog_at("0003") as scratch:
        connection = scratch.connection
        connection.execute(
            """INSERT INTO providers (slug, name, color, priority, site_url, has_list_api, registry_fingerprint)
               VALUES ('groq', 'Groq', 'bg-orange-500', 'fast', 'https://groq.com', true, 'x')""")
        connection.execute(
            """INSERT INTO models (provider_id, provider_model_id, name, raw, content_hash, price_input_usd_per_mtok)
               SELECT id, m, m, '{}', 'h', p FROM providers,
                      (VALUES ('priced', 0.59), ('unpriced', NULL)) AS v(m, p)""")
        assert scratch.migrate() == ("0003", schema.head_revision())
        assert dict(connection.execute("SELECT provider_model_id, price_source FROM models").fetchall()) == {
            "priced": "list_api", "unpriced": None}
        assert connection.execute("SELECT DISTINCT lifecycle FROM models_current").fetchall() == [("active",)]
        scratch.downgrade("0003")
        assert connection.execute("SELECT count(*) FROM models_current").fetchone()[0] == 2
        assert scratch.migrate()[1] == schema.head_revision()


def test_migration_0009_backfills_price_rows_unknowns_a_listed_zero_and_downgrades_cleanly():


    from include.gatewayz_sync.store import schema

    with catalog_at("0008") as scratch:
        connection = scratch.connection
        connection.execute(
            """INSERT INTO providers (slug, name, color, priority, site_url, has_list_api, registry_fingerprint,
                                      listing_digest)
               VALUES ('together', 'Together', 'bg-indigo-500', 'fast', 'https://together.ai', true, 'x', 'd')""")
        connection.execute(
            """INSERT INTO models (provider_id, provider_model_id, name, raw, content_hash, price_source, is_free,
                                   price_input_usd_per_mtok, price_output_usd_per_mtok,
                                   price_long_context_threshold_tokens, price_input_long_context_usd_per_mtok)
               SELECT id, m, m, '{}', 'h', s, f, i, o, t, l FROM providers, (VALUES
                   ('priced', 'list_api', NULL::boolean, 0.59, 0.79, 200000, 1.18),
                   ('dedicated', 'list_api', NULL, 0, 0, NULL, NULL),
                   ('embedding', 'litellm', NULL, 0.1, 0, NULL, NULL),
                   ('model-Free', 'list_api', true, 0, 0, NULL, NULL)) AS v(m, s, f, i, o, t, l)""")
        assert scratch.migrate() == ("0008", schema.head_revision())
        models = {row[0]: row[1:] for row in connection.execute(
            """SELECT provider_model_id, price_source, is_free, price_input_usd_per_mtok, price_output_usd_per_mtok,
                      price_unknown_reason FROM models_current""").fetchall()}
        assert models["priced"][:4] == ("list_api", False, D("0.59"), D("0.79"))
        assert models["dedicated"][:4] == (None, None, None, None) and "listed 0" in models["dedicated"][4]
        assert models["embedding"][:4] == ("litellm", False, D("0.1"), None), "a zero output is no price"
        assert models["model-Free"][:4] == ("list_api", True, D(0), D(0)), "an explicit free variant keeps its 0"
        rows = dict(connection.execute(
            """SELECT provider_model_id || ' ' || meter || ' ' || above_input_tokens, amount_usd
               FROM model_prices_current""").fetchall())
        assert rows == {"priced input 0": D("0.59"), "priced output 0": D("0.79"), "priced input 200000": D("1.18"),
                        "embedding input 0": D("0.1"), "model-Free input 0": D(0), "model-Free output 0": D(0)}
        assert connection.execute("SELECT listing_digest FROM providers").fetchone()[0] is None, "re-normalized"
        scratch.downgrade("0008")
        assert connection.execute("SELECT count(*) FROM models_current").fetchone()[0] == 4
        assert scratch.migrate()[1] == schema.head_revision()


def _rows(catalog, slug: str, model_id: str) -> dict:
    return {(meter, unit, above, tier, window): (amount, source) for meter, unit, above, tier, window, amount, source
            in catalog.execute(
                """SELECT meter, unit, above_input_tokens, service_tier, time_window, amount_usd, source
                   FROM model_prices_current WHERE provider_slug = %s AND provider_model_id = %s""",
                (slug, model_id)).fetchall()}


def test_an_operator_price_row_sets_any_meter_unit_and_condition_and_no_sync_overwrites_it(synced, run_dag, replay):
    """Issue 19, gap 4: `operator_price_rows` holds a negotiated per-character, per-minute, tiered or peak-hour rate
    (the flat `operator_prices` columns cannot); it wins over the list API and the references, rows beside the
    flat columns of the same model (a row wins over the column that stands for its key), and a model sync that
    moves the list price changes nothing of it."""
    catalog = synced("groq", "openai")
    orpheus = "canopylabs/orpheus-v1-english"
    assert _rows(catalog, "groq", orpheus)[("input", "character", 0, "standard", "")] == (D(22), "list_api")
    [readme_rows] = blocks("Reference prices", "sql")  # orpheus per character, gpt-4o's 128K tier and night rate
    catalog.execute(readme_rows)
    catalog.execute(
        """INSERT INTO operator_price_rows (provider_slug, provider_model_id, meter, unit, amount_usd, updated_by)
           VALUES ('openai', 'gpt-4o', 'output', 'token', 7, 'ops'),
                  ('openai', 'whisper-1', 'input_audio', 'minute', 0.004, 'ops')""")
    catalog.execute(
        """INSERT INTO operator_prices (provider_slug, provider_model_id, price_input_usd_per_mtok,
                                        price_output_usd_per_mtok, note, updated_by)
           VALUES ('openai', 'gpt-4o', 2, 8, 'contract', 'ops')""")
    mark = last_change(catalog)
    assert run_dag("gatewayz_sync_prices").state == "success"
    assert _rows(catalog, "groq", orpheus) == {("input", "character", 0, "standard", ""): (D(18), "operator")}
    assert stored(catalog, "groq", orpheus)[:2] == ("operator", None), "never a per-character price per token"
    assert _rows(catalog, "openai", "gpt-4o") == {
        ("input", "token", 0, "standard", ""): (D(2), "operator"),
        ("output", "token", 0, "standard", ""): (D(7), "operator"),
        ("input", "token", 128000, "standard", ""): (D(4), "operator"),
        ("input", "token", 0, "standard", "22:00-06:00"): (D(1), "operator"),
    }, "the flat columns and the rows together; the row's output 7 over the column's 8"
    gpt = catalog.execute(
        """SELECT price_output_usd_per_mtok, price_long_context_threshold_tokens, price_input_long_context_usd_per_mtok,
                  price_is_variable, price_source_version FROM models_current
           WHERE provider_slug = 'openai' AND provider_model_id = 'gpt-4o'""").fetchone()
    assert gpt[:4] == (D(7), 128000, D(4), True) and gpt[4].startswith("operator_prices (ops, ")
    assert _rows(catalog, "openai", "whisper-1") == {("input_audio", "minute", 0, "standard", ""): (D("0.004"), "operator")}
    assert (orpheus, "price_changed", "input/character", "22", "18", "operator") in changes_since(catalog, mark)

    # the provider moves its list price: the model sync keeps the operator's row and reports no change for it
    records = copy.deepcopy(replay.catalog("groq").records)
    record = next(r for r in records if r["id"] == orpheus)
    record["pricing"]["prompt"] = "0.000044"
    replay.set_records("groq", records)
    mark = last_change(catalog)
    assert run_dag("gatewayz_sync_models", {"providers": ["groq"]}).state == "success"
    assert run_dag("gatewayz_sync_prices").state == "success"
    assert _rows(catalog, "groq", orpheus) == {("input", "character", 0, "standard", ""): (D(18), "operator")}
    assert [c for c in changes_since(catalog, mark) if c[0] == orpheus] == []

    # a vocabulary the catalog does not know is refused when it is typed, not when the price run reads it
    import psycopg

    for bad in ("('groq', 'x', 'inptu', 'token', '', 1)", "('groq', 'x', 'input', 'tokens', '', 1)",
                "('groq', 'x', 'input', 'token', '25:00-01:00', 1)", "('groq', 'x', 'input', 'token', '', -1)"):
        with pytest.raises(psycopg.errors.CheckViolation):
            catalog.execute("INSERT INTO operator_price_rows (provider_slug, provider_model_id, meter, unit, time_window,"
                            f" amount_usd) VALUES {bad}")

    # withdrawn: the provider's current list price comes back
    catalog.execute("DELETE FROM operator_price_rows WHERE provider_slug = 'groq'")
    assert run_dag("gatewayz_sync_prices").state == "success"
    assert _rows(catalog, "groq", orpheus)[("input", "character", 0, "standard", "")] == (D(44), "list_api")


def test_the_order_sources_were_refreshed_in_never_rewrites_a_decision(synced, run_dag):
    """Reference refreshes finish in any order; the candidates' row ids follow it, the decisions must not."""
    catalog = synced("mistral", "google-vertex", "openai", "alibaba")
    models_before = versions(catalog, "models")
    catalog.execute("UPDATE model_price_candidates SET id = -id")
    assert run_dag("gatewayz_sync_prices").state == "success"
    changed = [k for k in models_before if versions(catalog, "models")[k] != models_before[k]]
    assert changed == []
