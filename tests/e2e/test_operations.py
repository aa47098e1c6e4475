"""End to end on real Airflow components (api-server, scheduler, dag-processor, two Celery workers):
the CLI client, the REST API, the status plugin, the catalog tables, and work spread over both workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import requests

from tests.cluster import PROJECT_ROOT

pytestmark = pytest.mark.slow


def gatewayz(cluster, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "GATEWAYZ_AIRFLOW_URL": cluster.url,
        "GATEWAYZ_AIRFLOW_PASSWORD": cluster.password,
    }
    return subprocess.run(
        [sys.executable, "-m", "include.gatewayz_sync.cli", *args, "--poll", "1"] if args[0] == "sync"
        else [sys.executable, "-m", "include.gatewayz_sync.cli", *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )


def run_id_of(output: str) -> str:
    return re.search(r"Triggered \S+: (\S+)", output).group(1)


def test_operations_end_to_end(cluster, e2e_catalog, e2e_replay):
    unknown = gatewayz(cluster, "sync", "provider", "not-a-provider")
    assert unknown.returncode == 2
    assert "Valid slugs: aihubmix, aimo" in unknown.stderr
    assert e2e_replay.requests == []

    providers = gatewayz(cluster, "sync", "providers")
    assert providers.returncode == 0, providers.stdout + providers.stderr
    assert e2e_catalog.execute("SELECT count(*) FROM providers WHERE is_active").fetchone()[0] == 31

    full = gatewayz(cluster, "sync", "all")
    assert full.returncode == 0, full.stdout + full.stderr
    full_run = run_id_of(full.stdout)
    assert "gatewayz_sync_models was paused; unpaused it" in full.stdout
    for line in ("openrouter", "anthropic", "alpaca"):
        assert re.search(rf"^\s+{line}\s+(running|success|skipped)", full.stdout, re.M), full.stdout
    assert f"Run {full_run}: success" in full.stdout
    assert e2e_catalog.execute("SELECT count(*) FROM models WHERE is_active").fetchone()[0] == 1263
    statuses = dict(
        e2e_catalog.execute(
            "SELECT status, count(*) FROM sync_runs WHERE dag_run_id = %s GROUP BY status", (full_run,)
        ).fetchall()
    )
    assert statuses == {"success": 29, "skipped": 2}

    one = gatewayz(cluster, "sync", "provider", "anthropic")
    assert one.returncode == 0, one.stdout + one.stderr
    one_run = run_id_of(one.stdout)
    touched = e2e_catalog.execute("SELECT provider_slug, status FROM sync_runs WHERE dag_run_id = %s", (one_run,)).fetchall()
    assert touched == [("anthropic", "success")]

    status = gatewayz(cluster, "status")
    assert status.returncode == 0, status.stderr
    assert re.search(r"^fresh\s+openrouter\s+225\s+0", status.stdout, re.M), status.stdout
    assert re.search(r"^no-api\s+alpaca", status.stdout, re.M)
    health = gatewayz(cluster, "health")
    assert health.returncode == 0, health.stdout

    token = cluster.token()
    authorized = {"Authorization": f"Bearer {token}"}
    for path in ("/admin/model-sync/status", "/admin/model-sync/health", "/admin/model-sync/changes",
                 "/admin/model-sync/page"):
        assert requests.get(cluster.url + path, timeout=10).status_code == 401
        assert requests.get(cluster.url + path, headers={"Authorization": "Bearer forged.jwt.token"},
                            timeout=10).status_code in (401, 403)
        assert requests.get(cluster.url + path, headers=authorized, timeout=10).status_code == 200
    for path in ("/admin/model-sync/all", "/admin/model-sync/provider/groq"):
        assert requests.post(cluster.url + path, timeout=10).status_code == 401

    document = requests.get(cluster.url + "/admin/model-sync/status", headers=authorized, timeout=10).json()
    openrouter = next(p for p in document["providers"] if p["slug"] == "openrouter")
    assert openrouter["state"] == "fresh" and openrouter["active_models"] == 225
    assert openrouter["last_attempt"]["counts"]["fetched"] == 225
    assert document["totals"]["active_models"] == 1263
    assert document["next_model_sync"]["next_run_after"] is not None
    changes = requests.get(cluster.url + "/admin/model-sync/changes", params={"provider": "xai", "limit": 2},
                           headers=authorized, timeout=10).json()
    assert len(changes["changes"]) == 2 and changes["next_before_id"] is not None
    assert {c["kind"] for c in changes["changes"]} == {"added"}

    missing = requests.post(cluster.url + "/admin/model-sync/provider/not-a-provider", headers=authorized, timeout=10)
    assert missing.status_code == 404 and "unknown provider 'not-a-provider'" in missing.json()["detail"]
    dry = requests.post(cluster.url + "/admin/model-sync/provider/groq", params={"dry_run": "true"},
                        headers=authorized, timeout=30)
    assert dry.status_code == 200, dry.text
    assert dry.json()["conf"] == {"providers": ["groq"], "dry_run": True}
    assert dry.json()["ui_url"].endswith(f"/dags/gatewayz_sync_models/runs/{dry.json()['dag_run_id']}")

    before = requests.get(cluster.url + "/api/v2/dags/gatewayz_sync_models/dagRuns", headers=authorized,
                          timeout=10).json()["total_entries"]
    for bad_conf in ({"providers": ["nope"]}, {"providers": "openai"}, {"providers": ["'; DROP TABLE models; --"]}):
        refused = requests.post(cluster.url + "/api/v2/dags/gatewayz_sync_models/dagRuns", headers=authorized,
                                json={"logical_date": None, "conf": bad_conf}, timeout=10)
        assert refused.status_code == 400, refused.text
    after = requests.get(cluster.url + "/api/v2/dags/gatewayz_sync_models/dagRuns", headers=authorized,
                         timeout=10).json()["total_entries"]
    assert after == before

    plugins = requests.get(cluster.url + "/api/v2/plugins", headers=authorized, timeout=10).json()["plugins"]
    views = [view for plugin in plugins for view in plugin["external_views"]]
    assert any(view["name"] == "Model catalog" and view["href"] == "/admin/model-sync/page" for view in views)

    received = [cluster.log_text(f"worker-{n}").count("execute_workload") for n in (1, 2)]
    assert all(count > 0 for count in received), f"tasks per worker: {received}"
