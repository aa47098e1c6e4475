"""Every DAG file imports cleanly, fast, without touching the network or a database at parse time."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.conftest import MODEL_SYNC_DEFAULTS

DAG_FILES = sorted((Path(__file__).resolve().parents[1] / "dags").glob("*.py"))
EXPECTED_DAGS = {"gatewayz_sync_providers", "gatewayz_sync_models", "gatewayz_sync_prices", "gatewayz_publish_catalog"}


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
    for task in fresh.dags["gatewayz_sync_providers"].tasks:
        assert task.retries == (0 if task.task_id == "notify" else 3)


def test_no_pool_is_required_and_one_run_is_bounded_by_itself(dagbag):
    dag = dagbag.dags["gatewayz_sync_models"]
    sync_provider = dag.get_task("sync_provider")
    assert sync_provider.pool == "default_pool"
    assert sync_provider.max_active_tis_per_dagrun == 8
    assert "watch_http_pool" not in dag.task_ids


def test_a_named_pool_is_used_and_watched(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("GATEWAYZ_HTTP_POOL", "egress_http")
    monkeypatch.setenv("GATEWAYZ_MAX_ACTIVE_PROVIDERS", "3")
    dag = DagBag(dag_folder=str(DAG_FILES[0].parent)).dags["gatewayz_sync_models"]
    sync_provider = dag.get_task("sync_provider")
    assert (sync_provider.pool, sync_provider.max_active_tis_per_dagrun) == ("egress_http", 3)
    watch = dag.get_task("watch_http_pool")
    assert watch.pool == "default_pool" and watch.retries == 0
    assert watch.upstream_task_ids == {"list_providers"}
    assert {"sync_provider", "watch_http_pool"} <= dag.get_task("finalize").upstream_task_ids


def test_concurrency_settings_come_from_the_environment():
    from include.gatewayz_sync.config import ConcurrencySettings, SettingError

    assert ConcurrencySettings.from_env({}) == ConcurrencySettings(8, None, 30.0)
    named = ConcurrencySettings.from_env({"GATEWAYZ_HTTP_POOL": " egress ", "GATEWAYZ_MAX_ACTIVE_PROVIDERS": "4"})
    assert named.task_pool == "egress"
    assert named.pool_command() == 'airflow pools set egress 4 "gatewayz model-list requests"'
    with pytest.raises(SettingError, match="GATEWAYZ_MAX_ACTIVE_PROVIDERS"):
        ConcurrencySettings.from_env({"GATEWAYZ_MAX_ACTIVE_PROVIDERS": "0"})
    with pytest.raises(SettingError, match="GATEWAYZ_HTTP_POOL must be a pool name"):
        ConcurrencySettings.from_env({"GATEWAYZ_HTTP_POOL": "egress; rm -rf /"})


def test_model_sync_is_scheduled_by_cron_and_by_the_providers_asset(dagbag):
    dag = dagbag.dags["gatewayz_sync_models"]
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.timetable.expression == "0 */6 * * *"
    assert [asset.name for asset in timetable.asset_condition.objects] == ["gatewayz_providers"]
    outlets = dagbag.dags["gatewayz_sync_providers"].get_task("upsert_providers").outlets
    assert [asset.name for asset in outlets] == ["gatewayz_providers"]


def test_prices_run_after_every_model_sync_and_daily_one_mapped_task_per_source(dagbag):
    dag = dagbag.dags["gatewayz_sync_prices"]
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert [asset.name for asset in dag.timetable.asset_condition.objects] == ["gatewayz_models"]
    outlets = dagbag.dags["gatewayz_sync_models"].get_task("finalize").outlets
    assert [asset.name for asset in outlets] == ["gatewayz_models"]
    refresh = dag.get_task("refresh_source")
    assert refresh.max_active_tis_per_dagrun == 3 and refresh.pool != "gatewayz_provider_http"
    assert dag.get_task("resolve_prices").trigger_rule == "all_done"


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


@pytest.mark.parametrize("safe_mode", [True, False])
def test_the_repository_root_as_a_bundle_discovers_only_dags(safe_mode):
    """Airflow's own discovery over the repository root, as a LocalDagBundle or GitDagBundle lists it."""
    from airflow.utils.file import list_py_file_paths

    root = DAG_FILES[0].parents[1]
    assert sorted(map(Path, list_py_file_paths(root, safe_mode=safe_mode))) == DAG_FILES


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
    for name in ("providers", "dry_run", "allow_shrink", "allow_field_loss", "accept_price_jumps"):
        param = params.get_param(name)
        assert "null" in param.schema["type"], name
        assert param.schema["title"] and param.description, name
    assert "70%" in params.get_param("allow_shrink").description
    assert "30%" in params.get_param("allow_field_loss").description
    assert "10x" in params.get_param("accept_price_jumps").description


def test_a_cleared_form_means_the_defaults(dagbag, catalog):
    from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
    from include.gatewayz_sync.store.providers import sync_registry, syncable_slugs
    from include.gatewayz_sync.tasks import requested_providers

    sync_registry(catalog, GATEWAY_REGISTRY.values())
    cleared = _model_sync_params(dagbag, dict.fromkeys(MODEL_SYNC_DEFAULTS))
    assert cleared == dict.fromkeys(MODEL_SYNC_DEFAULTS)
    defaults = _model_sync_params(dagbag, {})
    assert defaults == MODEL_SYNC_DEFAULTS
    assert requested_providers(cleared) == requested_providers(defaults) == [], "no provider named: all of them"
    assert syncable_slugs(catalog) == sorted(GATEWAY_REGISTRY)


@pytest.mark.parametrize("conf", [{"providers": ["nope"]}, {"providers": ["openai", "openai"]}, {"providers": "openai"},
                                  {"providers": [{"slug": "openai"}]}, {"dry_run": "yes"}, {"allow_shrink": 1},
                                  {"allow_field_loss": "true"}, {"accept_price_jumps": 1}])
def test_conf_outside_the_form_is_refused(dagbag, conf):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        _model_sync_params(dagbag, conf)
