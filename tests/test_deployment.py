"""`make up`'s pieces without Airflow: settings from `.env` and the environment, the components' shared
environment, and stopping recorded processes (real processes, in sessions of their own)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psutil
import pytest

from include.gatewayz_sync.dev.deployment import Deployment, airflow_environment, read_settings, write_airflow_env_script
from include.gatewayz_sync.dev.processes import StartedProcess, stop_processes


def test_dotenv_in_the_compose_form_is_read_and_the_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# provider keys\n"
        "OPENAI_API_KEY=from-the-file\n"
        "GROQ_API_KEY=\"quoted value\"\n"
        "AIRFLOW_CONN_GATEWAYZ_MISTRAL='{\"conn_type\": \"http\", \"host\": \"https://api.mistral.ai/v1\"}'\n"
        "AIRFLOW_ADMIN_PASSWORD=s3cret\n"
    )
    settings = read_settings({"OPENAI_API_KEY": "from-the-environment"}, dotenv)
    assert settings["OPENAI_API_KEY"] == "from-the-environment"
    assert settings["GROQ_API_KEY"] == "quoted value"
    assert json.loads(settings["AIRFLOW_CONN_GATEWAYZ_MISTRAL"])["host"] == "https://api.mistral.ai/v1"
    assert settings["AIRFLOW_ADMIN_PASSWORD"] == "s3cret"
    assert read_settings({"A": "1"}, tmp_path / "missing.env") == {"A": "1"}


def _deployment() -> Deployment:
    return Deployment(port=18080, demo=True, user="admin", metadata_database="airflow_demo", catalog="gatewayz_demo",
                      ports={"api-server": 18080, "worker-log-server": 18793, "trigger-log-server": 18794})


def test_demo_points_every_provider_at_the_replay_server_and_every_component_shares_one_secret():
    settings = {
        "AIRFLOW_CONN_GATEWAYZ_MISTRAL": '{"conn_type": "http", "host": "https://api.mistral.ai/v1"}',
        "OPENAI_API_KEY": "a-real-key",
        "AIRFLOW_FERNET_KEY": "fernet-from-env",
        "AIRFLOW_JWT_SECRET": "one-secret",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
    env = airflow_environment(settings, _deployment(), metadata_url="postgresql+psycopg://postgres@/airflow_demo?host=/s",
                              catalog_connection='{"conn_type": "postgres"}', replay_url="http://127.0.0.1:9999",
                              jwt_secret="generated")
    assert "AIRFLOW_CONN_GATEWAYZ_MISTRAL" not in env
    assert env["GATEWAYZ_BASE_URL_OVERRIDE"] == "http://127.0.0.1:9999/{slug}"
    assert env["OPENAI_API_KEY"] == "demo-key-openai"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "one-secret"
    assert env["AIRFLOW__CORE__FERNET_KEY"] == "fernet-from-env"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "18793"
    assert env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] == "18794"
    assert env["AIRFLOW_CONN_GATEWAYZ_DB"] == '{"conn_type": "postgres"}'
    assert "AIRFLOW__CORE__UNIT_TEST_MODE" not in env


def test_without_demo_the_connections_and_keys_pass_through_and_the_airflow_cli_gets_the_same_settings(tmp_path,
                                                                                                      monkeypatch):
    import include.gatewayz_sync.dev.deployment as deployment_module

    settings = {"AIRFLOW_CONN_GATEWAYZ_MISTRAL": "http://:key@api.mistral.ai/v1", "OPENAI_API_KEY": "a-real-key",
                "AIRFLOW_FERNET_KEY": "k", "PATH": "/usr/bin"}
    env = airflow_environment(settings, _deployment(), metadata_url="postgresql+psycopg://postgres@/airflow?host=/s",
                              catalog_connection=None, replay_url=None, jwt_secret="generated")
    assert env["AIRFLOW_CONN_GATEWAYZ_MISTRAL"] == "http://:key@api.mistral.ai/v1"
    assert env["OPENAI_API_KEY"] == "a-real-key"
    assert "GATEWAYZ_BASE_URL_OVERRIDE" not in env
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "generated"

    script = tmp_path / "airflow-env.sh"
    monkeypatch.setattr(deployment_module, "AIRFLOW_ENV_SCRIPT", script)
    write_airflow_env_script(env, inherited={"PATH": "/usr/bin"})
    assert oct(script.stat().st_mode & 0o777) == "0o600"
    show = 'printf "%s|%s" "$AIRFLOW__CORE__EXECUTOR" "$AIRFLOW_CONN_GATEWAYZ_MISTRAL"'
    echoed = subprocess.run(["bash", "-c", f'. "{script}"; {show}'], capture_output=True, text=True, check=True,
                            env={"PATH": "/usr/bin:/bin"})
    assert echoed.stdout == "LocalExecutor|http://:key@api.mistral.ai/v1"
    assert "export PATH=" not in script.read_text()


def _spawn(tmp_path, name: str, script: str) -> StartedProcess:
    record = StartedProcess.spawn(name, ["bash", "-c", script], {"PATH": "/usr/bin:/bin"}, tmp_path / f"{name}.log")
    deadline = time.monotonic() + 10
    while len(psutil.Process(record.pid).children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return record


def test_stop_ends_each_recorded_session_with_its_children(tmp_path):
    polite = _spawn(tmp_path, "polite", "sleep 300 & sleep 300 & wait")
    stubborn = _spawn(tmp_path, "stubborn", "trap '' TERM; sleep 300 & sleep 300 & wait")
    family = [psutil.Process(p.pid) for p in (polite, stubborn)]
    family += [child for process in list(family) for child in process.children(recursive=True)]
    assert len(family) == 6

    outcome = stop_processes([polite, stubborn], timeout=2)
    assert outcome == {"polite": f"stopped (pid {polite.pid})", "stubborn": f"killed after 2 s (pid {stubborn.pid})"}
    _, alive = psutil.wait_procs(family, timeout=5)
    assert alive == []
    assert stop_processes([polite]) == {"polite": "was not running"}


def test_a_recycled_pid_is_never_taken_for_a_recorded_process(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    try:
        recorded_earlier = StartedProcess("api-server", other.pid, psutil.Process(other.pid).create_time() - 100)
        assert not recorded_earlier.is_running()
        assert stop_processes([recorded_earlier]) == {"api-server": "was not running"}
        assert other.poll() is None
    finally:
        other.kill()
        other.wait(10)


@pytest.mark.parametrize("exited", [True, False])
def test_state_round_trips(tmp_path, monkeypatch, exited):
    import include.gatewayz_sync.dev.deployment as deployment_module

    monkeypatch.setattr(deployment_module, "STATE_FILE", tmp_path / "state.json")
    deployment = _deployment()
    process = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        deployment.record(StartedProcess("replay", process.pid, psutil.Process(process.pid).create_time()))
        if exited:
            process.kill()
            process.wait(10)
        loaded = Deployment.load()
        assert loaded == deployment
        assert loaded.processes[0].is_running() is not exited
        assert loaded.url == "http://localhost:18080"
    finally:
        process.kill()
        process.wait(10)
