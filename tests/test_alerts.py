"""Alerts through the Apprise connection `gatewayz_alerts`, received by a real webhook on loopback: full syncs
through `dag.test()` against the replay server and the real PostgreSQL."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from tests.airflow_helpers import task_states, xcom_values

QWEN = "qwen/qwen3.8-27b"


@pytest.fixture
def alerts(receiver, monkeypatch):
    """Every alert goes to two URLs of the receiver, as an operator's Apprise config would list them."""
    receiver.clear()
    monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", receiver.connection_json("/alerts", "/alerts2"))
    return receiver


@pytest.fixture
def providers_synced(catalog, run_dag, replay):
    assert run_dag("gatewayz_sync_providers").state == "success"
    return catalog


def task_durations(dag_run) -> dict[str, float]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.start_date, TaskInstance.end_date)
            .where(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id,
                   TaskInstance.map_index == -1)
        ).all()
    return {task_id: (end - start).total_seconds() for task_id, start, end in rows if start and end}


def statuses(catalog, dag_run) -> dict[str, str]:
    rows = catalog.execute(
        "SELECT DISTINCT ON (provider_slug) provider_slug, status FROM sync_runs WHERE dag_run_id = %s "
        "ORDER BY provider_slug, id DESC",
        (dag_run.run_id,),
    ).fetchall()
    return dict(rows)


def test_a_provider_answering_503_sends_the_failure_alert_then_the_streak_alert(providers_synced, run_dag, replay,
                                                                               alerts):
    assert alerts.messages() == [], "a provider sync that deactivates nothing tells nobody"
    replay.add_fault("groq", status=503, times=-1)

    first = run_dag("gatewayz_sync_models", {"providers": ["groq"]})
    assert first.state == "failed"
    (alert,) = alerts.messages("/alerts")
    assert [m.message for m in alerts.messages("/alerts2")] == [alert.message], "every URL of the config"
    assert alert.type == "failure"
    assert alert.title == "Model sync failed: groq"
    assert "1 provider(s) failed, 0 ok, 0 skipped" in alert.message
    assert "- groq: HTTP 503 from groq: injected HTTP 503 (after 3 attempts)" in alert.message
    assert "in a row" not in alert.message
    assert "/dags/gatewayz_sync_models/runs/manual__" in alert.message
    assert first.run_id.replace(":", "%3A").replace("+", "%2B") in alert.message

    alerts.clear()
    second = run_dag("gatewayz_sync_models", {"providers": ["groq"]})
    assert second.state == "failed"
    failure, streak = alerts.messages("/alerts")
    assert "groq: HTTP 503 from groq" in failure.message and "(2 failed runs in a row)" in failure.message
    assert streak.type == "failure"
    assert streak.title == "Model sync: groq failed 2 runs in a row"
    assert "groq: failed the last 2 runs, since " in streak.message

    alerts.clear()
    assert run_dag("gatewayz_sync_models", {"providers": ["groq"]}).state == "failed"
    assert [m.title for m in alerts.messages("/alerts")] == ["Model sync failed: groq"], "the streak alert once"


def test_a_run_that_skips_a_provider_before_any_task_neither_breaks_nor_extends_its_streak(
    providers_synced, run_dag, replay, alerts, monkeypatch
):
    catalog = providers_synced
    replay.add_fault("groq", status=503, times=-1)
    assert run_dag("gatewayz_sync_models", {"providers": ["groq"]}).state == "failed"
    alerts.clear()
    with monkeypatch.context() as keyless:
        keyless.delenv("GROQ_API_KEY")
        skipped = run_dag("gatewayz_sync_models", {"providers": ["groq", "alpaca"]})
    assert skipped.state == "success"
    assert statuses(catalog, skipped) == {"groq": "skipped", "alpaca": "skipped"}
    assert alerts.messages() == [], "a run that only skipped tells nobody"

    failing = run_dag("gatewayz_sync_models", {"providers": ["groq", "alpaca"]})
    assert failing.state == "failed"
    failure, streak = alerts.messages("/alerts")
    assert "1 provider(s) failed, 0 ok, 1 skipped" in failure.message, "the skip without a task is counted"
    assert "(2 failed runs in a row)" in failure.message
    assert streak.title == "Model sync: groq failed 2 runs in a row"


def _scaled(price: str, factor: str) -> str:
    return str(Decimal(price) * Decimal(factor))


def test_the_digest_names_each_changed_model_with_old_and_new_price_and_an_unchanged_run_sends_nothing(
    providers_synced, run_dag, replay, alerts
):
    assert run_dag("gatewayz_sync_models", {"providers": ["openrouter"]}).state == "success"
    (first,) = alerts.messages("/alerts")
    assert first.title == "Catalog changes: 225 added, 1 retirement notice", "z-ai/glm-4.5 shuts down 2026-12-31"
    assert "Added (225):" in first.message and "- …and 215 more" in first.message
    assert len(first.message) < 3500

    records = copy.deepcopy(replay.catalog("openrouter").records)
    by_id = {record["id"]: record for record in records}
    by_id[QWEN]["pricing"]["prompt"] = "0.0000005"
    priced = [r for r in records if r["id"] != QWEN and Decimal(r["pricing"].get("completion") or 0) > 0]
    small, large = priced[0], priced[1]
    small["pricing"]["completion"] = _scaled(small["pricing"]["completion"], "1.05")
    large["pricing"]["completion"] = _scaled(large["pricing"]["completion"], "0.5")
    replay.set_records("openrouter", records)
    alerts.clear()

    changed = run_dag("gatewayz_sync_models", {"providers": ["openrouter"]})
    assert changed.state == "success"
    (digest,) = alerts.messages("/alerts")
    assert digest.type == "info"
    assert digest.title == "Catalog changes: 2 price moves"
    assert "Price moves of at least 10% (2):" in digest.message
    assert f"- openrouter {large['id']}: output " in digest.message and "USD/1M tokens (-50.0%)" in digest.message
    assert f"- openrouter {QWEN}: input 0.45 -> 0.5 USD/1M tokens (+11.1%)" in digest.message
    assert digest.message.index(large["id"]) < digest.message.index(QWEN), "largest move first"
    assert small["id"] not in digest.message, "a 5% move is below the 10% threshold"
    assert changed.run_id.replace(":", "%3A").replace("+", "%2B") in digest.message

    alerts.clear()
    assert run_dag("gatewayz_sync_models", {"providers": ["openrouter"]}).state == "success"
    assert alerts.messages() == []


@pytest.mark.parametrize("receiver_path", ["/fail", "/hang?rto=60"], ids=["answers-500", "hangs"])
def test_a_receiver_that_fails_or_hangs_fails_notify_but_leaves_the_sync_outcome_unchanged(
    providers_synced, run_dag, replay, receiver, monkeypatch, receiver_path
):
    from include.gatewayz_sync.store.alerting import broken_alerting

    receiver.clear()
    monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", receiver.connection_json(receiver_path))
    monkeypatch.setenv("GATEWAYZ_ALERT_TIMEOUT_SECONDS", "2")
    clean = run_dag("gatewayz_sync_models", {"providers": ["openrouter"]})
    assert clean.state == "success", "finalize alone decides the run's state"
    states = task_states(clean)
    assert states[("notify", -1)] == "failed" and states[("finalize", -1)] == "success"
    (broken,) = broken_alerting(providers_synced)
    outcome = "failed" if "fail" in receiver_path else "timed out"
    assert broken.dag_id == "gatewayz_sync_models" and broken.dag_run_id == clean.run_id
    assert broken.error.startswith(
        f"1 of 1 alert(s) not delivered: 'Catalog changes: 225 added, 1 retirement notice' {outcome}")

    replay.add_fault("groq", status=503, times=-1)
    failing = run_dag("gatewayz_sync_models", {"providers": ["groq", "openrouter"]})
    assert failing.state == "failed"
    states = task_states(failing)
    assert states[("notify", -1)] == "failed" and states[("finalize", -1)] == "failed"
    assert statuses(providers_synced, failing) == {"groq": "failed", "openrouter": "success"}
    assert [m.title for m in receiver.messages()][-2:] == ["Model sync failed: groq", "Catalog changes: 1 retirement notice"], \
        "the sends were attempted; the notice the first run could not deliver is still due"
    assert task_durations(failing)["notify"] < 15, "a hanging receiver is cut off by GATEWAYZ_ALERT_TIMEOUT_SECONDS"
    (still,) = broken_alerting(providers_synced)
    assert still.since == broken.since and still.dag_run_id == failing.run_id, "broken since the first failure"


def test_broken_alerting_shows_on_health_and_the_page_until_a_send_succeeds(providers_synced, run_dag, replay,
                                                                           receiver, monkeypatch):
    from fastapi.testclient import TestClient

    from include.gatewayz_sync.web.app import create_app

    app = create_app()
    app.dependency_overrides[app.router.dependencies[0].dependency] = lambda: None
    client = TestClient(app)
    receiver.clear()
    monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", receiver.connection_json("/fail"))
    assert run_dag("gatewayz_sync_models", {"providers": ["openrouter"]}).state == "success"

    health = client.get("/health")
    assert health.status_code == 503
    body = health.json()
    assert body["cause"].startswith("alerting broken since "), "named first, before stale providers"
    assert "1 of 1 alert(s) not delivered: 'Catalog changes: 225 added, 1 retirement notice' failed" in body["cause"]
    assert body["cause"].endswith("(gatewayz_sync_models)")
    assert [broken["dag_id"] for broken in body["alerting"]] == ["gatewayz_sync_models"]
    page = client.get("/page").text
    assert "Alerting broken since" in page and "Catalog changes: 225 added, 1 retirement notice" in page

    monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", receiver.connection_json("/alerts"))
    records = copy.deepcopy(replay.catalog("openrouter").records)
    next(r for r in records if r["id"] == QWEN)["pricing"]["prompt"] = "0.0000009"
    replay.set_records("openrouter", records)
    run = run_dag("gatewayz_sync_models", {"providers": ["openrouter"]})
    assert task_states(run)[("notify", -1)] == "success"
    assert [m.title for m in receiver.messages("/alerts")] == ["Catalog changes: 1 price move, 1 retirement notice"], \
        "the undelivered notice is still due"
    assert client.get("/health").json()["alerting"] == [], "a successful send clears it"
    assert "Alerting broken" not in client.get("/page").text


def test_without_the_connection_nothing_is_sent_and_the_run_says_so(providers_synced, run_dag, replay, receiver,
                                                                    monkeypatch):
    receiver.clear()
    monkeypatch.delenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", raising=False)
    replay.add_fault("groq", status=503, times=-1)
    run = run_dag("gatewayz_sync_models", {"providers": ["groq"]})
    assert run.state == "failed"
    assert task_states(run)[("notify", -1)] == "success"
    assert xcom_values(run, "notify")[-1] == {"connection": False, "alerts": []}
    assert receiver.messages() == []


def test_a_provider_sync_that_deactivates_providers_says_which(catalog, run_dag, alerts, monkeypatch):
    from types import MappingProxyType

    from include.gatewayz_sync.sources import registry

    assert run_dag("gatewayz_sync_providers").state == "success"
    catalog.execute(
        """INSERT INTO models (provider_id, provider_model_id, name, raw, content_hash)
           SELECT p.id, 'model-' || n, 'Model ' || n, '{}', 'hash-' || n FROM providers p, generate_series(1, 3) n
           WHERE p.slug = 'nebius'"""
    )
    reduced = {slug: p for slug, p in registry.GATEWAY_REGISTRY.items() if slug != "nebius"}
    monkeypatch.setattr(registry, "GATEWAY_REGISTRY", MappingProxyType(reduced))
    assert run_dag("gatewayz_sync_providers").state == "success"
    (alert,) = alerts.messages("/alerts")
    assert alert.type == "warning"
    assert alert.title == "Provider sync deactivated nebius"
    assert "deactivated 1 provider(s) that left the registry, and 3 of their active models" in alert.message
    assert "- nebius" in alert.message and "/dags/gatewayz_sync_providers/runs/" in alert.message


def test_dag_test_of_a_successful_run_with_a_deadline_still_crashes_in_this_airflow(catalog, monkeypatch):
    """Pins the reason for DAGS_TEST_SETTINGS (dev/local.py): when this fails, Airflow fixed it; drop the setting."""
    from airflow.dag_processing.dagbag import DagBag
    from sqlalchemy.exc import StatementError

    from tests.conftest import PROJECT_ROOT

    monkeypatch.setenv("MODEL_SYNC_DEADLINE_MINUTES", "30")
    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "gatewayz_sync_models.py")).dags["gatewayz_sync_models"]
    assert dag.deadline
    with pytest.raises(StatementError, match="'dict' object has no attribute 'hex'"):
        dag.test(run_conf={"providers": [], "dry_run": False, "allow_shrink": False})


def test_a_run_that_cannot_list_its_providers_sends_a_failure_alert(catalog, run_dag, alerts, monkeypatch):
    from tests.cluster import free_port

    unreachable = {"conn_type": "postgres", "host": "127.0.0.1", "port": free_port(), "login": "nobody",
                   "schema": "gatewayz"}
    monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_DB", json.dumps(unreachable))
    run = run_dag("gatewayz_sync_models")
    states = task_states(run)
    assert states[("list_providers", -1)] == "failed" and states[("notify", -1)] == "success", "notify got None"
    (alert,) = alerts.messages("/alerts")
    assert alert.type == "failure" and alert.title == "Model sync failed: could not list providers"
    assert "list_providers did not finish" in alert.message
    assert run.state == "failed"


def test_the_pipeline_a_deployment_runs_keeps_alerting_after_reference_prices(providers_synced, run_dag, replay,
                                                                             alerts):
    """providers -> models -> prices -> a model sync with a failing provider and a moved price: the reference
    prices' change rows (text values such as `genai-prices`) must not silence the next run's alerts."""
    catalog = providers_synced
    slugs = ["groq", "openai", "openrouter"]
    assert run_dag("gatewayz_sync_models", {"providers": slugs}).state == "success"
    assert run_dag("gatewayz_sync_prices").state == "success"
    reference_rows = catalog.execute(
        "SELECT count(*) FROM model_changes WHERE field = 'price_source' AND new_value = 'genai-prices'"
    ).fetchone()[0]
    assert reference_rows > 0, "the price sync stored reference prices, with text change rows"

    records = copy.deepcopy(replay.catalog("openrouter").records)
    moved = next(r for r in records if r["id"] == QWEN)
    moved["pricing"]["prompt"] = "0.0000009"
    replay.set_records("openrouter", records)
    replay.add_fault("groq", status=503, times=-1)
    alerts.clear()

    run = run_dag("gatewayz_sync_models", {"providers": slugs})
    assert run.state == "failed"
    states = task_states(run)
    assert states[("notify", -1)] == "success" and states[("finalize", -1)] == "failed"
    titles = [m.title for m in alerts.messages("/alerts")]
    assert titles == ["Model sync failed: groq", "Catalog changes: 1 price move"], titles
    failure, digest = alerts.messages("/alerts")
    assert "- groq: HTTP 503 from groq: injected HTTP 503 (after 3 attempts)" in failure.message
    assert f"- openrouter {QWEN}: input 0.45 -> 0.9 USD/1M tokens (+100.0%)" in digest.message
    assert xcom_values(run, "notify")[-1]["alerts"][0]["outcome"] == "sent"
