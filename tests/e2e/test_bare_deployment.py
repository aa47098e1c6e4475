"""The bundle in a bare Airflow 3 deployment: api-server, scheduler, dag-processor, LocalExecutor, PostgreSQL
metadata, and nothing else. No pool, no Variable, no init script, no PYTHONPATH, no plugin: the repository
root is a LocalDagBundle, the catalog database is empty, and the only additions are connections
(`gatewayz_db`, `gatewayz_<slug>` pointing at the replay server). Everything is triggered over REST, and the
log greps and troubleshooting commands of docs/operating.md are run here as written.

The last tests name a pool that does not exist: the run must end within a minute with the command that
creates it, and after that command the same DAG runs in the pool.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from datetime import datetime
from urllib.parse import urlsplit

import pytest

from include.gatewayz_sync.dev.local import catalog_connection_json
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from tests import readme
from tests.cluster import LOCAL_BUNDLE, BareAirflow
from tests.conftest import E2E_PAGE_SIZES, PG_ADMIN_DSN, PG_USER, PROVIDER_KEYS, SESSION_DIR, admin_connection, scratch_catalog

pytestmark = pytest.mark.slow

MISSING_POOL = "gatewayz_provider_http"


def provider_connections(replay) -> dict[str, str]:
    """`gatewayz_<slug>` for every provider with a list API: the replay server as host, a key as password."""
    connections = {}
    for slug, provider in GATEWAY_REGISTRY.items():
        spec = provider.list_api
        if spec is None:
            continue
        connection = {
            "conn_type": "http",
            "host": f"{replay.url}/{slug}{urlsplit(spec.base_url).path.rstrip('/')}",
            "password": PROVIDER_KEYS[slug],
            "extra": {placeholder: "test-account" for placeholder in spec.path_params},
        }
        connections[f"AIRFLOW_CONN_{provider.connection_id.upper()}"] = json.dumps(connection)
    return connections


@pytest.fixture(scope="module")
def bare_catalog():
    """An empty database: the provider sync creates the schema."""
    with scratch_catalog("gatewayz_bare_catalog") as connection:
        yield connection

@pytest.fixture(scope="module")
def bare_replay():
    from include.gatewayz_sync.dev.replay.server import ReplayServer

    with ReplayServer(page_sizes=E2E_PAGE_SIZES) as server:
        yield server

@pytest.fixture(scope="module")
def bare(bare_catalog, bare_replay):
    env = {
        "AIRFLOW_CONN_GATEWAYZ_DB": catalog_connection_json(PG_ADMIN_DSN, bare_catalog.info.dbname),
        **provider_connections(bare_replay),
    }
    cluster = BareAirflow(SESSION_DIR / f"bare-{secrets.token_hex(2)}", admin_connection, PG_USER, [LOCAL_BUNDLE], env)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def max_overlap(instances: list[dict]) -> int:
    events = sorted(
        [(parse_time(ti["start_date"]), 1) for ti in instances] + [(parse_time(ti["end_date"]), -1) for ti in instances],
        key=lambda event: (event[0], event[1]),
    )
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_the_project_is_importable_only_through_the_bundle(bare):
    assert "PYTHONPATH" not in bare.env
    outside = subprocess.run([sys.executable, "-c", "import include.gatewayz_sync"], env=bare.env, cwd=bare.workdir,
                             capture_output=True, text=True, timeout=60)
    assert outside.returncode != 0 and "No module named 'include'" in outside.stderr
    dags = bare.api("GET", "/api/v2/dags").json()["dags"]
    assert {(d["dag_id"], d["bundle_name"]) for d in dags} == {
        ("gatewayz_sync_providers", "gatewayz"), ("gatewayz_sync_models", "gatewayz"),
        ("gatewayz_sync_prices", "gatewayz"), ("gatewayz_publish_catalog", "gatewayz"),
    }
    assert {d["relative_fileloc"] for d in dags} == {
        "dags/gatewayz_sync_providers.py", "dags/gatewayz_sync_models.py", "dags/gatewayz_sync_prices.py",
        "dags/gatewayz_publish_catalog.py",
    }
    assert bare.api("GET", "/api/v2/importErrors").json()["total_entries"] == 0
    assert bare.api("GET", "/api/v2/dagWarnings").json()["total_entries"] == 0


def test_provider_sync_and_the_model_sync_it_triggers_succeed_with_nothing_provisioned(bare, bare_catalog):
    pools = bare.api("GET", "/api/v2/pools").json()["pools"]
    assert [pool["name"] for pool in pools] == ["default_pool"]

    # Unpausing starts a run for the cron's latest tick at once, before any provider sync: it must not fail.
    unpaused = bare.api("PATCH", "/api/v2/dags/gatewayz_sync_models", json={"is_paused": False})
    assert unpaused.status_code == 200, unpaused.text
    providers_run = bare.trigger("gatewayz_sync_providers")
    assert bare.wait_for_run("gatewayz_sync_providers", providers_run, timeout=180)["state"] == "success"
    assert bare_catalog.execute("SELECT count(*) FROM providers WHERE is_active").fetchone()[0] == 31

    models_run = bare.wait_for_new_run("gatewayz_sync_models", set(), "asset_triggered", timeout=300)
    document = bare.wait_for_run("gatewayz_sync_models", models_run, timeout=420)
    assert document["state"] == "success"
    took = (parse_time(document["end_date"]) - parse_time(document["start_date"])).total_seconds()
    print(f"asset-triggered model sync: {took:.1f} s")
    for other in bare.run_ids("gatewayz_sync_models"):
        assert bare.wait_for_run("gatewayz_sync_models", other, timeout=300)["state"] == "success", other
    assert bare_catalog.execute("SELECT count(*) FROM models WHERE is_active").fetchone()[0] == 1263
    statuses = dict(bare_catalog.execute(
        "SELECT status, count(*) FROM sync_runs WHERE dag_run_id = %s GROUP BY status", (models_run,)
    ).fetchall())
    assert statuses == {"success": 29, "skipped": 2}

    instances = [ti for ti in bare.task_instances("gatewayz_sync_models", models_run) if ti["task_id"] == "sync_provider"]
    assert len(instances) == 29, "the two providers without a list API are skipped without a task"
    assert not {"alpaca", "simplismart"} & {ti["rendered_map_index"] for ti in instances}
    assert {ti["pool"] for ti in instances} == {"default_pool"}
    ran = [ti for ti in instances if ti["state"] == "success"]
    peak = max_overlap(ran)
    print(f"at most {peak} provider tasks ran at once")
    assert 1 <= peak <= 8


def test_the_readme_log_greps_find_their_lines(bare, bare_replay):
    bare_replay.add_fault("groq", auth_error=True, times=-1)
    try:
        failing = bare.trigger("gatewayz_sync_models", {"providers": ["groq"]})
        assert bare.wait_for_run("gatewayz_sync_models", failing, timeout=180)["state"] == "failed"
    finally:
        bare_replay.clear_faults()

    synced, complete, failed = readme.shell_commands("Log lines to grep")
    found = bare.shell(synced, AIRFLOW_HOME=str(bare.home))
    assert found.returncode == 0, found.stderr
    assert re.search(r"task_id=upsert_providers/attempt=1\.log:.*Synced 31 providers \(31 added, 0 updated", found.stdout)
    found = bare.shell(complete, AIRFLOW_HOME=str(bare.home))
    assert found.returncode == 0, found.stderr
    assert re.search(r"task_id=finalize/attempt=1\.log:.*Model sync complete: 29 ok, 0 failed, 2 skipped; 1263 active",
                     found.stdout)
    found = bare.shell(failed, AIRFLOW_HOME=str(bare.home))
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert all(f"run_id={failing}" in line for line in lines), "only the failing run says `sync failed`"
    assert any("task_id=sync_provider/map_index=0/attempt=1.log" in line and
               "groq sync failed: authentication failed for groq: HTTP 401" in line for line in lines), lines
    assert any("task_id=finalize/" in line and "groq sync failed: authentication failed for groq" in line
               for line in lines), lines
    assert "groq sync failed" in bare.task_log("gatewayz_sync_models", failing, "finalize")


def test_the_readme_troubleshooting_commands_as_written(bare):
    commands = readme.shell_commands("Troubleshooting")
    run_id = None
    for command in commands:
        if "$RUN_ID" in command:
            assert bare.wait_for_run("gatewayz_sync_models", run_id, timeout=300)["state"] == "success"
        result = bare.shell(command, RUN_ID=run_id or "")
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        if command.startswith("airflow dags list-import-errors"):
            assert "No data found" in result.stdout or result.stdout.strip() == "", result.stdout
        if command.startswith("airflow dags details gatewayz_sync_models"):
            assert re.search(r"is_paused\s*\|\s*False", result.stdout), result.stdout
        if command.startswith("airflow dags trigger gatewayz_sync_models"):
            run_id = re.search(r"manual__[\dT:.+-]+", result.stdout).group(0)
        if command.startswith("airflow tasks states-for-dag-run"):
            assert re.search(r"sync_provider\s*\|\s*success", result.stdout), result.stdout
    assert run_id is not None
    for dag_id in ("gatewayz_sync_providers", "gatewayz_sync_models"):
        for other in bare.run_ids(dag_id):
            bare.wait_for_run(dag_id, other, timeout=300)


def test_a_named_pool_that_does_not_exist_fails_the_run_within_a_minute_with_the_command(bare, bare_catalog):
    bare.restart(("scheduler", "dag-processor"), GATEWAYZ_HTTP_POOL=MISSING_POOL)
    deadline = time.monotonic() + 90
    while bare.api("GET", "/api/v2/dags/gatewayz_sync_models/tasks/sync_provider").json().get("pool") != MISSING_POOL:
        assert time.monotonic() < deadline, "the dag-processor did not re-parse the DAG with the pool"
        time.sleep(1)

    run_id = bare.trigger("gatewayz_sync_models", {"providers": ["openai", "groq"]})
    document = bare.wait_for_run("gatewayz_sync_models", run_id, timeout=120)
    assert document["state"] == "failed"
    took = (parse_time(document["end_date"]) - parse_time(document["start_date"])).total_seconds()
    print(f"run in a missing pool failed after {took:.1f} s")
    assert took < 60
    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in bare.task_instances("gatewayz_sync_models", run_id)}
    assert states == {
        ("list_providers", -1): "success", ("watch_http_pool", -1): "success", ("notify", -1): "success",
        ("finalize", -1): "failed",
        ("sync_provider", 0): "skipped", ("sync_provider", 1): "skipped",
    }
    message = f"No sync_provider task entered pool '{MISSING_POOL}' within 30 s"
    command = f'airflow pools set {MISSING_POOL} 8 "gatewayz model-list requests"'
    finalize = bare.task_log("gatewayz_sync_models", run_id, "finalize")
    assert message in finalize and command.replace('"', '\\"') in finalize
    # All Airflow itself says: a scheduler log line (3.3.2 records no DAG warning for a missing pool).
    assert f"Tasks using non-existent pool '{MISSING_POOL}' will not be scheduled" in bare.log_text("scheduler")
    assert bare.api("GET", "/api/v2/dagWarnings").json()["total_entries"] == 0
    recorded = bare_catalog.execute(
        "SELECT status, details->'errors'->>'groq' FROM model_sync_runs WHERE dag_run_id = %s", (run_id,)
    ).fetchone()
    assert recorded[0] == "failed" and recorded[1].startswith(message)
    assert bare_catalog.execute("SELECT count(*) FROM sync_runs WHERE dag_run_id = %s", (run_id,)).fetchone()[0] == 0

    (readme_command,) = [c for c in readme.shell_commands("Deploying to your Airflow") if c.startswith("airflow pools")]
    assert readme_command == command
    created = bare.shell(command)
    assert created.returncode == 0, created.stderr
    run_id = bare.trigger("gatewayz_sync_models", {"providers": ["openai", "groq"]})
    assert bare.wait_for_run("gatewayz_sync_models", run_id, timeout=180)["state"] == "success"
    pools = {ti["task_id"]: ti["pool"] for ti in bare.task_instances("gatewayz_sync_models", run_id)}
    assert pools["sync_provider"] == MISSING_POOL and pools["watch_http_pool"] == "default_pool"
    assert "admits provider tasks" in bare.task_log("gatewayz_sync_models", run_id, "watch_http_pool")
