"""Full model syncs through `dag.test()` against the replay server (real HTTP) and the real PostgreSQL."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tests.airflow_helpers import rendered_map_indexes, task_states, xcom_values
from tests.test_normalize import EXPECTED_COUNTS

D = Decimal


@pytest.fixture
def providers_synced(catalog, run_dag, replay):
    assert run_dag("gatewayz_sync_providers").state == "success"
    return catalog


def model_counts(catalog) -> dict[str, int]:
    rows = catalog.execute(
        "SELECT p.slug, count(*) FROM models m JOIN providers p ON p.id = m.provider_id WHERE m.is_active GROUP BY p.slug"
    ).fetchall()
    return dict(rows)


def row_versions(catalog) -> dict[tuple[str, str], str]:
    """xmin changes whenever PostgreSQL rewrites a row, so equal maps prove nothing was written."""
    rows = catalog.execute(
        "SELECT p.slug, m.provider_model_id, m.xmin::text FROM models m JOIN providers p ON p.id = m.provider_id"
    ).fetchall()
    return {(slug, model_id): xmin for slug, model_id, xmin in rows}


def price(catalog, slug: str, model_id: str, column: str = "price_input_usd_per_mtok"):
    return catalog.execute(
        f"SELECT {column} FROM models m JOIN providers p ON p.id = m.provider_id "
        "WHERE p.slug = %s AND m.provider_model_id = %s",
        (slug, model_id),
    ).fetchone()[0]


def runs(catalog, dag_run) -> dict[str, tuple]:
    rows = catalog.execute(
        """SELECT DISTINCT ON (provider_slug) provider_slug, status, fetched, inserted, updated, unchanged,
                  deactivated, error
           FROM sync_runs WHERE dag_run_id = %s ORDER BY provider_slug, id DESC""",
        (dag_run.run_id,),
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def run_record(catalog, dag_run) -> tuple:
    return catalog.execute("SELECT status, ok, failed, skipped, dry_run FROM model_sync_runs WHERE dag_run_id = %s",
                           (dag_run.run_id,)).fetchone()


def test_first_sync_loads_every_provider_with_exact_counts_and_prices(providers_synced, run_dag, replay):
    catalog = providers_synced
    run = run_dag("gatewayz_sync_models")
    assert run.state == "success"
    assert model_counts(catalog) == EXPECTED_COUNTS
    assert price(catalog, "openrouter", "qwen/qwen3.8-27b") == D("0.45")
    assert price(catalog, "openrouter", "qwen/qwen3.8-27b", "price_output_usd_per_mtok") == D("3.2")
    assert price(catalog, "together", "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo") == D("0.88")
    assert price(catalog, "novita", "meta-llama/llama-3.3-70b-instruct") == D("0.39")
    assert price(catalog, "xai", "grok-3") == D("3")
    assert price(catalog, "near", "zai-org/GLM-5.1-FP8") == D("0.85")
    assert price(catalog, "aihubmix", "gpt-5", "price_output_usd_per_mtok") == D("10")
    assert price(catalog, "deepinfra", "Qwen/Qwen3.5-27B", "price_output_usd_per_mtok") == D("2.6")
    variable = catalog.execute(
        "SELECT price_input_usd_per_mtok, price_is_variable FROM models WHERE provider_model_id = 'openrouter/auto-beta'"
    ).fetchone()
    assert variable == (None, True)

    outcome = runs(catalog, run)
    assert outcome["alpaca"][0] == "skipped" and outcome["alpaca"][-1] == "no public model list API"
    assert outcome["simplismart"][0] == "skipped"
    assert outcome["openrouter"][:4] == ("success", 225, 225, 0)
    pages = dict(catalog.execute("SELECT provider_slug, pages FROM sync_runs WHERE status = 'success'").fetchall())
    assert pages["anthropic"] == 3 and pages["openrouter"] == 3 and pages["google-vertex"] == 3
    assert pages["cohere"] == 4 and pages["cloudflare-workers-ai"] == 4 and pages["near"] == 2

    states = task_states(run)
    assert states[("finalize", -1)] == "success"
    labels = set(rendered_map_indexes(run, "sync_provider").values())
    assert len(labels) == 29 and {"openrouter", "google-vertex"} <= labels
    assert not {"alpaca", "simplismart"} & labels, "a provider known to skip never becomes a task instance"
    no_api = "no public model list API"
    assert xcom_values(run, "list_providers", "skipped")[-1] == {"alpaca": no_api, "simplismart": no_api}
    skipped = catalog.execute(
        "SELECT provider_slug, xmin::text, provider_id IS NOT NULL FROM sync_runs WHERE dag_run_id = %s "
        "AND status = 'skipped' ORDER BY id", (run.run_id,)
    ).fetchall()
    assert [slug for slug, _, _ in skipped] == ["alpaca", "simplismart"] and all(linked for _, _, linked in skipped)
    assert len({xmin for _, xmin, _ in skipped}) == 1, "list_providers records the skips together"
    summaries = xcom_values(run, "sync_provider")
    assert all(set(s) >= {"slug", "status", "inserted"} and "models" not in s for s in summaries.values())
    final = xcom_values(run, "finalize")[-1]
    assert final == {"ok": 29, "failed": 0, "skipped": 2, "active_models": sum(EXPECTED_COUNTS.values())}
    assert run_record(catalog, run) == ("success", 29, 0, 2, False)
    added = catalog.execute("SELECT count(*) FROM model_changes WHERE kind = 'added'").fetchone()[0]
    assert added == sum(EXPECTED_COUNTS.values())
    listed = catalog.execute("SELECT count(*) FROM providers WHERE models_listed_at IS NOT NULL").fetchone()[0]
    assert listed == 29


def test_an_unchanged_second_sync_writes_no_model_rows(providers_synced, run_dag):
    catalog = providers_synced
    assert run_dag("gatewayz_sync_models").state == "success"
    before = row_versions(catalog)
    seen_before = dict(catalog.execute("SELECT provider_model_id, last_seen_at FROM models_current").fetchall())
    second = run_dag("gatewayz_sync_models")
    assert second.state == "success"
    assert row_versions(catalog) == before
    for status, _fetched, inserted, updated, _unchanged, deactivated, _ in runs(catalog, second).values():
        if status == "success":
            assert (inserted, updated, deactivated) == (0, 0, 0)
    assert catalog.execute("SELECT count(*) FROM model_changes WHERE kind <> 'added'").fetchone()[0] == 0
    seen_after = dict(catalog.execute("SELECT provider_model_id, last_seen_at FROM models_current").fetchall())
    assert all(seen_after[k] > seen_before[k] for k in seen_before), "last_seen_at moves without row writes"


def _openrouter_records(replay):
    return copy.deepcopy(replay.catalog("openrouter").records)


def test_a_changed_catalog_yields_exactly_the_expected_updates_and_changes(providers_synced, run_dag, replay):
    catalog = providers_synced
    assert run_dag("gatewayz_sync_models", {"providers": ["openrouter"]}).state == "success"
    records = _openrouter_records(replay)
    by_id = {r["id"]: r for r in records}
    by_id["qwen/qwen3.8-27b"]["pricing"]["prompt"] = "0.0000005"
    by_id["qwen/qwen3.8-27b"]["context_length"] = 300000
    by_id["qwen/qwen3.8-27b"]["top_provider"]["context_length"] = 300000
    removed = [records[10]["id"], records[11]["id"]]
    records = [r for r in records if r["id"] not in removed]
    new = copy.deepcopy(by_id["qwen/qwen3.8-27b"])
    new["id"] = "newco/brand-new-model"
    records.append(new)
    replay.set_records("openrouter", records)

    before = row_versions(catalog)
    run = run_dag("gatewayz_sync_models", {"providers": ["openrouter"]})
    assert run.state == "success"
    status, fetched, inserted, updated, unchanged, deactivated, _ = runs(catalog, run)["openrouter"]
    assert (status, fetched, inserted, updated, unchanged, deactivated) == ("success", 224, 1, 1, 222, 0)
    after = row_versions(catalog)
    rewritten = {key for key in before if before[key] != after.get(key)}
    assert rewritten == {("openrouter", "qwen/qwen3.8-27b"), *(("openrouter", m) for m in removed)}
    changes = catalog.execute(
        "SELECT kind, provider_model_id, field, old_value, new_value FROM model_changes "
        "WHERE kind <> 'added' OR provider_model_id = 'newco/brand-new-model' ORDER BY kind, field"
    ).fetchall()
    assert changes == [
        ("added", "newco/brand-new-model", None, None, None),
        ("limits_changed", "qwen/qwen3.8-27b", "context_length", "262144", "300000"),
        ("price_changed", "qwen/qwen3.8-27b", "price_input_usd_per_mtok", "0.45", "0.5"),
    ]
    missing = catalog.execute(
        "SELECT provider_model_id, missing_count, is_active FROM models WHERE provider_model_id = ANY(%s) ORDER BY 1",
        (removed,),
    ).fetchall()
    assert missing == sorted((m, 1, True) for m in removed), "one miss is not yet a removal"

    second = run_dag("gatewayz_sync_models", {"providers": ["openrouter"]})
    assert runs(catalog, second)["openrouter"][5] == 2
    gone = catalog.execute(
        "SELECT count(*) FROM models WHERE provider_model_id = ANY(%s) AND NOT is_active AND deactivated_at IS NOT NULL",
        (removed,),
    ).fetchone()[0]
    assert gone == 2
    assert catalog.execute("SELECT count(*) FROM model_changes WHERE kind = 'removed'").fetchone()[0] == 2

    replay.reset_catalogs()
    back = run_dag("gatewayz_sync_models", {"providers": ["openrouter"]})
    assert back.state == "success"
    reappeared = catalog.execute(
        "SELECT provider_model_id FROM model_changes WHERE kind = 'reappeared' ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in reappeared] == sorted(removed)
    assert price(catalog, "openrouter", "qwen/qwen3.8-27b") == D("0.45")


def test_dry_run_writes_nothing_but_dry_run_rows(providers_synced, run_dag, replay):
    catalog = providers_synced
    run_dag("gatewayz_sync_models", {"providers": ["openrouter", "groq"]})
    records = _openrouter_records(replay)
    records[0]["pricing"]["prompt"] = "0.000001"
    replay.set_records("openrouter", records[:-1])
    before = row_versions(catalog)
    changes_before = catalog.execute("SELECT count(*) FROM model_changes").fetchone()[0]
    run = run_dag("gatewayz_sync_models", {"providers": ["openrouter", "groq", "alpaca"], "dry_run": True})
    assert run.state == "success"
    assert row_versions(catalog) == before
    assert catalog.execute("SELECT count(*) FROM model_changes").fetchone()[0] == changes_before
    rows = catalog.execute(
        "SELECT provider_slug, status, updated, missed, details->'changes' FROM sync_runs WHERE dag_run_id = %s ORDER BY 1",
        (run.run_id,),
    ).fetchall()
    assert rows == [("alpaca", "skipped", 0, 0, None), ("groq", "dry_run", 0, 0, None),
                    ("openrouter", "dry_run", 1, 1, {"price_changed": 1})]
    assert run_record(catalog, run) == ("success", 2, 0, 1, True)


def test_one_failing_provider_fails_the_run_but_every_other_provider_is_loaded(providers_synced, run_dag, replay):
    catalog = providers_synced
    replay.add_fault("groq", status=503, times=-1)
    run = run_dag("gatewayz_sync_models")
    assert run.state == "failed"
    outcome = runs(catalog, run)
    assert outcome["groq"][0] == "failed"
    assert "HTTP 503 from groq" in outcome["groq"][-1] and "after 3 attempts" in outcome["groq"][-1]
    counts = model_counts(catalog)
    assert "groq" not in counts
    assert {slug: n for slug, n in counts.items()} == {s: n for s, n in EXPECTED_COUNTS.items() if s != "groq"}
    assert task_states(run)[("finalize", -1)] == "failed"
    summary = catalog.execute("SELECT status, ok, failed, skipped FROM model_sync_runs WHERE dag_run_id = %s",
                              (run.run_id,)).fetchone()
    assert summary == ("failed", 28, 1, 2)


def test_a_single_provider_run_touches_only_that_provider(providers_synced, run_dag, replay):
    catalog = providers_synced
    run = run_dag("gatewayz_sync_models", {"providers": ["anthropic"]})
    assert run.state == "success"
    assert model_counts(catalog) == {"anthropic": 10}
    assert {r.slug for r in replay.requests} == {"anthropic"}
    assert set(runs(catalog, run)) == {"anthropic"}


def test_missing_credentials_skip_the_provider_with_the_reason_and_no_task(providers_synced, run_dag, replay,
                                                                          monkeypatch):
    catalog = providers_synced
    monkeypatch.delenv("OPENAI_API_KEY")
    run = run_dag("gatewayz_sync_models", {"providers": ["openai", "groq"]})
    assert run.state == "success"
    outcome = runs(catalog, run)
    assert outcome["openai"][0] == "skipped"
    assert outcome["openai"][-1] == "no credentials (set OPENAI_API_KEY or connection gatewayz_openai)"
    assert outcome["groq"][0] == "success"
    assert rendered_map_indexes(run, "sync_provider") == {0: "groq"}
    assert task_states(run)[("sync_provider", 0)] == "success"
    assert replay.requests_for("openai") == []
    assert run_record(catalog, run) == ("success", 1, 0, 1, False)


def test_credentials_only_in_connections_are_found_before_any_provider_task(providers_synced, run_dag, replay,
                                                                            monkeypatch):
    catalog = providers_synced
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("CLOUDFLARE_ACCOUNT_ID")
    monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_OPENAI", json.dumps({"conn_type": "http", "password": "sk-in-a-connection"}))
    run = run_dag("gatewayz_sync_models", {"providers": ["openai", "cloudflare-workers-ai"]})
    assert run.state == "success"
    outcome = runs(catalog, run)
    assert outcome["openai"][0] == "success" and replay.requests_for("openai")[0].auth_present
    assert outcome["cloudflare-workers-ai"][0] == "skipped"
    assert outcome["cloudflare-workers-ai"][-1] == (
        "no account_id (set CLOUDFLARE_ACCOUNT_ID or extra 'account_id' on connection gatewayz_cloudflare_workers_ai)"
    )
    assert rendered_map_indexes(run, "sync_provider") == {0: "openai"}
    listed = {**xcom_values(run, "list_providers"), **xcom_values(run, "list_providers", "skipped")}
    assert "sk-in-a-connection" not in json.dumps(listed), "a key never reaches XCom"

    monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_CLOUDFLARE_WORKERS_AI",
                       json.dumps({"conn_type": "http", "extra": {"account_id": "test-account"}}))
    again = run_dag("gatewayz_sync_models", {"providers": ["openai", "cloudflare-workers-ai"]})
    assert again.state == "success"
    assert {slug: row[0] for slug, row in runs(catalog, again).items()} == {"openai": "success",
                                                                             "cloudflare-workers-ai": "success"}
    assert set(rendered_map_indexes(again, "sync_provider").values()) == {"openai", "cloudflare-workers-ai"}


def test_a_provider_an_operator_disabled_is_skipped_without_a_request_or_a_task(providers_synced, run_dag, replay):
    catalog = providers_synced
    catalog.execute("UPDATE providers SET disabled_by_operator = true, disabled_reason = 'paused' WHERE slug = 'groq'")
    run = run_dag("gatewayz_sync_models", {"providers": ["groq", "anthropic"]})
    assert run.state == "success"
    outcome = runs(catalog, run)
    assert (outcome["groq"][0], outcome["groq"][-1]) == ("skipped", "disabled by an operator")
    assert outcome["anthropic"][0] == "success"
    assert replay.requests_for("groq") == []
    assert rendered_map_indexes(run, "sync_provider") == {0: "anthropic"}


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_a_run_whose_providers_all_skip_succeeds_without_provider_tasks(providers_synced, run_dag, replay, dry_run):
    catalog = providers_synced
    run = run_dag("gatewayz_sync_models", {"providers": ["alpaca", "simplismart"], "dry_run": dry_run})
    assert run.state == "success"
    assert {slug: row[0] for slug, row in runs(catalog, run).items()} == {"alpaca": "skipped", "simplismart": "skipped"}
    assert [i for i in rendered_map_indexes(run, "sync_provider") if i >= 0] == []
    assert xcom_values(run, "finalize")[-1] == {"ok": 0, "failed": 0, "skipped": 2, "active_models": 0}
    assert run_record(catalog, run) == ("success", 0, 0, 2, dry_run)
    assert replay.requests == []


def test_a_connection_overrides_the_registry_endpoint_and_key(providers_synced, run_dag, replay, monkeypatch):
    monkeypatch.delenv("GATEWAYZ_BASE_URL_OVERRIDE")
    monkeypatch.delenv("MISTRAL_API_KEY")
    monkeypatch.setenv(
        "AIRFLOW_CONN_GATEWAYZ_MISTRAL",
        json.dumps({"conn_type": "http", "host": f"{replay.url}/mistral/v1", "password": "from-the-connection"}),
    )
    run = run_dag("gatewayz_sync_models", {"providers": ["mistral"]})
    assert run.state == "success"
    assert model_counts(providers_synced) == {"mistral": 55}
    assert replay.requests_for("mistral")[0].auth_present


def test_suspicious_shrink_fails_and_deactivates_nothing_unless_allowed(providers_synced, run_dag, replay):
    catalog = providers_synced
    run_dag("gatewayz_sync_models", {"providers": ["openai"]})
    before = row_versions(catalog)
    replay.set_records("openai", replay.catalog("openai").records[:60])
    run = run_dag("gatewayz_sync_models", {"providers": ["openai"]})
    assert run.state == "failed"
    error = runs(catalog, run)["openai"][-1]
    assert error.startswith("suspicious shrink: got 60 of 130 active models from openai")
    assert row_versions(catalog) == before

    allowed = run_dag("gatewayz_sync_models", {"providers": ["openai"], "allow_shrink": True})
    assert allowed.state == "success"
    assert runs(catalog, allowed)["openai"][:2] == ("success", 60)
    missed = catalog.execute("SELECT count(*) FROM models WHERE missing_count = 1 AND is_active").fetchone()[0]
    assert missed == 70


def test_bad_conf_is_refused_before_a_run_starts(dagbag):
    from airflow.sdk.exceptions import ParamValidationError

    dag = dagbag.dags["gatewayz_sync_models"]
    for conf in ({"providers": ["nope"]}, {"providers": "openai"}, {"providers": ["'; DROP TABLE models; --"]},
                 {"dry_run": "yes"}):
        with pytest.raises(ParamValidationError):
            dag.test(run_conf=conf)


def test_a_byte_identical_single_page_listing_is_confirmed_without_parsing(providers_synced, run_dag, replay):
    catalog = providers_synced
    conf = {"providers": ["openai", "openrouter"]}
    run_dag("gatewayz_sync_models", conf)
    before = row_versions(catalog)
    again = run_dag("gatewayz_sync_models", conf)
    assert again.state == "success"
    assert row_versions(catalog) == before
    details = dict(catalog.execute(
        "SELECT provider_slug, details->>'listing' FROM sync_runs WHERE dag_run_id = %s", (again.run_id,)
    ).fetchall())
    assert details["openai"] == "byte-identical to the last loaded listing; not re-parsed"
    assert details["openrouter"] is None, "paged listings are parsed to find their pages"
    counts = catalog.execute(
        "SELECT fetched, unchanged, inserted, updated FROM sync_runs WHERE dag_run_id = %s AND provider_slug = 'openai'",
        (again.run_id,),
    ).fetchone()
    assert counts == (130, 130, 0, 0)


def test_pending_misses_are_counted_even_when_the_listing_repeats(providers_synced, run_dag, replay):
    catalog = providers_synced
    run_dag("gatewayz_sync_models", {"providers": ["openai"]})
    replay.set_records("openai", replay.catalog("openai").records[:-3])
    first = run_dag("gatewayz_sync_models", {"providers": ["openai"]})
    assert runs(catalog, first)["openai"][:2] == ("success", 127)
    second = run_dag("gatewayz_sync_models", {"providers": ["openai"]})
    assert runs(catalog, second)["openai"][5] == 3, "the second miss deactivates, byte-identical listing or not"
    third = run_dag("gatewayz_sync_models", {"providers": ["openai"]})
    listing = catalog.execute(
        "SELECT details->>'listing' FROM sync_runs WHERE dag_run_id = %s", (third.run_id,)
    ).fetchone()[0]
    assert listing == "byte-identical to the last loaded listing; not re-parsed"


PARSE_PATH_MODULES = ("include.gatewayz_sync.catalog.normalize", "include.gatewayz_sync.store.staging",
                      "include.gatewayz_sync.store.load", "include.gatewayz_sync.store.guards")


def test_the_model_sync_imports_the_parse_path_only_for_a_listing_that_changed():
    """A provider task whose listing is unchanged, most runs' case, imports neither the normalizer, the stage nor
    the load's guards: `model_sync` imports them through `changed_listing` once a listing must be parsed."""
    probe = ("import sys\nimport include.gatewayz_sync.model_sync\n"
             f"print([m for m in {PARSE_PATH_MODULES!r} if m in sys.modules])\n"
             "import include.gatewayz_sync.changed_listing\n"
             f"print([m for m in {PARSE_PATH_MODULES!r} if m not in sys.modules])")
    output = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[1]).stdout.splitlines()
    assert output == ["[]", "[]"]

