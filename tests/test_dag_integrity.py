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
        assert task.retries == 3


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


def _model_sync_params(dagbag, conf: dict) -> dict:
    """`conf` validated against the model DAG's params as Airflow does for a trigger; returns the resolved params."""
    import copy

    params = copy.deepcopy(dagbag.dags["gatewayz_sync_models"].params)
    for name, value in conf.items():
        params[name] = value
    return params.validate()


def test_the_trigger_form_offers_every_provider_by_name_and_requires_nothing(dagbag):
    from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY

    params = dagbag.dags["gatewayz_sync_models"].params
    providers = params.get_param("providers").schema
    # Airflow 3.3's form renders a multi-select for an array with a top-level `examples` list, labelled by
    # `values_display`; a param whose type excludes "null" is marked required whatever its default.
    assert sorted(providers["examples"]) == sorted(GATEWAY_REGISTRY)
    assert providers["values_display"] == {slug: p.name for slug, p in GATEWAY_REGISTRY.items()}
    assert providers["values_display"]["openrouter"] == "OpenRouter"
    assert providers["items"]["enum"] == sorted(GATEWAY_REGISTRY)
    for name in ("providers", "dry_run", "allow_shrink"):
        param = params.get_param(name)
        assert "null" in param.schema["type"], name
        assert param.schema["title"] and param.description, name
    assert "70%" in params.get_param("allow_shrink").description


def test_a_cleared_form_means_the_defaults(dagbag, catalog):
    from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
    from include.gatewayz_sync.store.providers import sync_registry
    from include.gatewayz_sync.tasks import list_provider_slugs

    sync_registry(catalog, GATEWAY_REGISTRY.values())
    cleared = _model_sync_params(dagbag, {"providers": None, "dry_run": None, "allow_shrink": None})
    assert cleared == {"providers": None, "dry_run": None, "allow_shrink": None}
    defaults = _model_sync_params(dagbag, {})
    assert defaults == {"providers": [], "dry_run": False, "allow_shrink": False}
    assert list_provider_slugs(cleared) == list_provider_slugs(defaults) == sorted(GATEWAY_REGISTRY)


@pytest.mark.parametrize("conf", [{"providers": ["nope"]}, {"providers": ["openai", "openai"]}, {"providers": "openai"},
                                  {"providers": [{"slug": "openai"}]}, {"dry_run": "yes"}, {"allow_shrink": 1}])
def test_conf_outside_the_form_is_refused(dagbag, conf):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        _model_sync_params(dagbag, conf)
