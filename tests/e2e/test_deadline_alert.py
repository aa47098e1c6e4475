"""The model sync's Deadline Alert on real components (api-server, scheduler, dag-processor, triggerer,
LocalExecutor): a run held past its deadline by a provider that never answers reaches the alert receiver from
the triggerer while the run is still held, once per run; the triggerer survives it, and the run's own failure
alert follows.
Before any run, `/health` names why nothing is fresh: the DAG is paused.

Deadline Alerts are experimental in Airflow 3.3; this pins how they behave here."""

from __future__ import annotations

import contextlib
import secrets
import time
from datetime import datetime

import psycopg
import pytest
import requests

from include.gatewayz_sync.dev.local import catalog_connection_json
from include.gatewayz_sync.dev.replay.server import ReplayServer
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.store import schema
from include.gatewayz_sync.store.providers import sync_registry
from tests.alert_receiver import AlertReceiver
from tests.cluster import AirflowCluster
from tests.conftest import PG_ADMIN_DSN, PG_USER, SESSION_DIR, admin_connection, scratch_database

pytestmark = pytest.mark.slow

DAG = "gatewayz_sync_models"
DEADLINE_SECONDS = 15
READ_TIMEOUT_SECONDS = 45


@pytest.fixture(scope="module")
def deadline_cluster():
    with scratch_database("gatewayz_deadline_catalog") as database:
        receiver = AlertReceiver().start()
        replay = ReplayServer().start()
        cluster = None
        try:
            with psycopg.connect(PG_ADMIN_DSN, dbname=database, autocommit=True) as catalog:
                schema.migrate(lambda: psycopg.connect(PG_ADMIN_DSN, dbname=database))
                sync_registry(catalog, GATEWAY_REGISTRY.values())
                catalog.execute("UPDATE providers SET disabled_by_operator = true WHERE slug <> 'groq'")
            env = {
                "AIRFLOW_CONN_GATEWAYZ_DB": catalog_connection_json(PG_ADMIN_DSN, database),
                "AIRFLOW_CONN_GATEWAYZ_ALERTS": receiver.connection_json("/alerts"),
                "GATEWAYZ_BASE_URL_OVERRIDE": replay.base_url_override,
                "MODEL_SYNC_DEADLINE_MINUTES": str(DEADLINE_SECONDS / 60),
                "GATEWAYZ_TASK_RETRIES": "0",
                "GATEWAYZ_HTTP_ATTEMPTS": "1",
                "GATEWAYZ_HTTP_READ_TIMEOUT": str(READ_TIMEOUT_SECONDS),
                "GATEWAYZ_ALERT_TIMEOUT_SECONDS": "10",
            }
            cluster = AirflowCluster(SESSION_DIR / f"deadline-{secrets.token_hex(2)}", admin_connection, PG_USER, env,
                                     executor="LocalExecutor", triggerer=True)
            cluster.start()
            yield cluster, receiver, replay
        finally:
            if cluster is not None:
                cluster.stop()
            replay.stop()
            receiver.close()


def _time(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _runs(cluster, headers) -> dict[str, dict]:
    listed = requests.get(f"{cluster.url}/api/v2/dags/{DAG}/dagRuns", headers=headers, timeout=60).json()
    return {run["dag_run_id"]: run for run in listed["dag_runs"]}


def _runs_when_done(cluster, headers, timeout: float) -> dict[str, dict]:
    """Every run of the DAG once none is unfinished (the api-server may be slow on a busy machine)."""
    deadline = time.monotonic() + timeout
    runs: dict[str, dict] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            runs = _runs(cluster, headers)
            if runs and all(r["state"] in ("success", "failed") for r in runs.values()):
                return runs
        time.sleep(3)
    return runs


def test_a_run_held_past_its_deadline_alerts_from_the_triggerer(deadline_cluster):
    cluster, receiver, replay = deadline_cluster
    headers = {"Authorization": f"Bearer {cluster.token()}"}

    health = requests.get(f"{cluster.url}/admin/model-sync/health", headers=headers, timeout=30)
    assert health.status_code == 503
    body = health.json()
    assert body["cause"] == "model sync paused: no runs are created until gatewayz_sync_models is unpaused"
    assert "no model-sync run has finished yet" in body["causes"] and body["paused"] is True

    replay.add_fault("groq", hang=300, times=-1)
    created = requests.post(f"{cluster.url}/api/v2/dags/{DAG}/dagRuns", headers=headers, timeout=30,
                            json={"logical_date": None, "conf": {"providers": ["groq"]}})
    created.raise_for_status()
    manual = created.json()["dag_run_id"]
    requests.patch(f"{cluster.url}/api/v2/dags/{DAG}", headers=headers, json={"is_paused": False},
                   timeout=60).raise_for_status()

    # Unpausing also makes the scheduler create the latest cron run (catchup=False); only groq is enabled, so
    # every run is held by it in the same way, and every run must be told about exactly once.
    runs = _runs_when_done(cluster, headers, timeout=2 * (DEADLINE_SECONDS + READ_TIMEOUT_SECONDS) + 300)
    assert manual in runs and {r["state"] for r in runs.values()} == {"failed"}, runs

    for run_id, run in runs.items():
        (alert,) = receiver.wait_for(lambda m, run_id=run_id: m.title == f"Model sync past its deadline: {run_id}",
                                     timeout=5)
        assert alert.type == "warning"
        assert f"Run {run_id} of {DAG} is still " in alert.message
        assert "0.25 minutes after it was queued" in alert.message
        assert f"{cluster.url}/dags/{DAG}/runs/" in alert.message
        assert _time(run["queued_at"]) + DEADLINE_SECONDS <= alert.at < _time(run["end_date"]), \
            "after the deadline, while the run was still held"
    failures = receiver.wait_for(lambda m: m.title == "Model sync failed: groq", timeout=30)
    assert len(failures) == len(runs)
    assert "- groq: no response from groq at 127.0.0.1:" in failures[0].message
    assert f"within {READ_TIMEOUT_SECONDS} s (read timeout)" in failures[0].message
    assert cluster.processes["triggerer"].poll() is None, "the triggerer survived the callbacks"

    with psycopg.connect(PG_ADMIN_DSN, dbname=cluster.metadata_db) as metadata:
        rows = metadata.execute(
            """SELECT r.run_id, extract(epoch FROM d.deadline_time - r.queued_at), d.missed, c.state, c.output
               FROM deadline d JOIN dag_run r ON r.id = d.dagrun_id LEFT JOIN callback c ON c.id = d.callback_id"""
        ).fetchall()
    assert sorted((run_id, round(float(seconds)), missed, state) for run_id, seconds, missed, state, _ in rows) == [
        (run_id, DEADLINE_SECONDS, True, "success") for run_id in sorted(runs)]
