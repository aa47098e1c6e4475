"""Every DAG file imports cleanly, fast, without touching the network or a database at parse time."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

DAG_FILES = sorted((Path(__file__).resolve().parents[1] / "dags").glob("*.py"))
EXPECTED_DAGS = {"gatewayz_sync_providers", "gatewayz_sync_models"}


def test_dag_files_import_without_errors(dagbag):
    assert not dagbag.import_errors
    assert set(dagbag.dags) == EXPECTED_DAGS


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_dags_have_tags_owner_and_no_cycles(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    dag.check_cycle()
    assert "gatewayz" in dag.tags
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.owner == "gatewayz"


def test_retries_are_set_where_a_provider_can_fail(dagbag, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("GATEWAYZ_TASK_RETRIES", "3")
    fresh = DagBag(dag_folder=str(DAG_FILES[0].parent))
    sync_provider = fresh.dags["gatewayz_sync_models"].get_task("sync_provider")
    assert sync_provider.retries == 3
    assert sync_provider.retry_exponential_backoff == 2.0
    assert sync_provider.pool == "gatewayz_provider_http"
    for task in fresh.dags["gatewayz_sync_providers"].tasks:
        assert task.retries == (0 if task.task_id == "notify" else 3)


def test_model_sync_is_scheduled_by_cron_and_by_the_providers_asset(dagbag):
    dag = dagbag.dags["gatewayz_sync_models"]
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.timetable.expression == "0 */6 * * *"
    assert [asset.name for asset in timetable.asset_condition.objects] == ["gatewayz_providers"]
    outlets = dagbag.dags["gatewayz_sync_providers"].get_task("upsert_providers").outlets
    assert [asset.name for asset in outlets] == ["gatewayz_providers"]


def test_interval_hours_come_from_the_environment(monkeypatch):
    from include.gatewayz_sync.config import SettingError, model_sync_cron

    assert model_sync_cron({"MODEL_SYNC_INTERVAL_HOURS": "4"}) == "0 */4 * * *"
    assert model_sync_cron({}) == "0 */6 * * *"
    with pytest.raises(SettingError, match="MODEL_SYNC_INTERVAL_HOURS"):
        model_sync_cron({"MODEL_SYNC_INTERVAL_HOURS": "0"})


def test_final_task_runs_whatever_the_providers_did(dagbag):
    finalize = dagbag.dags["gatewayz_sync_models"].get_task("finalize")
    assert finalize.trigger_rule == "all_done"
    assert {"sync_provider", "list_providers"} <= set(finalize.upstream_task_ids)


def test_alerts_are_sent_before_the_final_task_which_alone_decides_the_run(dagbag):
    dag = dagbag.dags["gatewayz_sync_models"]
    notify, finalize = dag.get_task("notify"), dag.get_task("finalize")
    assert notify.trigger_rule == "all_done" and notify.retries == 0
    assert {"sync_provider", "list_providers"} <= set(notify.upstream_task_ids)
    assert "notify" in finalize.upstream_task_ids
    assert [task.task_id for task in dag.leaves] == ["finalize"]
    provider_notify = dagbag.dags["gatewayz_sync_providers"].get_task("notify")
    assert provider_notify.upstream_task_ids == {"upsert_providers"} and provider_notify.retries == 0


def test_the_deadline_alert_comes_from_the_environment(monkeypatch):
    from include.gatewayz_sync.notify.deadline import DeadlineMissedNotifier, model_sync_deadline

    monkeypatch.setenv("MODEL_SYNC_DEADLINE_MINUTES", "0.5")
    deadline = model_sync_deadline()
    assert deadline.interval.total_seconds() == 30
    assert type(deadline.reference).__name__ == "DagRunQueuedAtDeadline"
    assert deadline.callback.path.endswith("gatewayz_sync.notify.deadline.DeadlineMissedNotifier")
    assert deadline.callback.kwargs == {"deadline_minutes": 0.5}
    assert DeadlineMissedNotifier.__module__.endswith("notify.deadline")
    monkeypatch.setenv("MODEL_SYNC_DEADLINE_MINUTES", "0")
    assert model_sync_deadline() is None


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_no_network_or_database_io_at_parse_time(path, monkeypatch):
    import psycopg
    from airflow.dag_processing.dagbag import DagBag

    def refuse(*args, **kwargs):
        raise AssertionError(f"I/O at DAG-parse time: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(psycopg, "connect", refuse)
    bag = DagBag(dag_folder=str(path))
    assert not bag.import_errors


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_each_file_parses_under_half_a_second(path):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path))
    (stat,) = bag.dagbag_stats
    assert stat.duration.total_seconds() < 0.5, stat
