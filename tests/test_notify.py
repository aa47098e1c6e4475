"""What the alerts read and say, without Airflow running: the digest and streak queries on the real PostgreSQL,
the bounded message texts, and the causes `/health` names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from include.gatewayz_sync import clock
from include.gatewayz_sync.notify.digest import change_digest
from include.gatewayz_sync.notify.messages import MAX_BODY_CHARS, RunRef, failed_run_alert
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.store.alerts import ADDED, LIFECYCLE, PRICE_MOVES, failure_streaks, run_changes
from include.gatewayz_sync.store.health import LastRun, health_report, last_model_sync_run
from include.gatewayz_sync.store.providers import sync_registry
from include.gatewayz_sync.store.status import ProviderStatus

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RUN = RunRef.of("http://airflow.example:8080/", "gatewayz_sync_models", "manual__2026-11-27T02:00:00+00:00")


@pytest.fixture
def seeded(catalog):
    sync_registry(catalog, GATEWAY_REGISTRY.values())
    catalog.execute(
        """INSERT INTO models (provider_id, provider_model_id, name, raw, content_hash)
           SELECT p.id, 'm' || n, 'Model ' || n, '{}', 'h' || n FROM providers p, generate_series(1, 30) n
           WHERE p.slug = 'openrouter'"""
    )
    return catalog


def attempt(catalog, slug: str, run_id: str, status: str, error: str | None = None) -> int:
    return catalog.execute(
        "INSERT INTO sync_runs (dag_run_id, provider_slug, started_at, status, error) "
        "VALUES (%s, %s, now(), %s, %s) RETURNING id",
        (run_id, slug, status, error),
    ).fetchone()[0]


def change(catalog, sync_run_id: int, model: str, kind: str, field=None, old=None, new=None) -> None:
    catalog.execute(
        """INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value,
                                      sync_run_id)
           SELECT m.provider_id, m.id, m.provider_model_id, %s, %s, %s, %s, %s FROM models m
           WHERE m.provider_model_id = %s""",
        (kind, field, old, new, sync_run_id, model),
    )


def test_the_digest_reads_only_notable_changes_of_its_run_largest_moves_first_and_counts_the_rest(seeded):
    run = attempt(seeded, "openrouter", "r1", "success")
    price = "price_changed"
    change(seeded, run, "m1", price, "price_input_usd_per_mtok", "1", "1.05")
    change(seeded, run, "m2", price, "price_output_usd_per_mtok", "2", "3")
    change(seeded, run, "m3", price, "price_input_usd_per_mtok", None, "0.4")
    change(seeded, run, "m4", price, "price_input_usd_per_mtok", "0", "1")
    change(seeded, run, "m5", price, "price_is_variable", "false", "true")
    change(seeded, run, "m6", price, "price_request_usd", "0.01", "0.009")
    for n in range(7, 20):
        change(seeded, run, f"m{n}", "added")
    change(seeded, run, "m20", "removed", "missing_count", "1", "2")
    change(seeded, run, "m21", "reappeared", "is_active", "false", "true")
    soon, later = clock.now() + timedelta(days=10), clock.now() + timedelta(days=60)
    change(seeded, run, "m22", "deprecated", "shutdown_date", None, str(soon))
    change(seeded, run, "m23", "deprecated", "deprecation_date", None, str(later))
    change(seeded, run, "m24", "limits_changed", "context_length", "1000", "2000")
    change(seeded, attempt(seeded, "openrouter", "r2", "success"), "m25", "added")

    changes = run_changes(seeded, "r1", min_ratio=Decimal("0.1"), lifecycle_days=30, per_section=10)
    assert changes.totals == {PRICE_MOVES: 4, ADDED: 13, "removed": 1, "reappeared": 1, LIFECYCLE: 1}
    assert [(r.model, r.ratio) for r in changes.rows[PRICE_MOVES]] == [
        ("m3", None), ("m4", None), ("m2", Decimal("0.5")), ("m6", Decimal("-0.1"))]
    assert len(changes.rows[ADDED]) == 10

    digest = change_digest(changes, RUN, price_move_percent=10, lifecycle_days=30)
    assert digest.title == "Catalog changes: 4 price moves, 13 added, 1 removed, 1 reappeared, 1 lifecycle date"
    assert "- openrouter m3: input none -> 0.4 USD/1M tokens\n" in digest.body
    assert "- openrouter m2: output 2 -> 3 USD/1M tokens (+50.0%)" in digest.body
    assert "- openrouter m6: request 0.01 -> 0.009 USD (-10.0%)" in digest.body
    assert "Added (13):" in digest.body and "- …and 3 more" in digest.body
    assert f"Deprecation or shutdown within 30 days (1):\n- openrouter m22: shutdown {soon:%Y-%m-%d}" in digest.body
    assert "m1:" not in digest.body and "m5" not in digest.body and "m23" not in digest.body
    assert digest.body.endswith(f"Run: {RUN.url}")

    nothing = run_changes(seeded, "r3", min_ratio=Decimal("0.1"), lifecycle_days=30, per_section=10)
    assert nothing.empty and change_digest(nothing, RUN, price_move_percent=10, lifecycle_days=30) is None


def test_a_failure_streak_counts_runs_not_retries_skips_nothing_and_ends_at_a_success(seeded):
    attempt(seeded, "groq", "r1", "success")
    attempt(seeded, "groq", "r2", "failed", "first try")
    attempt(seeded, "groq", "r2", "failed", "second try")
    attempt(seeded, "groq", "r3", "skipped", "no credentials")
    attempt(seeded, "groq", "r4", "failed", "HTTP 503 from groq")
    attempt(seeded, "mistral", "r4", "failed", "timeout")
    attempt(seeded, "openai", "r1", "failed", "old")
    attempt(seeded, "openai", "r4", "success")
    attempt(seeded, "cohere", "r1", "failed", "old")
    attempt(seeded, "cohere", "r4", "dry_run")

    streaks = failure_streaks(seeded, ["groq", "mistral", "openai", "cohere", "xai"])
    assert {slug: (s.runs, s.last_error) for slug, s in streaks.items()} == {
        "groq": (2, "HTTP 503 from groq"), "mistral": (1, "timeout")}
    assert failure_streaks(seeded, []) == {}


def test_a_failure_alert_stays_bounded_however_many_providers_fail_and_however_long_their_errors():
    statuses = {f"p{n:02}": "failed" for n in range(25)} | {"ok": "success", "off": "skipped"}
    errors = {slug: "HTTP 503 from upstream:\n" + "x" * 2000 for slug in statuses}
    alert = failed_run_alert(RUN, statuses, errors, {})
    assert alert.notify_type == "failure"
    assert alert.title == "Model sync failed: p00, p01, p02 and 22 more"
    assert len(alert.body) <= MAX_BODY_CHARS
    assert "25 provider(s) failed, 1 ok, 1 skipped" in alert.body
    assert "- …and 15 more" in alert.body
    error_lines = [line for line in alert.body.splitlines() if line.startswith("- p")]
    assert len(error_lines) == 10 and all(len(line) < 320 for line in error_lines)
    assert RUN.url == ("http://airflow.example:8080/dags/gatewayz_sync_models/runs/"
                       "manual__2026-11-27T02%3A00%3A00%2B00%3A00")


def provider(slug: str, state: str, error: str | None = None) -> ProviderStatus:
    return ProviderStatus(slug, slug, True, False, None, True, 1, 0, {"error": error} if error else None, None,
                          None, state != "fresh", state)


def test_health_names_the_cause_a_monitor_can_act_on(seeded):
    stale = [provider("groq", "failed", "HTTP 503 from groq"), provider("xai", "never"), provider("openai", "fresh")]
    healthy, body = health_report(stale, stale_hours=12, now=NOW, last_run=None, paused=True,
                                  airflow={"scheduler": {"status": "healthy"}})
    assert not healthy
    assert body["cause"] == "model sync paused: no runs are created until gatewayz_sync_models is unpaused"
    assert body["causes"][1:] == [
        "no model-sync run has finished yet",
        "1 provider(s) failing: groq (HTTP 503 from groq)",
        "1 provider(s) with no success for over 12 h: xai",
    ]
    assert [entry["slug"] for entry in body["stale"]] == ["groq", "xai"]

    old = LastRun("scheduled__1", NOW - timedelta(hours=20), "success")
    down = {"status": "unhealthy", "latest_scheduler_heartbeat": "2026-11-27T00:00:00+00:00"}
    _, body = health_report(stale, stale_hours=12, now=NOW, last_run=old, paused=False, airflow={"scheduler": down})
    assert body["causes"][:2] == ["scheduler not heartbeating since 2026-11-27T00:00:00+00:00",
                                  "no model-sync run since 2026-11-26T16:00:00+00:00 (20.0 h ago)"]
    assert body["last_run"]["dag_run_id"] == "scheduled__1"

    healthy, body = health_report([provider("openai", "fresh")], stale_hours=12, now=NOW,
                                  last_run=LastRun("r", NOW, "success"), paused=True, airflow=None)
    assert healthy and body["status"] == "ok" and body["cause"] is None
    assert body["causes"] == ["model sync paused: no runs are created until gatewayz_sync_models is unpaused"]

    seeded.execute(
        """INSERT INTO model_sync_runs (dag_run_id, dag_id, finished_at, status, ok, failed, skipped, active_models,
                                        dry_run)
           VALUES ('real', 'gatewayz_sync_models', now() - interval '2 hours', 'failed', 1, 1, 0, 5, false),
                  ('dry', 'gatewayz_sync_models', now(), 'success', 2, 0, 0, 5, true)"""
    )
    last = last_model_sync_run(seeded)
    assert (last.dag_run_id, last.status) == ("real", "failed")


def test_a_dead_component_is_a_503_even_while_every_provider_is_fresh():
    fresh, ran = [provider("openai", "fresh")], LastRun("r", NOW, "success")
    beat = "2026-11-27T01:59:00+00:00"
    alive = {"metadatabase": {"status": "healthy"},
             "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": beat},
             "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": beat},
             "triggerer": {"status": None, "latest_triggerer_heartbeat": None}}
    healthy, body = health_report(fresh, stale_hours=12, now=NOW, last_run=ran, paused=False, airflow=alive)
    assert healthy and body["status"] == "ok" and body["components"] == alive, "no triggerer needed without deadline"

    healthy, body = health_report(fresh, stale_hours=12, now=NOW, last_run=ran, paused=False, airflow=alive,
                                  needs_triggerer=True)
    assert not healthy and body["status"] == "component down"
    assert body["cause"] == ("no triggerer has ever heartbeated: the model sync's deadline alert cannot fire "
                             "(MODEL_SYNC_DEADLINE_MINUTES=0 turns it off)")

    dead = {**alive, "scheduler": {"status": "unhealthy", "latest_scheduler_heartbeat": beat},
            "dag_processor": {"status": "unhealthy", "latest_dag_processor_heartbeat": beat},
            "triggerer": {"status": "unhealthy", "latest_triggerer_heartbeat": beat}}
    healthy, body = health_report(fresh, stale_hours=12, now=NOW, last_run=ran, paused=False, airflow=dead)
    assert not healthy and body["status"] == "component down"
    assert body["causes"] == [f"scheduler not heartbeating since {beat}",
                              f"dag-processor not heartbeating since {beat}"], "the triggerer only with a deadline"

    supervised = {"components": {"scheduler": {"state": "running", "restarts": 2},
                                 "triggerer": {"state": "gave up", "restarts": 6, "last_exit": "exit code 1"}}}
    healthy, body = health_report(fresh, stale_hours=12, now=NOW, last_run=ran, paused=False, airflow=alive,
                                  supervisor=supervised)
    assert not healthy and body["supervisor"] == supervised
    assert body["causes"] == ["triggerer stopped: make up's supervisor gave up restarting it after 6 restarts "
                              "(last exit: exit code 1; `make logs`)"]

    healthy, body = health_report(fresh, stale_hours=12, now=NOW, last_run=ran, paused=False,
                                  airflow={**alive, "metadatabase": {"status": "unhealthy"}})
    assert not healthy and body["cause"] == "Airflow's metadata database is unreachable"


def test_every_kind_and_field_any_writer_records_is_read_without_a_cast_error(seeded):
    """Rows of every writer's fields, with text values where the field is text, in this run and in others (a
    condition pushed down to other runs' rows once cast `genai-prices` to numeric and silenced every alert)."""
    from include.gatewayz_sync.store import model_sql, prices
    from include.gatewayz_sync.store.catalog_reads import model_detail
    from include.gatewayz_sync.store.changes import FIELD_TYPES, KINDS
    from include.gatewayz_sync.store.status import recent_changes

    samples = {"numeric": ("1.5", "2"), "integer": ("1000", "2000"), "text": ("genai-prices", "list_api"),
               "boolean": ("false", "true"), "timestamp": (None, str(clock.now() + timedelta(days=3))),
               "text[]": ("{text}", "{text,image}")}
    written = {field for _, field in model_sql._TRACKED_FIELDS} | set(prices.TRACKED_FIELDS) | {
        "missing_count", "is_active", "provider"}
    assert written <= set(FIELD_TYPES), "every field a writer records has a declared type"
    for run_id in ("r1", "other"):
        sync_run = attempt(seeded, "openrouter", run_id, "success")
        for n, field in enumerate(sorted(FIELD_TYPES)):
            old, new = samples[FIELD_TYPES[field]]
            for kind in KINDS:
                change(seeded, sync_run, f"m{1 + n % 30}", kind, field, old, new)
    seeded.execute(
        """INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value, source)
           SELECT provider_id, id, provider_model_id, 'price_changed', 'price_source', NULL, 'genai-prices',
                  'genai-prices' FROM models LIMIT 3"""
    )
    changes = run_changes(seeded, "r1", min_ratio=Decimal("0.1"), lifecycle_days=30, per_section=10)
    assert changes.totals[PRICE_MOVES] == 15, "the numeric price fields only; a price source is not a move"
    assert {row.field for row in changes.rows[PRICE_MOVES]} <= set(FIELD_TYPES)
    assert change_digest(changes, RUN, price_move_percent=10, lifecycle_days=30) is not None
    total = seeded.execute("SELECT count(*) FROM model_changes").fetchone()[0]
    assert len(recent_changes(seeded, limit=1000)) == total == 2 * len(FIELD_TYPES) * len(KINDS) + 3
    model = seeded.execute("SELECT id FROM models WHERE provider_model_id = 'm1'").fetchone()[0]
    detail = model_detail(seeded, model)
    assert detail.history and set(detail.price_steps) == {"input", "output"}


def test_health_names_broken_alerting_until_a_successful_send_clears_it(seeded):
    from include.gatewayz_sync.store.alerting import broken_alerting, record_alerting_failed, record_alerting_sent

    record_alerting_sent(seeded, "gatewayz_sync_models", "r0")
    assert broken_alerting(seeded) == []
    record_alerting_failed(seeded, "gatewayz_sync_models", "r1", "InvalidTextRepresentation: invalid input\n syntax")
    record_alerting_failed(seeded, "gatewayz_sync_models", "r2", "1 of 1 alert(s) not delivered")
    (broken,) = broken_alerting(seeded)
    first = seeded.execute("SELECT failing_since FROM alert_outcomes").fetchone()[0]
    assert (broken.since, broken.dag_run_id, broken.error) == (first, "r2", "1 of 1 alert(s) not delivered")

    fresh = [provider("openai", "fresh")]
    healthy, body = health_report(fresh, stale_hours=12, now=NOW, last_run=LastRun("r", NOW, "success"),
                                  paused=False, airflow=None, alerting=[broken])
    assert not healthy and body["status"] == "alerting broken"
    assert body["cause"] == (f"alerting broken since {first.isoformat()}: 1 of 1 alert(s) not delivered "
                             "(gatewayz_sync_models)")
    assert body["alerting"] == [broken.as_dict()]

    record_alerting_sent(seeded, "gatewayz_sync_providers", "p1")
    assert broken_alerting(seeded) == [broken], "another DAG's successful send says nothing about this one"
    record_alerting_sent(seeded, "gatewayz_sync_models", "r3")
    assert broken_alerting(seeded) == []


def test_a_held_new_price_is_told_as_not_stored_and_a_held_jump_as_the_stored_price_staying():
    from include.gatewayz_sync.notify.digest import held_line
    from include.gatewayz_sync.store.alerts import ChangeRow

    outlier = ChangeRow("together", "cartesia/sonic-slipped", "input/character", None, "9000", None)
    assert held_line(outlier) == ("together cartesia/sonic-slipped: input/character 9000 USD/1M characters held "
                                  "(a new price 100x or more from every sibling; not stored)")
    jump = ChangeRow("groq", "qwen", "price_input_usd_per_mtok", "0.29", "290", Decimal("999"))
    assert held_line(jump).endswith("held (1000x up; the stored price stays)")
