"""docker-compose.yaml has the production shape (Docker cannot run here, so its structure is what we check)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = [name for name in SERVICES if name.startswith("airflow-")]


def pinned_airflow() -> str:
    return re.search(r"^apache-airflow==([\d.]+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)


def test_every_service_of_the_official_celery_shape_is_there():
    assert set(SERVICES) == {
        "postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
        "airflow-worker", "airflow-init",
    }


def test_commands_and_health_checks():
    commands = {name: SERVICES[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"] == "celery worker"
    for name in ("postgres", "redis", *[s for s in AIRFLOW_SERVICES if s != "airflow-init"]):
        assert "healthcheck" in SERVICES[name], name
    assert "/api/v2/version" in " ".join(SERVICES["airflow-apiserver"]["healthcheck"]["test"])


def test_shared_environment_executor_secrets_and_pythonpath():
    for name in AIRFLOW_SERVICES:
        env = SERVICES[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET")
        assert env["AIRFLOW__CORE__FERNET_KEY"].startswith("${AIRFLOW_FERNET_KEY")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
        assert env["PYTHONPATH"] == "/opt/airflow"
        assert env["AIRFLOW_CONN_GATEWAYZ_DB"].endswith("@postgres:5432/gatewayz")


def test_provider_keys_pass_through_from_the_host():
    env = SERVICES["airflow-worker"]["environment"]
    for provider in GATEWAY_REGISTRY.values():
        if provider.list_api is not None:
            assert env[provider.api_key_env] == f"${{{provider.api_key_env}:-}}", provider.slug
    assert env["CLOUDFLARE_ACCOUNT_ID"] == "${CLOUDFLARE_ACCOUNT_ID:-}"


def test_dags_plugins_and_include_are_mounted_everywhere():
    for name in AIRFLOW_SERVICES:
        volumes = SERVICES[name]["volumes"]
        for folder in ("dags", "plugins", "include"):
            assert f"./{folder}:/opt/airflow/{folder}" in volumes, (name, folder)


def test_image_is_the_pinned_airflow():
    version = pinned_airflow()
    for name in AIRFLOW_SERVICES:
        assert SERVICES[name]["build"]["args"]["AIRFLOW_VERSION"] == version
        assert SERVICES[name]["image"].endswith(f":{version}}}") or SERVICES[name]["image"].endswith(version)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_VERSION={version}" in dockerfile
    assert "FROM apache/airflow:${AIRFLOW_VERSION}-python3.11" in dockerfile


def test_no_pool_is_required_and_a_named_one_is_created_by_init():
    env = SERVICES["airflow-worker"]["environment"]
    assert env["GATEWAYZ_HTTP_POOL"] == "${GATEWAYZ_HTTP_POOL:-}"
    assert env["GATEWAYZ_MAX_ACTIVE_PROVIDERS"] == "${GATEWAYZ_MAX_ACTIVE_PROVIDERS:-8}"
    script = (ROOT / "scripts" / "compose" / "airflow-init.sh").read_text()
    assert 'if [ -n "${GATEWAYZ_HTTP_POOL:-}" ]; then\n  airflow pools set "$GATEWAYZ_HTTP_POOL"' in script


def test_init_migrates_and_triggers_the_provider_sync():
    init = SERVICES["airflow-init"]
    assert init["command"] == ["/opt/airflow/scripts/airflow-init.sh"]
    script = (ROOT / "scripts" / "compose" / "airflow-init.sh").read_text()
    for step in ("airflow db migrate", "airflow dags reserialize",
                 "airflow dags trigger gatewayz_sync_providers", "airflow dags unpause gatewayz_sync_prices",
                 'if [ -n "${GATEWAYZ_PUBLISH_URL:-}" ]; then\n  airflow dags unpause gatewayz_publish_catalog',
                 'SYNC_MODELS_ON_STARTUP:-false}" = "true"',
                 "airflow dags trigger gatewayz_sync_models"):
        assert step in script
    for name in AIRFLOW_SERVICES:
        if name != "airflow-init":
            assert SERVICES[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_workers_scale_out():
    worker = SERVICES["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker, "a fixed name or port would stop --scale"


def test_catalog_database_is_created_beside_the_metadata_database():
    volumes = SERVICES["postgres"]["volumes"]
    assert any(v.startswith("./scripts/compose/init-catalog-db.sql:/docker-entrypoint-initdb.d/") for v in volumes)
    assert "CREATE DATABASE gatewayz" in (ROOT / "scripts" / "compose" / "init-catalog-db.sql").read_text()
