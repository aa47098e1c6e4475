"""The provider-sync DAG, run with `dag.test()` against a fresh catalog database on the local PostgreSQL."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from include.gatewayz_sync.sources import registry
from include.gatewayz_sync.store import schema
from tests.airflow_helpers import xcom_values
from tests.conftest import catalog_connection


def providers(catalog) -> dict[str, tuple]:
    rows = catalog.execute(
        "SELECT slug, name, color, priority, site_url, is_active, disabled_by_operator, registry_fingerprint, updated_at "
        "FROM providers"
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_first_run_inserts_every_registry_provider_and_the_second_changes_nothing(catalog, run_dag):
    first = run_dag("gatewayz_sync_providers")
    assert first.state == "success"
    result = xcom_values(first, "upsert_providers")[-1]
    assert result["total"] == len(registry.GATEWAY_REGISTRY) == 31
    assert len(result["added"]) == 31 and not result["updated"] and not result["deactivated"]
    before = providers(catalog)
    assert before["openai"][:5] == ("OpenAI", "bg-emerald-600", "fast", "https://openai.com", True)
    assert before["groq"][0] == "Groq"
    icons = dict(catalog.execute("SELECT slug, icon FROM providers WHERE icon IS NOT NULL").fetchall())
    assert icons == {"groq": "zap"}
    aliases = dict(catalog.execute("SELECT slug, aliases FROM providers WHERE aliases <> '{}'").fetchall())
    assert aliases == {"google-vertex": ["google"], "huggingface": ["hug"]}

    second = run_dag("gatewayz_sync_providers")
    assert second.state == "success"
    result = xcom_values(second, "upsert_providers")[-1]
    assert result == {"total": 31, "added": [], "updated": [], "deactivated": [], "unchanged": 31, "models_deactivated": 0}
    assert providers(catalog) == before


def _seed_models(catalog, slug: str, count: int) -> None:
    catalog.execute(
        """INSERT INTO models (provider_id, provider_model_id, name, raw, content_hash)
           SELECT p.id, 'model-' || n, 'Model ' || n, '{}', 'hash-' || n FROM providers p, generate_series(1, %s) n
           WHERE p.slug = %s""",
        (count, slug),
    )


def test_a_provider_removed_from_the_registry_is_deactivated_with_its_models(catalog, run_dag, monkeypatch):
    assert run_dag("gatewayz_sync_providers").state == "success"
    _seed_models(catalog, "nebius", 3)
    reduced = {slug: p for slug, p in registry.GATEWAY_REGISTRY.items() if slug != "nebius"}
    monkeypatch.setattr(registry, "GATEWAY_REGISTRY", MappingProxyType(reduced))

    run = run_dag("gatewayz_sync_providers")
    assert run.state == "success"
    result = xcom_values(run, "upsert_providers")[-1]
    assert result["deactivated"] == ["nebius"] and result["models_deactivated"] == 3
    row = catalog.execute("SELECT is_active, deactivated_at IS NOT NULL FROM providers WHERE slug = 'nebius'").fetchone()
    assert row == (False, True)
    models = catalog.execute(
        "SELECT count(*) FILTER (WHERE m.is_active), count(*) FROM models m JOIN providers p ON p.id = m.provider_id "
        "WHERE p.slug = 'nebius'"
    ).fetchone()
    assert models == (0, 3), "models are deactivated, never deleted"
    removed = catalog.execute("SELECT count(*) FROM model_changes WHERE kind = 'removed'").fetchone()[0]
    assert removed == 3

    monkeypatch.undo()
    back = run_dag("gatewayz_sync_providers")
    assert xcom_values(back, "upsert_providers")[-1]["updated"] == ["nebius"]
    assert catalog.execute("SELECT is_active FROM providers WHERE slug = 'nebius'").fetchone() == (True,)


def test_an_operator_disabled_provider_stays_disabled(catalog, run_dag, monkeypatch):
    assert run_dag("gatewayz_sync_providers").state == "success"
    catalog.execute(
        "UPDATE providers SET disabled_by_operator = true, disabled_reason = 'billing dispute' WHERE slug = 'together'"
    )
    changed = dict(registry.GATEWAY_REGISTRY)
    import dataclasses

    changed["together"] = dataclasses.replace(changed["together"], name="Together AI")
    monkeypatch.setattr(registry, "GATEWAY_REGISTRY", MappingProxyType(changed))
    run = run_dag("gatewayz_sync_providers")
    assert xcom_values(run, "upsert_providers")[-1]["updated"] == ["together"]
    row = catalog.execute(
        "SELECT name, is_active, disabled_by_operator, disabled_reason FROM providers WHERE slug = 'together'"
    ).fetchone()
    assert row == ("Together AI", True, True, "billing dispute")


def test_a_hand_edited_registry_column_is_put_back_by_the_next_provider_sync(catalog, run_dag):
    assert run_dag("gatewayz_sync_providers").state == "success"
    catalog.execute("UPDATE providers SET name = 'My OpenAI', site_url = 'https://example.test' WHERE slug = 'openai'")
    catalog.execute("UPDATE providers SET disabled_by_operator = true, disabled_reason = 'on hold' WHERE slug = 'groq'")
    untouched = providers(catalog)

    run = run_dag("gatewayz_sync_providers")
    assert xcom_values(run, "upsert_providers")[-1]["updated"] == ["openai"], "the operator's switch is no edit"
    after = providers(catalog)
    assert after["openai"][:4] == ("OpenAI", "bg-emerald-600", "fast", "https://openai.com")
    assert after["openai"][-1] > untouched["openai"][-1]
    assert {slug: row for slug, row in after.items() if slug != "openai"} == {
        slug: row for slug, row in untouched.items() if slug != "openai"}, "rows that match the code are not rewritten"
    assert catalog.execute(
        "SELECT disabled_by_operator, disabled_reason FROM providers WHERE slug = 'groq'").fetchone() == (True, "on hold")


def test_schema_migration_is_idempotent(catalog):
    revision = schema.head_revision()
    assert schema.migrate(catalog_connection) == (revision, revision)
    assert schema.current_revision(catalog_connection) == revision
    tables = {
        name
        for (name,) in catalog.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    }
    assert {"providers", "models", "sync_runs", "model_changes", "gatewayz_catalog_version", "models_current"} <= tables


def test_migrations_from_an_empty_database_under_concurrency(migrated_catalog):
    import threading

    from tests.conftest import admin_connection

    name = migrated_catalog + "_concurrent"
    with admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        import psycopg

        def connect():
            return psycopg.connect(catalog_connection().info.dsn, dbname=name)

        results: list = []
        threads = [threading.Thread(target=lambda: results.append(schema.migrate(connect))) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        head = schema.head_revision()
        assert sorted(results, key=str) == sorted([(None, head), (head, head), (head, head)], key=str)
    finally:
        with admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("slug", ["alpaca", "simplismart"])
def test_providers_without_a_list_api_are_registered_as_such(catalog, run_dag, slug):
    run_dag("gatewayz_sync_providers")
    assert catalog.execute("SELECT has_list_api FROM providers WHERE slug = %s", (slug,)).fetchone() == (False,)
