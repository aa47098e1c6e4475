"""Hardening rows from the live adversarial probe, on real components (api-server, scheduler, dag-processor, two
Celery workers, the replay server): no key fragment anywhere, an operator's pause is never undone implicitly,
hostile text is escaped for terminals, every plugin route is authenticated or off, query parameters are bounded,
`ui_url` ignores the Host header, the CLI stops following cleanly, and conf is bounded at every door."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from include.gatewayz_sync.sources.responses import MESSAGE_LIMIT
from tests.cluster import PROJECT_ROOT, free_port
from tests.conftest import PROVIDER_KEYS

pytestmark = pytest.mark.slow

MODEL_DAG = "gatewayz_sync_models"
PLUGIN = "/admin/model-sync"


_TOKENS: dict[str, str] = {}


def _headers(cluster) -> dict[str, str]:
    """One token per cluster: logging in again for every request only adds load to a busy api-server."""
    if cluster.url not in _TOKENS:
        _TOKENS[cluster.url] = cluster.token()
    return {"Authorization": f"Bearer {_TOKENS[cluster.url]}"}


def _paused(cluster, dag_id: str = MODEL_DAG) -> bool:
    return requests.get(f"{cluster.url}/api/v2/dags/{dag_id}", headers=_headers(cluster), timeout=60).json()["is_paused"]


def _set_paused(cluster, paused: bool, dag_id: str = MODEL_DAG) -> None:
    requests.patch(f"{cluster.url}/api/v2/dags/{dag_id}", headers=_headers(cluster), json={"is_paused": paused},
                   timeout=60).raise_for_status()


def _runs(cluster) -> int:
    return requests.get(f"{cluster.url}/api/v2/dags/{MODEL_DAG}/dagRuns", headers=_headers(cluster),
                        timeout=60).json()["total_entries"]


def _trigger(cluster, conf: dict, dag_id: str = MODEL_DAG) -> str:
    response = requests.post(f"{cluster.url}/api/v2/dags/{dag_id}/dagRuns", headers=_headers(cluster),
                             json={"logical_date": None, "conf": conf}, timeout=60)
    response.raise_for_status()
    return response.json()["dag_run_id"]


def _wait(cluster, run_id: str, dag_id: str = MODEL_DAG, timeout: float = 240) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = requests.get(f"{cluster.url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers=_headers(cluster),
                             timeout=60).json()["state"]
        if state in ("success", "failed"):
            return state
        time.sleep(1)
    raise TimeoutError(f"{dag_id} {run_id} did not finish within {timeout} s")


def _cli(cluster, *args: str, url: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "GATEWAYZ_AIRFLOW_URL": url or cluster.url,
           "GATEWAYZ_AIRFLOW_PASSWORD": cluster.password}
    return subprocess.run([sys.executable, "-m", "include.gatewayz_sync.dev.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def providers_synced(cluster):
    _set_paused(cluster, False, "gatewayz_sync_providers")
    assert _wait(cluster, _trigger(cluster, {}, "gatewayz_sync_providers"), "gatewayz_sync_providers") == "success"
    _set_paused(cluster, False)
    return cluster


def _fragments(secret: str, slug: str, size: int = 6) -> set[str]:
    """Every `size`-character piece of the key, except pieces of the provider's own slug (which pages show)."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)} - {
        slug[i : i + size] for i in range(len(slug) - size + 1)
    }


def test_row1_a_key_echoed_across_the_cut_is_in_no_row_page_status_or_task_log(providers_synced, e2e_replay, e2e_catalog):
    cluster, key = providers_synced, PROVIDER_KEYS["openai"]
    e2e_replay.add_fault("openai", status=401, echo_key=True, echo_offset=MESSAGE_LIMIT - len(key) // 2, times=-1)
    try:
        run_id = _trigger(cluster, {"providers": ["openai"]})
        assert _wait(cluster, run_id) == "failed"
    finally:
        e2e_replay.clear_faults()
    headers = _headers(cluster)
    error = e2e_catalog.execute("SELECT error FROM sync_runs WHERE dag_run_id = %s", (run_id,)).fetchone()[0]
    assert error.startswith("authentication failed for openai: HTTP 401: ....") and "***" in error
    instances = requests.get(f"{cluster.url}/api/v2/dags/{MODEL_DAG}/dagRuns/{run_id}/taskInstances",
                             headers=headers, timeout=60).json()["task_instances"]
    logs = [
        requests.get(f"{cluster.url}/api/v2/dags/{MODEL_DAG}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/"
                     f"{max(ti['try_number'], 1)}?map_index={ti['map_index']}", headers=headers, timeout=60).text
        for ti in instances
    ]
    assert any("authentication failed for openai" in log for log in logs), "the task log carries the error"
    evidence = {
        "sync_runs.error": error,
        "/status": requests.get(f"{cluster.url}{PLUGIN}/status", headers=headers, timeout=60).text,
        "/page": requests.get(f"{cluster.url}{PLUGIN}/page", headers=headers, timeout=60).text,
        "task logs": "\n".join(logs),
    }
    for name, text in evidence.items():
        leaked = sorted(f for f in _fragments(key, "openai") if f in text)
        assert not leaked, f"{name} shows fragments of the key: {leaked}"


def test_row2_a_trigger_never_unpauses_a_paused_dag_unless_asked(providers_synced):
    cluster = providers_synced
    _set_paused(cluster, True)
    before = _runs(cluster)
    refused = requests.post(f"{cluster.url}{PLUGIN}/provider/groq", params={"dry_run": "true"},
                            headers=_headers(cluster), timeout=60)
    assert refused.status_code == 409, refused.text
    assert "is paused" in refused.json()["detail"] and "unpause=true" in refused.json()["detail"]
    cli = _cli(cluster, "sync", "provider", "groq", "--dry-run")
    assert cli.returncode == 1 and "is paused" in cli.stderr and "--unpause" in cli.stderr, cli.stderr
    assert _paused(cluster) and _runs(cluster) == before, "nothing unpaused, no run created"

    allowed = requests.post(f"{cluster.url}{PLUGIN}/provider/groq", params={"dry_run": "true", "unpause": "true"},
                            headers=_headers(cluster), timeout=60)
    assert allowed.status_code == 200 and allowed.json()["unpaused"] is True, allowed.text
    assert not _paused(cluster)
    assert _wait(cluster, allowed.json()["dag_run_id"]) == "success"

    _set_paused(cluster, True)
    followed = _cli(cluster, "sync", "provider", "groq", "--dry-run", "--unpause", "--poll", "1")
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert "was paused; unpaused it (--unpause)" in followed.stdout and not _paused(cluster)


def test_row3_the_cli_prints_hostile_provider_text_escaped(providers_synced, e2e_replay, e2e_catalog):
    cluster = providers_synced
    e2e_replay.add_fault("groq", status=500, ansi=True, times=-1)
    try:
        assert _wait(cluster, _trigger(cluster, {"providers": ["groq"]})) == "failed"
    finally:
        e2e_replay.clear_faults()
    stored = e2e_catalog.execute(
        "SELECT error FROM sync_runs WHERE provider_slug = 'groq' ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert "\x1b" not in stored and "\u202e" not in stored and "\\x1b[2J" in stored
    status = _cli(cluster, "status")
    assert status.returncode == 0, status.stderr
    assert "\x1b" not in status.stdout and "\u202e" not in status.stdout and "\x9b" not in status.stdout
    assert re.search(r"^failed\s+groq .*HTTP 500 from groq: x\\x1b\[2J", status.stdout, re.M), status.stdout


def test_row4_no_plugin_route_answers_without_a_token(cluster):
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        anonymous = requests.get(f"{cluster.url}{PLUGIN}{path}", timeout=60)
        assert anonymous.status_code in (401, 403, 404), (path, anonymous.status_code)
        assert "/provider/{slug}" not in anonymous.text and "swagger" not in anonymous.text.lower()
        signed_in = requests.get(f"{cluster.url}{PLUGIN}{path}", headers=_headers(cluster), timeout=60)
        assert signed_in.status_code == 404, (path, signed_in.status_code)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/status", {"offset": str(2**63)}),
        ("/status", {"offset": "-1"}),
        ("/changes", {"before_id": str(2**63)}),
        ("/changes", {"kind": "' OR 1=1--"}),
        ("/changes", {"limit": "0"}),
    ],
)
def test_row5_query_parameters_are_bounded_and_validated(cluster, path, params):
    response = requests.get(f"{cluster.url}{PLUGIN}{path}", params=params, headers=_headers(cluster), timeout=60)
    assert response.status_code == 422, (params, response.status_code, response.text[:200])


def test_row6_ui_url_comes_from_the_configured_base_url_not_the_host_header(providers_synced):
    cluster = providers_synced
    response = requests.post(f"{cluster.url}{PLUGIN}/provider/groq", params={"dry_run": "true"},
                             headers={**_headers(cluster), "Host": "evil.example"}, timeout=60)
    assert response.status_code == 200, response.text
    run_id = response.json()["dag_run_id"]
    assert response.json()["ui_url"] == f"{cluster.url}/dags/{MODEL_DAG}/runs/{run_id}"
    assert _wait(cluster, run_id) == "success"


def test_row7_ctrl_c_leaves_the_run_going_and_the_cli_names_providers(providers_synced, e2e_replay):
    """Ctrl-C arrives while a provider is certainly still running: its listing is held until the signal is sent."""
    cluster = providers_synced
    held = threading.Event()
    e2e_replay.clear_requests()
    e2e_replay.add_fault("groq", hold=held)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "GATEWAYZ_AIRFLOW_URL": cluster.url,
           "GATEWAYZ_AIRFLOW_PASSWORD": cluster.password}
    process = subprocess.Popen(
        [sys.executable, "-m", "include.gatewayz_sync.dev.cli", "sync", "all", "--poll", "1"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if re.search(r"running: .*\bgroq\b", line):
                break
        else:
            pytest.fail("the CLI never showed the held provider running by name:\n" + "".join(lines))
        while not e2e_replay.requests_for("groq") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert e2e_replay.requests_for("groq"), "groq's listing request never reached the replay server"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        held.set()
        if process.poll() is None:
            process.kill()
        e2e_replay.clear_faults()
    assert process.returncode == 130
    assert "Traceback" not in stderr
    run_id = re.search(r"Triggered \S+: (\S+)", "".join(lines)).group(1)
    assert f"Run {run_id} of {MODEL_DAG} continues" in stderr and f"gatewayz follow {run_id}" in stderr, stderr
    assert not any(re.search(r"^\s+sync_provider\s", line) for line in lines), "mapped tasks are named by slug"
    assert _wait(cluster, run_id) == "success", "the interrupted follow did not stop the run"

    closed = f"http://127.0.0.1:{free_port()}"
    unreachable = _cli(cluster, "status", url=closed)
    assert unreachable.returncode == 1
    assert unreachable.stderr.strip().splitlines() == [
        f"error: cannot reach Airflow at {closed} (connection refused); check --url / GATEWAYZ_AIRFLOW_URL"
    ]


def test_row8_conf_is_bounded_at_the_plugin_and_checked_by_the_run(providers_synced, e2e_catalog):
    cluster = providers_synced
    headers, before = _headers(cluster), _runs(cluster)
    nested: object = {}
    for _ in range(200):
        nested = {"x": nested}
    refusals = [
        requests.post(f"{cluster.url}{PLUGIN}/all", params={"surprise": "1"}, headers=headers, timeout=60),
        requests.post(f"{cluster.url}{PLUGIN}/all", json={"dry_run": True, "surprise": 1}, headers=headers, timeout=60),
        requests.post(f"{cluster.url}{PLUGIN}/provider/groq", json={"dry_run": True, "extra": nested},
                      headers=headers, timeout=60),
        requests.post(f"{cluster.url}{PLUGIN}/all", data=b"[" * 5000, headers=headers, timeout=60),
        requests.post(f"{cluster.url}{PLUGIN}/all", json={"dry_run": "maybe"}, headers=headers, timeout=60),
    ]
    assert [r.status_code for r in refusals] == [422, 422, 422, 413, 422], [r.text[:120] for r in refusals]
    assert "surprise" in refusals[0].json()["detail"]
    assert "allowed: dry_run, allow_shrink, allow_field_loss, accept_price_jumps, unpause" in refusals[1].json()["detail"]
    assert _runs(cluster) == before, "no run was created"

    run_id = _trigger(cluster, {"providers": ["groq"], "surprise": 1})
    assert _wait(cluster, run_id) == "failed"
    status, details = e2e_catalog.execute(
        "SELECT status, details FROM model_sync_runs WHERE dag_run_id = %s", (run_id,)).fetchone()
    assert status == "failed"
    assert details["error"] == ("unknown conf key(s) ['surprise']; a model sync accepts only ['providers', 'dry_run', "
                                "'allow_shrink', 'allow_field_loss', 'accept_price_jumps']")
    assert e2e_catalog.execute("SELECT count(*) FROM sync_runs WHERE dag_run_id = %s", (run_id,)).fetchone()[0] == 0
