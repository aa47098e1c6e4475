"""Every SQL query docs/operating.md documents for operators (the original guide's Monitoring and Troubleshooting
sections), run as written on a catalog synced through `dag.test()`, with what each one must return.

The catalog goes through what makes the queries differ: a removed model, a price change, and twenty hours in
which only one provider was listed again (its unchanged rows are not rewritten, so `updated_at` stays old).
"""

from __future__ import annotations

import copy

import psycopg
import pytest

from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from tests.readme import originals, titled_queries
from tests.test_normalize import EXPECTED_COUNTS

MONITORING = titled_queries("Monitoring SQL")
TROUBLESHOOTING = titled_queries("Troubleshooting")
TOTAL_MODELS = sum(EXPECTED_COUNTS.values())


def rows(catalog, sql: str) -> list[tuple]:
    return catalog.execute(sql).fetchall()


def expected_per_provider(removed: int = 0) -> dict[str, int]:
    counts = {provider.name: EXPECTED_COUNTS.get(slug, 0) for slug, provider in GATEWAY_REGISTRY.items()}
    counts["OpenRouter"] -= removed
    return counts


@pytest.fixture
def synced(catalog, run_dag, replay):
    """A full sync, then one OpenRouter model removed (two misses) and another one's input price changed."""
    assert run_dag("gatewayz_sync_providers").state == "success"
    assert run_dag("gatewayz_sync_models").state == "success"
    records = copy.deepcopy(replay.catalog("openrouter").records)
    gone = records.pop(10)
    replay.set_records("openrouter", records)
    for _ in range(2):
        assert run_dag("gatewayz_sync_models", {"providers": ["openrouter"]}).state == "success"
    repriced = next(r for r in records if r["id"] == "qwen/qwen3.8-27b")
    repriced["pricing"]["prompt"] = "0.0000005"
    replay.set_records("openrouter", records)
    assert run_dag("gatewayz_sync_models", {"providers": ["openrouter"]}).state == "success"
    return catalog, gone["id"]


def test_every_documented_query_is_tested():
    assert set(MONITORING) == {
        "Count providers", "Models per provider", "Active models per provider", "Recent model updates",
        "What changed, with old and new values", "Stale models", "Every price of one model",
        "Active models without a price, and why",
    }
    assert set(TROUBLESHOOTING) == {
        "Is it in the catalog, active, not disabled by an operator?", "Each provider's last attempt",
        "Recent failures",
    }


def test_monitoring_queries_on_a_synced_catalog(synced, run_dag):
    catalog, removed_id = synced
    assert rows(catalog, MONITORING["Count providers"]) == [(31,)]

    per_provider = rows(catalog, MONITORING["Models per provider"])
    assert dict(per_provider) == expected_per_provider(removed=0), "the verbatim query counts removed models too"
    assert [count for _, count in per_provider] == sorted((count for _, count in per_provider), reverse=True)
    active = rows(catalog, MONITORING["Active models per provider"])
    assert dict(active) == expected_per_provider(removed=1)

    recent = rows(catalog, MONITORING["Recent model updates"])
    assert len(recent) == 10
    repriced_name = catalog.execute("SELECT name FROM models WHERE provider_model_id = 'qwen/qwen3.8-27b'").fetchone()[0]
    assert recent[0][0] == repriced_name, "the model changed last comes first"
    removed_name = catalog.execute("SELECT name FROM models WHERE provider_model_id = %s", (removed_id,)).fetchone()[0]
    assert recent[1][0] == removed_name, "a removal changes the row too"
    (original_recent,) = originals(MONITORING["Recent model updates"])
    with pytest.raises(psycopg.errors.UndefinedColumn, match="model_name"):
        catalog.execute(original_recent)

    changes = rows(catalog, MONITORING["What changed, with old and new values"])
    assert [(c[1], c[2], c[3], c[4], c[5], c[6]) for c in changes[:2]] == [
        ("openrouter", "qwen/qwen3.8-27b", "price_changed", "price_input_usd_per_mtok", "0.45", "0.5"),
        ("openrouter", removed_id, "removed", "missing_count", "1", "2"),
    ]

    assert rows(catalog, MONITORING["Stale models"]) == [], "nothing is stale right after a sync"

    prices = rows(catalog, MONITORING["Every price of one model"])
    assert [(meter, str(amount), per_units, unit, source) for meter, amount, per_units, unit, *_, source in prices] == [
        ("cache_read", "0.05", 1000000, "token", "list_api"), ("input", "0.5", 1000000, "token", "list_api"),
        ("output", "3.2", 1000000, "token", "list_api")]
    unpriced = rows(catalog, MONITORING["Active models without a price, and why"])
    assert unpriced and all(reason for *_, reason in unpriced), "every unpriced active model says why"
    assert ("together", "Qwen/Qwen2-72B", "chat") in {row[:3] for row in unpriced}


def test_stale_models_are_the_ones_not_seen_for_twelve_hours_not_the_unchanged_ones(synced, run_dag):
    catalog, _ = synced
    catalog.execute(
        "UPDATE models SET updated_at = updated_at - interval '20 hours', last_seen_at = last_seen_at - interval "
        "'20 hours', created_at = created_at - interval '20 hours', first_seen_at = first_seen_at - interval '20 hours'"
    )
    catalog.execute("UPDATE providers SET models_listed_at = models_listed_at - interval '20 hours'")
    assert run_dag("gatewayz_sync_models", {"providers": ["groq"]}).state == "success"
    groq = EXPECTED_COUNTS["groq"]
    assert catalog.execute(
        "SELECT count(*) FROM models m JOIN providers p ON p.id = m.provider_id "
        "WHERE p.slug = 'groq' AND m.updated_at > now() - interval '1 hour'"
    ).fetchone()[0] == 0, "groq's unchanged rows were not rewritten"

    stale = rows(catalog, MONITORING["Stale models"])
    assert len(stale) == TOTAL_MODELS - 1 - groq
    assert {slug for slug, _, _ in stale} == set(EXPECTED_COUNTS) - {"groq"}
    (original_stale,) = originals(MONITORING["Stale models"])
    verbatim = rows(catalog, original_stale.replace("m.model_name", "m.name"))
    assert len(verbatim) == TOTAL_MODELS, "the original query calls every unchanged model stale, groq's too"


def test_troubleshooting_queries(synced, run_dag, replay):
    catalog, _ = synced
    assert rows(catalog, TROUBLESHOOTING["Is it in the catalog, active, not disabled by an operator?"]) == [
        ("groq", True, False, None)
    ]
    replay.add_fault("groq", auth_error=True, times=-1)
    assert run_dag("gatewayz_sync_models", {"providers": ["groq"]}).state == "failed"

    last = {row[0]: row for row in rows(catalog, TROUBLESHOOTING["Each provider's last attempt"])}
    assert set(last) == set(GATEWAY_REGISTRY)
    assert last["groq"][1] == "failed" and last["groq"][3].startswith("authentication failed for groq: HTTP 401")
    assert last["openrouter"][1] == "success" and last["openrouter"][3] is None
    assert last["alpaca"][1] == "skipped"

    failures = rows(catalog, TROUBLESHOOTING["Recent failures"])
    assert [(slug, error.split(":")[0]) for _, slug, error in failures] == [("groq", "authentication failed for groq")]
