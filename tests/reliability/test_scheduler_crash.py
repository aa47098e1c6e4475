"""Fault matrix row 20, on a live deployment: the scheduler and its LocalExecutor workers killed with SIGKILL in
the middle of a model sync. The restarted scheduler takes over the dead scheduler's tasks when it next looks for
orphans (`[scheduler] orphaned_tasks_check_interval`, 300 s by default: a first run of this test with the defaults
recovered in 314 s) and fails those without a heartbeat (`task_instance_heartbeat_timeout`); they are retried
and the run ends successfully with no duplicate rows. Here both settings are short, so it recovers in about a
minute: they are the settings that shorten recovery."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

import pytest

from include.gatewayz_sync.dev.local import catalog_connection_json
from include.gatewayz_sync.dev.replay.server import ReplayServer
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from tests.cluster import LOCAL_BUNDLE, BareAirflow
from tests.conftest import PG_ADMIN_DSN, PG_USER, PROVIDER_KEYS, SESSION_DIR, admin_connection, scratch_catalog

pytestmark = pytest.mark.slow

HEARTBEAT_TIMEOUT = 20
ORPHAN_CHECK_INTERVAL = 20
DEFAULT_ORPHAN_CHECK_INTERVAL = 300
SLOW = ("groq", "mistral", "xai", "deepseek")
PROVIDERS = [*SLOW, "openai", "anthropic", "openrouter", "cerebras"]
MODEL_DAG = "gatewayz_sync_models"


@pytest.fixture(scope="module")
def crash_catalog():
    with scratch_catalog("gatewayz_crash_catalog") as connection:
        yield connection.info.dbname, connection

@pytest.fixture(scope="module")
def deployment(crash_catalog):
    name, _ = crash_catalog
    with ReplayServer() as replay:
        env = {
            "AIRFLOW_CONN_GATEWAYZ_DB": catalog_connection_json(PG_ADMIN_DSN, name),
            "GATEWAYZ_TASK_RETRIES": "2",
            "GATEWAYZ_RETRY_DELAY_SECONDS": "1",
            "MODEL_SYNC_DEADLINE_MINUTES": "0",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": str(ORPHAN_CHECK_INTERVAL),
            "GATEWAYZ_BASE_URL_OVERRIDE": replay.base_url_override,
            "CLOUDFLARE_ACCOUNT_ID": "test-account",
            **{provider.api_key_env: PROVIDER_KEYS[slug] for slug, provider in GATEWAY_REGISTRY.items()},
        }
        airflow = BareAirflow(SESSION_DIR / f"crash-{secrets.token_hex(2)}", admin_connection, PG_USER, [LOCAL_BUNDLE],
                              env)
        try:
            airflow.start(timeout=300)
            yield airflow, replay
        finally:
            airflow.stop()


def _group_gone(pgid: int, timeout: float) -> bool:
    """No live (non-zombie) process is left in the process group within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    alive.append(stat.parent.name)
        if not alive:
            return True
        time.sleep(0.5)
    return False


def _running(airflow, run_id: str) -> list[dict]:
    return [ti for ti in airflow.task_instances(MODEL_DAG, run_id)
            if ti["task_id"] == "sync_provider" and ti["state"] == "running"]


def test_20_a_scheduler_killed_mid_run_recovers_once_its_orphans_are_adopted(deployment, crash_catalog):
    airflow, replay = deployment
    _, catalog = crash_catalog
    providers_run = airflow.trigger("gatewayz_sync_providers")
    assert airflow.wait_for_run("gatewayz_sync_providers", providers_run, timeout=300)["state"] == "success"
    known = airflow.run_ids(MODEL_DAG)
    airflow.api("PATCH", f"/api/v2/dags/{MODEL_DAG}", json={"is_paused": False}).raise_for_status()
    catch_up = airflow.wait_for_new_run(MODEL_DAG, known, "scheduled", timeout=120)
    assert airflow.wait_for_run(MODEL_DAG, catch_up, timeout=600)["state"] == "success", "unpausing ran the latest slot"

    for slug in SLOW:
        replay.add_fault(slug, delay=45)
    run_id = airflow.trigger(MODEL_DAG, {"providers": PROVIDERS})
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(_running(airflow, run_id)) < 2:
        time.sleep(1)
    in_flight = {ti["rendered_map_index"] or ti["map_index"] for ti in _running(airflow, run_id)}
    assert len(in_flight) >= 2, "provider tasks were running when the scheduler died"

    scheduler = airflow.processes["scheduler"]
    os.killpg(scheduler.pid, signal.SIGKILL)
    scheduler.wait(timeout=30)
    killed_at = time.monotonic()
    replay.clear_faults()
    assert _group_gone(scheduler.pid, timeout=30), "the scheduler's process group (its workers too) is gone"
    airflow._spawn("scheduler", "scheduler")

    finished = airflow.wait_for_run(MODEL_DAG, run_id, timeout=HEARTBEAT_TIMEOUT + 420)
    recovered_after = time.monotonic() - killed_at
    assert finished["state"] == "success", finished
    print(f"row 20: {len(in_flight)} tasks in flight at the kill; the run finished {recovered_after:.0f} s later "
          f"(orphan check every {ORPHAN_CHECK_INTERVAL} s, heartbeat timeout {HEARTBEAT_TIMEOUT} s)")

    retried = [ti for ti in airflow.task_instances(MODEL_DAG, run_id)
               if ti["task_id"] == "sync_provider" and ti["try_number"] > 1]
    assert retried, "the tasks killed with the scheduler were detected and retried"
    assert recovered_after >= HEARTBEAT_TIMEOUT, "nothing is retried before the heartbeat timeout"
    assert recovered_after < DEFAULT_ORPHAN_CHECK_INTERVAL, "the short orphan check shortened the recovery"
    duplicates = catalog.execute(
        "SELECT count(*) FROM (SELECT provider_id, provider_model_id FROM models GROUP BY 1, 2 HAVING count(*) > 1) d"
    ).fetchone()[0]
    assert duplicates == 0
    latest = dict(catalog.execute(
        "SELECT DISTINCT ON (provider_slug) provider_slug, status FROM sync_runs WHERE dag_run_id = %s "
        "ORDER BY provider_slug, id DESC", (run_id,)).fetchall())
    assert latest == {slug: "success" for slug in PROVIDERS}
    assert catalog.execute("SELECT count(*) FROM sync_runs WHERE status = 'running'").fetchone()[0] == 0
