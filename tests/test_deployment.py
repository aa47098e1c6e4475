"""`make up`'s pieces without Airflow: settings from `.env` and the environment, the components' shared
environment, and stopping recorded processes (real processes, in sessions of their own)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from include.gatewayz_sync.dev.deployment import (
    Deployment,
    airflow_environment,
    compile_bytecode,
    read_settings,
    write_airflow_env_script,
)
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


def test_logins_take_every_user_from_dotenv_or_the_environment_and_the_passwords_file_holds_them_all(
    tmp_path, monkeypatch
):
    from include.gatewayz_sync.dev import deployment

    monkeypatch.setattr(deployment, "PASSWORDS_FILE", tmp_path / "passwords.json")
    dotenv = tmp_path / ".env"
    dotenv.write_text("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin,viewer:viewer\n")
    first = deployment.logins(read_settings({}, dotenv))
    assert first.roles == {"admin": "admin", "viewer": "viewer"}
    assert first.users_setting == "admin:admin,viewer:viewer"
    stored = json.loads((tmp_path / "passwords.json").read_text())
    assert stored == first.passwords and set(stored) == {"admin", "viewer"} and all(stored.values())
    assert (tmp_path / "passwords.json").stat().st_mode & 0o077 == 0

    environment = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "monitor:viewer, viewer:VIEWER",
                   "AIRFLOW_ADMIN_PASSWORD": "s3cret"}
    again = deployment.logins(read_settings(environment, dotenv))
    assert again.roles == {"admin": "admin", "monitor": "viewer", "viewer": "viewer"}, "the admin make up needs, first"
    assert again.passwords["viewer"] == first.passwords["viewer"], "a password is generated once and kept"
    assert again.passwords["admin"] == "s3cret"
    assert json.loads((tmp_path / "passwords.json").read_text()) == again.passwords

    env = airflow_environment({}, _deployment(), metadata_url="postgresql+psycopg://x", catalog_connection=None,
                              replay_url=None, jwt_secret="s", users_setting=again.users_setting)
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin,monitor:viewer,viewer:viewer"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].endswith("passwords.json")

    with pytest.raises(deployment.LoginError, match="gives admin the role viewer"):
        deployment.logins({"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:viewer"})
    with pytest.raises(deployment.LoginError, match="'bob' is not user:role"):
        deployment.logins({"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "bob"})


def _wait_for(predicate, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"not within {timeout} s")


def test_the_supervisor_restarts_a_component_that_dies_with_backoff_and_gives_up_on_one_that_keeps_dying(tmp_path):
    from include.gatewayz_sync.dev.supervisor import ComponentSpec, SupervisorPlan, read_status

    status_path, log_path = tmp_path / "supervisor.json", tmp_path / "supervisor.log"
    plan = SupervisorPlan(
        [ComponentSpec("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"], str(tmp_path / "s.log")),
         ComponentSpec("crasher", [sys.executable, "-c", "import sys; sys.exit(3)"], str(tmp_path / "c.log"))],
        str(status_path), first_backoff=0.2, max_backoff=0.8, stable_seconds=60, max_quick_restarts=3,
    )
    plan.save(tmp_path / "plan.json")
    supervisor = StartedProcess.spawn("supervisor", [sys.executable, "-m", "include.gatewayz_sync.dev.supervisor",
                                                     str(tmp_path / "plan.json")], None, log_path)
    sleepers = []
    try:
        components = _wait_for(lambda: read_status(status_path)["components"])
        first = StartedProcess("sleeper", components["sleeper"]["pid"], components["sleeper"]["create_time"])
        sleepers.append(first)
        first.process().kill()
        restarted = _wait_for(lambda: (entry := read_status(status_path)["components"]["sleeper"])["restarts"] == 1
                              and entry["state"] == "running" and entry)
        assert restarted["pid"] != first.pid and restarted["last_exit"] == "signal 9"
        sleepers.append(StartedProcess("sleeper", restarted["pid"], restarted["create_time"]))
        assert sleepers[-1].is_running()

        crasher = _wait_for(lambda: (entry := read_status(status_path)["components"]["crasher"])["state"] == "gave up"
                            and entry)
        assert crasher["restarts"] == 3 and crasher["last_exit"] == "exit code 3"
        log = log_path.read_text()
        assert re.search(r"sleeper exited \(signal 9\) after \d+ s; restart 1 in 0.2 s$", log, re.M), log
        crashes = re.findall(r"crasher exited \(exit code 3\) after \d+ s(.*)$", log, re.M)
        assert crashes == ["; restart 1 in 0.2 s", "; restart 2 in 0.4 s", "; restart 3 in 0.8 s",
                           ", 4 times in a row within 60 s of starting: not restarting it; see "
                           f"{tmp_path / 'c.log'}, then `make down` and `make up`"], log
        assert len(re.findall(r"crasher started \(pid \d+\)$", log, re.M)) == 4

        supervisor.process().terminate()
        psutil.Process(supervisor.pid).wait(timeout=10)
        assert sleepers[-1].is_running(), "stopping the supervisor leaves the components to `make down`"
    finally:
        stop_processes([supervisor, *sleepers], timeout=10)


def test_a_deployment_compiles_the_modules_its_task_processes_import(tmp_path):
    """Python may not write bytecode here (PYTHONDONTWRITEBYTECODE): `make up` and the benchmark's deployments
    compile the project once, so no task process compiles it again. A missing folder (no plugins/) is passed over."""
    package = tmp_path / "package"
    (package / "inner").mkdir(parents=True)
    modules = [package / "__init__.py", package / "inner" / "__init__.py", package / "inner" / "module.py"]
    for module in modules:
        module.write_text("VALUE = 1\n")
    compile_bytecode([package, tmp_path / "absent"])
    assert all(Path(importlib.util.cache_from_source(str(module))).is_file() for module in modules)

