"""Fault matrix row 27, under `make up DEMO=1` (a `.local/` of its own): the embedded PostgreSQL that holds Airflow's
metadata and the catalog stops for 5 s while model-sync runs are queued, then starts again. The scheduler, the
dag-processor and the triggerer die of it (`AdminShutdown`); the supervisor restarts them with backoff, logs each
restart where `make logs` shows it, `/health` carries the record, and every queued run completes with no hand on
the keyboard. Then `/health` turns 503 while the scheduler stops heartbeating (frozen with SIGSTOP) and 200 again
once it beats. Only this deployment's own PostgreSQL is stopped (its postmaster, by the pid in its data directory),
never the machine's shared one."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import time

import psutil
import pytest
import requests

from tests.cluster import PROJECT_ROOT, free_port
from tests.conftest import SESSION_DIR
from tests.e2e.test_local_up import MODEL_DAG, LocalUp

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

OUTAGE_SECONDS = 5
QUEUED_RUNS = 4
HEALTH_THRESHOLD = 15  # seconds without a scheduler heartbeat before Airflow (and /health) call it unhealthy
RESTART_COMMAND = "from include.gatewayz_sync.dev.local import start_embedded_postgres; " \
                  "start_embedded_postgres(keep_running=True)"


@pytest.fixture(scope="module")
def deployment():
    local = LocalUp(SESSION_DIR / f"db-outage-{secrets.token_hex(2)}", free_port())
    local.env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD"] = str(HEALTH_THRESHOLD)
    result = local.command("up", "--demo")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        local.password = re.search(r"^  password  (\S+)$", result.stdout, re.M).group(1)
        yield local
    finally:
        if (local.local_dir / "up" / "state.json").exists():
            down = local.command("down", timeout=300)
            assert down.returncode == 0, down.stdout + down.stderr
            assert re.search(r"^  postgres\s+stopped \(pid \d+\)$", down.stdout, re.M), \
                "make down stops the restarted PostgreSQL too"


def _postmaster(local: LocalUp) -> psutil.Process:
    pid = int((local.local_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    return psutil.Process(pid)


def _health(local: LocalUp) -> requests.Response:
    return requests.get(f"{local.url}/admin/model-sync/health", timeout=120,
                        headers={"Authorization": f"Bearer {local.token()}"})


def _wait(predicate, timeout: float, what: str, every: float = 2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout} s")


def test_27_a_5_s_database_outage_under_make_up_heals_with_no_hand_on_the_keyboard(deployment):
    local = deployment
    local.wait_until_idle()
    assert _wait(lambda: _health(local).status_code == 200, 120, "/health 200 before the outage")
    started = {name: entry["pid"] for name, entry in local.supervised().items()}

    headers = {"Authorization": f"Bearer {local.token()}"}
    runs = []
    for _ in range(QUEUED_RUNS):
        created = requests.post(f"{local.url}/api/v2/dags/{MODEL_DAG}/dagRuns", headers=headers, timeout=120,
                                json={"logical_date": None, "conf": {"providers": ["openrouter"]}})
        assert created.status_code == 200, created.text
        runs.append(created.json()["dag_run_id"])

    postmaster = _postmaster(local)
    postmaster.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown: every session is ended (AdminShutdown)
    postmaster.wait(timeout=60)
    stopped_at = time.monotonic()
    time.sleep(OUTAGE_SECONDS)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "GATEWAYZ_LOCAL_DIR": str(local.local_dir)}
    subprocess.run([sys.executable, "-c", RESTART_COMMAND], env=env, check=True, timeout=120, capture_output=True)
    outage = time.monotonic() - stopped_at
    assert OUTAGE_SECONDS <= outage < OUTAGE_SECONDS + 30
    assert _postmaster(local).pid != postmaster.pid

    supervisor_log = local.local_dir / "up" / "logs" / "supervisor.log"
    restarted = _wait(lambda: {name for name in ("scheduler", "dag-processor", "triggerer")
                               if re.search(rf"^\S+ {name} exited \(.+\) after \d+ s; restart 1 in 1 s$",
                                            supervisor_log.read_text(), re.M)}, 180,
                      "a component died of the outage and was restarted")
    print(f"outage {outage:.1f} s; restarted: {sorted(restarted)}")

    finished = {run_id: local.wait_for_run(run_id, timeout=900)["state"] for run_id in runs}
    assert finished == dict.fromkeys(runs, "success")
    with local.catalog() as catalog:
        rows = catalog.execute("SELECT dag_run_id, status FROM sync_runs WHERE dag_run_id = ANY(%s)",
                               (runs,)).fetchall()
    assert {run_id for run_id, status in rows if status == "success"} == set(runs), rows

    supervised = local.supervised()
    assert all(entry["state"] == "running" for entry in supervised.values()), supervised
    for name in restarted:
        assert supervised[name]["restarts"] >= 1 and supervised[name]["pid"] != started[name]
        assert psutil.pid_exists(supervised[name]["pid"])
    assert "gave up" not in supervisor_log.read_text()
    body = _wait(lambda: (response := _health(local)).status_code == 200 and response.json(), 180,
                 "/health 200 once the restarted components heartbeat")
    assert {name for name, entry in body["supervisor"]["components"].items() if entry["restarts"]} >= restarted
    try:
        local.command("logs", "--lines", "50", timeout=5)
    except subprocess.TimeoutExpired as following:
        logs = (following.stdout or b"").decode(errors="replace")
    else:
        pytest.fail("make logs should keep following the logs")
    assert "supervisor.log" in logs and re.search(r"(scheduler|dag-processor|triggerer) exited \(", logs), logs


def test_health_is_a_503_while_the_scheduler_does_not_heartbeat(deployment):
    local = deployment
    scheduler = psutil.Process(local.supervised()["scheduler"]["pid"])
    assert _wait(lambda: _health(local).status_code == 200, 120, "/health 200 first")
    os.killpg(scheduler.pid, signal.SIGSTOP)
    try:
        body = _wait(lambda: (response := _health(local)).status_code == 503 and response.json(),
                     HEALTH_THRESHOLD + 90, "/health 503 with a frozen scheduler", every=3)
    finally:
        os.killpg(scheduler.pid, signal.SIGCONT)
    assert body["status"] == "component down"
    assert body["cause"].startswith("scheduler not heartbeating since "), body["causes"]
    assert body["components"]["scheduler"]["status"] == "unhealthy"
    assert _wait(lambda: _health(local).status_code == 200, 120, "/health 200 once it beats again")
