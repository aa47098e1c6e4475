"""Security on real Airflow components (api-server, scheduler, dag-processor, two Celery workers):
no key anywhere after full syncs, every admin endpoint refuses missing, forged and expired tokens, conf is
validated, and a run's conf cannot point a provider at another host. Also the concurrency row of the matrix:
a full run and two single-provider runs triggered at the same moment are serialized and all finish."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from pathlib import Path

import jwt
import pytest
import requests

from include.gatewayz_sync.dev.replay.server import ReplayServer
from tests.conftest import PROVIDER_KEYS

pytestmark = pytest.mark.slow

MODEL_DAG = "gatewayz_sync_models"
ADMIN_ENDPOINTS = [
    ("GET", "/admin/model-sync/status"),
    ("GET", "/admin/model-sync/health"),
    ("GET", "/admin/model-sync/changes"),
    ("GET", "/admin/model-sync/page"),
    ("POST", "/admin/model-sync/all"),
    ("POST", "/admin/model-sync/provider/groq"),
    ("GET", "/admin/model-sync/export/litellm"),
    ("GET", "/admin/model-sync/export/openrouter/models"),
    ("GET", "/admin/model-sync/prices/as-of?at=2026-10-01T00:00:00Z"),
]


def _headers(cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.token()}"}


def _trigger(cluster, dag_id: str, conf: dict) -> requests.Response:
    return requests.post(f"{cluster.url}/api/v2/dags/{dag_id}/dagRuns", headers=_headers(cluster),
                         json={"logical_date": None, "conf": conf}, timeout=30)


def _wait(cluster, dag_id: str, run_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = requests.get(f"{cluster.url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers=_headers(cluster),
                           timeout=60).json()
        if run["state"] in ("success", "failed"):
            return run
        time.sleep(1)
    raise TimeoutError(f"{dag_id} {run_id} did not finish")


def _run_count(cluster) -> int:
    return requests.get(f"{cluster.url}/api/v2/dags/{MODEL_DAG}/dagRuns", headers=_headers(cluster),
                        timeout=60).json()["total_entries"]


@pytest.fixture(scope="module")
def synced(cluster, e2e_replay):
    """Provider sync, a full model sync and a single-provider sync on real components, with one provider whose
    error body echoes its key back."""
    for dag_id in ("gatewayz_sync_providers", MODEL_DAG):
        requests.patch(f"{cluster.url}/api/v2/dags/{dag_id}", headers=_headers(cluster), json={"is_paused": False},
                       timeout=60).raise_for_status()
    providers = _trigger(cluster, "gatewayz_sync_providers", {})
    assert _wait(cluster, "gatewayz_sync_providers", providers.json()["dag_run_id"])["state"] == "success"
    key = PROVIDER_KEYS["openai"]
    e2e_replay.add_fault("openai", status=401, times=-1,
                         body=json.dumps({"error": {"message": f"Incorrect API key provided: {key}."}}))
    try:
        full = _trigger(cluster, MODEL_DAG, {"providers": []}).json()["dag_run_id"]
        assert _wait(cluster, MODEL_DAG, full)["state"] == "failed", "openai's 401 fails the run, as it should"
    finally:
        e2e_replay.clear_faults()
    single = _trigger(cluster, MODEL_DAG, {"providers": ["anthropic"]}).json()["dag_run_id"]
    assert _wait(cluster, MODEL_DAG, single)["state"] == "success"
    return full


def _pg_dump(database: str) -> str:
    from tests.conftest import PG_SERVER, PG_USER

    result = subprocess.run(
        ["pg_dump", "-h", PG_SERVER.get("host", "127.0.0.1"), "-p", str(PG_SERVER.get("port", 5432)),
         "-U", PG_USER, "--data-only", database],
        check=True, capture_output=True, text=True, timeout=120,
    )
    return result.stdout


def test_no_key_appears_anywhere_after_full_syncs(cluster, synced, e2e_catalog_db, e2e_catalog):
    error = e2e_catalog.execute(
        "SELECT error FROM sync_runs WHERE dag_run_id = %s AND provider_slug = 'openai'", (synced,)
    ).fetchone()[0]
    assert error.startswith("authentication failed for openai: HTTP 401: Incorrect API key provided: ***")

    stored: dict[str, str] = {
        "catalog database": _pg_dump(e2e_catalog_db),
        "airflow metadata database (XComs, task instances, runs)": _pg_dump(cluster.metadata_db),
    }
    for path in Path(cluster.workdir).rglob("*"):
        if path.is_file() and path.suffix in (".log", ".json", "") and path.stat().st_size < 50_000_000:
            stored[str(path)] = path.read_text(errors="replace")
    headers = _headers(cluster)
    for path in ("/admin/model-sync/status?limit=1000", "/admin/model-sync/changes?limit=1000",
                 "/admin/model-sync/page", "/admin/model-sync/health"):
        stored[path] = requests.get(cluster.url + path, headers=headers, timeout=30).text
    instances = requests.get(f"{cluster.url}/api/v2/dags/{MODEL_DAG}/dagRuns/{synced}/taskInstances",
                             headers=headers, timeout=30).json()["task_instances"]
    for ti in instances:
        url = (f"{cluster.url}/api/v2/dags/{MODEL_DAG}/dagRuns/{synced}/taskInstances/{ti['task_id']}/logs/"
               f"{max(ti['try_number'], 1)}?map_index={ti['map_index']}")
        stored[f"task log {ti['task_id']}[{ti['map_index']}]"] = requests.get(url, headers=headers, timeout=30).text
        xcoms = requests.get(f"{cluster.url}/api/v2/dags/{MODEL_DAG}/dagRuns/{synced}/taskInstances/{ti['task_id']}"
                             f"/xcomEntries?map_index={ti['map_index']}", headers=headers, timeout=30).text
        stored[f"xcom {ti['task_id']}[{ti['map_index']}]"] = xcoms

    assert sum(len(text) for text in stored.values()) > 100_000, "the evidence is substantial"
    assert any("gatewayz_sync_models" in text for name, text in stored.items() if name.startswith("task log"))
    leaks = [(slug, where) for slug, key in PROVIDER_KEYS.items() for where, text in stored.items() if key in text]
    assert leaks == []


@pytest.mark.parametrize(("method", "path"), ADMIN_ENDPOINTS)
def test_admin_endpoints_refuse_missing_forged_and_expired_tokens(cluster, method, path):
    url = cluster.url + path
    assert requests.request(method, url, timeout=60).status_code == 401
    forged = jwt.encode({"sub": "admin", "exp": time.time() + 3600}, "not-the-secret", algorithm="HS512")
    assert requests.request(method, url, headers={"Authorization": f"Bearer {forged}"}, timeout=60).status_code in (401, 403)
    genuine = jwt.decode(cluster.token(), options={"verify_signature": False})
    expired = jwt.encode({**genuine, "iat": time.time() - 7200, "nbf": time.time() - 7200, "exp": time.time() - 3600},
                         cluster.env["AIRFLOW__API_AUTH__JWT_SECRET"], algorithm="HS512")
    response = requests.request(method, url, headers={"Authorization": f"Bearer {expired}"}, timeout=60)
    assert response.status_code in (401, 403), response.text
    assert requests.request(method, url, cookies={"_token": "forged"}, timeout=60).status_code in (401, 403)


@pytest.mark.parametrize(
    "conf",
    [{"providers": ["not-a-provider"]}, {"providers": "openai"}, {"providers": [{"slug": "openai"}]},
     {"providers": ["openai; rm -rf /"]}, {"providers": ["'; DROP TABLE models; --"]}, {"dry_run": "yes"},
     {"allow_shrink": 1}, {"providers": ["openai", "openai"]}],
)
def test_bad_conf_is_a_400_and_creates_no_run(cluster, conf):
    before = _run_count(cluster)
    response = _trigger(cluster, MODEL_DAG, conf)
    assert response.status_code == 400, response.text
    assert _run_count(cluster) == before


def test_a_run_conf_cannot_point_a_provider_at_another_host(cluster, e2e_replay, e2e_catalog):
    with ReplayServer(host="127.0.0.2") as elsewhere:
        hostile = {
            "providers": ["groq"],
            "base_url": f"{elsewhere.url}/groq/openai/v1",
            "GATEWAYZ_BASE_URL_OVERRIDE": f"{elsewhere.url}/{{slug}}",
            "connection": {"host": elsewhere.url, "password": "stolen"},
        }
        response = _trigger(cluster, MODEL_DAG, hostile)
        if response.status_code == 400:
            return
        run_id = response.json()["dag_run_id"]
        assert _wait(cluster, MODEL_DAG, run_id)["state"] == "failed", "a conf with keys we do not know is refused"
        assert elsewhere.requests == []
    refused = e2e_catalog.execute("SELECT status, details->>'error' FROM model_sync_runs WHERE dag_run_id = %s",
                                  (run_id,)).fetchone()
    assert refused[0] == "failed" and refused[1].startswith(
        "unknown conf key(s) ['GATEWAYZ_BASE_URL_OVERRIDE', 'base_url', 'connection']"), refused
    assert e2e_catalog.execute("SELECT count(*) FROM sync_runs WHERE dag_run_id = %s", (run_id,)).fetchone()[0] == 0


def test_a_full_run_and_two_single_provider_runs_at_once_are_serialized(cluster, e2e_catalog):
    run_ids = [_trigger(cluster, MODEL_DAG, conf).json()["dag_run_id"]
               for conf in ({"providers": []}, {"providers": ["groq"]}, {"providers": ["groq"]})]
    runs = [_wait(cluster, MODEL_DAG, run_id, timeout=600) for run_id in run_ids]
    assert [run["state"] for run in runs] == ["success"] * 3, runs
    windows = sorted((dt.datetime.fromisoformat(r["start_date"]), dt.datetime.fromisoformat(r["end_date"])) for r in runs)
    for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
        assert start >= end, "max_active_runs=1: no two runs overlapped"
    duplicates = e2e_catalog.execute(
        "SELECT count(*) FROM (SELECT provider_id, provider_model_id FROM models GROUP BY 1, 2 HAVING count(*) > 1) d"
    ).fetchone()[0]
    assert duplicates == 0
    groq = e2e_catalog.execute(
        "SELECT count(*) FROM sync_runs WHERE dag_run_id = ANY(%s) AND provider_slug = 'groq' AND status = 'success'",
        (run_ids,),
    ).fetchone()[0]
    assert groq == 3
