"""The model sync's plan: which providers get a task and which skip before any task starts, and why; and the
catalog's side of it (its reasons, the skipped rows in one statement) on the real PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from airflow.sdk import Connection

from include.gatewayz_sync.sources.endpoints import configured_key
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.store.providers import catalog_skip_reasons, sync_registry
from include.gatewayz_sync.store.runs import RunInfo, last_sync_seconds, record_skipped_runs
from include.gatewayz_sync.sync_plan import longest_first, plan_sync

NO_OPENAI_KEY = "no credentials (set OPENAI_API_KEY or connection gatewayz_openai)"
NO_ACCOUNT = "no account_id (set CLOUDFLARE_ACCOUNT_ID or extra 'account_id' on connection gatewayz_cloudflare_workers_ai)"
KEYS = {"OPENAI_API_KEY": "sk-env", "GROQ_API_KEY": "gsk-env", "CLOUDFLARE_API_TOKEN": "cf-env",
        "CLOUDFLARE_ACCOUNT_ID": "acct"}


class Lookups:
    """Airflow's connection lookup as the plan sees it: answers from a dict, and counts who was asked."""

    def __init__(self, connections: dict[str, Connection] | None = None, error: Exception | None = None):
        self.connections, self.error, self.asked = connections or {}, error, []

    def __call__(self, provider):
        self.asked.append(provider.slug)
        if self.error is not None:
            raise self.error
        return self.connections.get(provider.connection_id)


def test_keys_in_the_environment_need_no_connection_lookup():
    lookups = Lookups()
    plan = plan_sync(["openai", "alpaca", "groq", "cloudflare-workers-ai"], {}, lookups, KEYS)
    assert plan.fetch == ["openai", "groq", "cloudflare-workers-ai"]
    assert plan.skipped == {"alpaca": "no public model list API"}
    assert plan.providers == ["openai", "groq", "cloudflare-workers-ai", "alpaca"]
    assert lookups.asked == [], "every lookup is a round trip to Airflow before any provider starts"


def test_a_missing_key_or_account_id_is_looked_up_in_the_connection_as_the_task_would():
    env = {name: value for name, value in KEYS.items() if name not in ("OPENAI_API_KEY", "CLOUDFLARE_ACCOUNT_ID")}
    nothing = Lookups()
    plan = plan_sync(["openai", "cloudflare-workers-ai", "groq"], {}, nothing, env)
    assert plan.fetch == ["groq"]
    assert plan.skipped == {"openai": NO_OPENAI_KEY, "cloudflare-workers-ai": NO_ACCOUNT}
    assert nothing.asked == ["openai", "cloudflare-workers-ai"]

    connections = Lookups({
        "gatewayz_openai": Connection(conn_id="gatewayz_openai", conn_type="http", password="sk-conn"),
        "gatewayz_cloudflare_workers_ai": Connection(conn_id="gatewayz_cloudflare_workers_ai", conn_type="http",
                                                     extra='{"account_id": "acct"}'),
    })
    assert plan_sync(["openai", "cloudflare-workers-ai"], {}, connections, env).fetch == ["openai",
                                                                                        "cloudflare-workers-ai"]
    blank_password = Connection(conn_id="gatewayz_openai", conn_type="http", password="  ")
    assert plan_sync(["openai"], {}, Lookups({"gatewayz_openai": blank_password}), env).skipped == {
        "openai": NO_OPENAI_KEY}
    assert configured_key(GATEWAY_REGISTRY["openai"], blank_password, KEYS) == "sk-env", (
        "a blank password does not hide the env var's key, so the plan may skip the lookup when the env has one")


def test_a_failing_lookup_leaves_the_provider_to_its_task_and_logs_no_connection_text(caplog):
    secret = "postgres://user:sk-leaked@host"
    lookups = Lookups(error=ValueError(f"could not parse {secret}"))
    with caplog.at_level(logging.WARNING):
        plan = plan_sync(["openai"], {}, lookups, {})
    assert plan.fetch == ["openai"] and plan.skipped == {}
    assert "gatewayz_openai (ValueError); the openai task decides" in caplog.text
    assert "sk-leaked" not in caplog.text


def test_the_catalog_holds_back_disabled_deactivated_and_unknown_providers_after_credentials():
    held_back = {"groq": "disabled by an operator", "openai": "disabled by an operator"}
    plan = plan_sync(["groq", "openai", "anthropic", "not-registered"], held_back, Lookups(),
                     {"GROQ_API_KEY": "k", "ANTHROPIC_API_KEY": "k"})
    assert plan.fetch == ["anthropic", "not-registered"], "an unknown slug is its task's to name and fail"
    assert plan.skipped == {"groq": "disabled by an operator", "openai": NO_OPENAI_KEY}


def test_catalog_reasons_and_the_skipped_rows_in_one_statement(catalog):
    sync_registry(catalog, [GATEWAY_REGISTRY[slug] for slug in ("groq", "openai", "anthropic")])
    catalog.execute("UPDATE providers SET disabled_by_operator = true WHERE slug = 'groq'")
    catalog.execute("UPDATE providers SET is_active = false WHERE slug = 'openai'")
    reasons = catalog_skip_reasons(catalog, ["groq", "openai", "anthropic", "alpaca"])
    assert reasons == {"groq": "disabled by an operator", "openai": "no longer in the registry (deactivated)",
                       "alpaca": "not in the catalog yet (run gatewayz_sync_providers)"}

    run = RunInfo("gatewayz_sync_models", "manual__plan", 1, datetime(2026, 11, 28, 12, tzinfo=UTC))
    record_skipped_runs(catalog, run, reasons)
    rows = catalog.execute(
        """SELECT s.provider_slug, s.status, s.error, s.provider_id = p.id, s.try_number, s.fetched, s.details,
                  s.finished_at IS NOT NULL, s.xmin::text
           FROM sync_runs s LEFT JOIN providers p ON p.slug = s.provider_slug WHERE s.dag_run_id = 'manual__plan'
           ORDER BY s.id"""
    ).fetchall()
    assert [row[:8] for row in rows] == [
        ("groq", "skipped", "disabled by an operator", True, 1, 0, None, True),
        ("openai", "skipped", "no longer in the registry (deactivated)", True, 1, 0, None, True),
        ("alpaca", "skipped", "not in the catalog yet (run gatewayz_sync_providers)", None, 1, 0, None, True),
    ]
    assert len({row[-1] for row in rows}) == 1, "one statement, one transaction"
    record_skipped_runs(catalog, run, {})
    assert catalog.execute("SELECT count(*) FROM sync_runs").fetchone()[0] == 3


def test_providers_are_fetched_longest_first_and_those_never_timed_before_all():
    last = {"groq": 2.0, "openai": 9.5, "anthropic": 2.0}
    assert longest_first(["anthropic", "groq", "mistral", "openai", "xai"], last) == [
        "mistral", "xai", "openai", "anthropic", "groq"], "ties keep the given order"
    assert longest_first(["groq", "openai"], {}) == ["groq", "openai"], "a first run keeps the catalog's order"
    plan = plan_sync(["anthropic", "groq", "openai"], {}, Lookups(), {**KEYS, "ANTHROPIC_API_KEY": "k"},
                     last_seconds=last)
    assert plan.fetch == ["openai", "anthropic", "groq"]


def test_the_last_finished_sync_of_each_provider_times_it(catalog):
    sync_registry(catalog, [GATEWAY_REGISTRY[slug] for slug in ("groq", "openai", "anthropic", "mistral")])
    start = datetime(2026, 11, 28, 12, tzinfo=UTC)
    attempts = [  # slug, status, seconds (None: still running), in the order they were recorded
        ("openai", "success", 30.0), ("openai", "failed", 4.5),
        ("groq", "success", 1.25), ("groq", "running", None), ("groq", "skipped", 0.0),
        ("anthropic", "dry_run", 7.0), ("mistral", "skipped", 0.0),
    ]
    for slug, status, seconds in attempts:
        catalog.execute(
            "INSERT INTO sync_runs (provider_slug, started_at, finished_at, status) VALUES (%s, %s, %s, %s)",
            (slug, start, None if seconds is None else start + timedelta(seconds=seconds), status))
    assert last_sync_seconds(catalog, ["groq", "openai", "anthropic", "mistral", "xai"]) == {
        "openai": 4.5, "groq": 1.25, "anthropic": 7.0}, "the latest finished attempt; a skip or a running one is no time"
