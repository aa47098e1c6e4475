"""End to end on real Airflow components (api-server, scheduler, dag-processor, two Celery workers):
the CLI client, the REST API, the status plugin, the catalog tables, work spread over both workers, and the
"Model catalog" page in a real headless Chromium (Debian's package), with a screenshot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.cluster import PROJECT_ROOT
from tests.conftest import SESSION_DIR

pytestmark = pytest.mark.slow


def gatewayz(cluster, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "GATEWAYZ_AIRFLOW_URL": cluster.url,
        "GATEWAYZ_AIRFLOW_PASSWORD": cluster.password,
    }
    return subprocess.run(
        [sys.executable, "-m", "include.gatewayz_sync.dev.cli", *args, "--poll", "1"] if args[0] == "sync"
        else [sys.executable, "-m", "include.gatewayz_sync.dev.cli", *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )


def run_id_of(output: str) -> str:
    return re.search(r"Triggered \S+: (\S+)", output).group(1)


def test_operations_end_to_end(cluster, e2e_catalog, e2e_replay):
    unknown = gatewayz(cluster, "sync", "provider", "not-a-provider")
    assert unknown.returncode == 2
    assert "Valid slugs: aihubmix, aimo" in unknown.stderr
    assert e2e_replay.requests == []

    providers = gatewayz(cluster, "sync", "providers", "--unpause")
    assert providers.returncode == 0, providers.stdout + providers.stderr
    assert e2e_catalog.execute("SELECT count(*) FROM providers WHERE is_active").fetchone()[0] == 31
    catalog_dags = ("gatewayz_sync_providers", "gatewayz_sync_prices", "gatewayz_publish_catalog",
                    "gatewayz_sync_models")
    assert "gatewayz_sync_providers was paused; unpaused it (--unpause)" in providers.stdout
    for dag_id in catalog_dags[1:]:
        assert re.search(rf"^unpaused {dag_id}$", providers.stdout, re.M), providers.stdout
    assert f"Unpaused: every DAG the catalog needs runs ({', '.join(catalog_dags)})" in providers.stdout
    for dag_id in catalog_dags:
        assert cluster.api("GET", f"/api/v2/dags/{dag_id}").json()["is_paused"] is False, dag_id
    # Unpausing the model DAG started the run its schedule missed; let it end, then pause it as an operator would.
    catch_up = cluster.wait_for_new_run("gatewayz_sync_models", set(), "scheduled")
    assert cluster.wait_for_run("gatewayz_sync_models", catch_up, timeout=600)["state"] == "success"
    cluster.api("PATCH", "/api/v2/dags/gatewayz_sync_models", json={"is_paused": True}).raise_for_status()

    paused = gatewayz(cluster, "sync", "all")
    assert paused.returncode == 1 and "gatewayz_sync_models is paused, so no run was created" in paused.stderr
    full = gatewayz(cluster, "sync", "all", "--unpause")
    assert full.returncode == 0, full.stdout + full.stderr
    full_run = run_id_of(full.stdout)
    assert "gatewayz_sync_models was paused; unpaused it (--unpause)" in full.stdout
    for line in ("openrouter", "anthropic"):
        assert re.search(rf"^\s+{line}\s+(running|success)", full.stdout, re.M), full.stdout
    for line in ("alpaca", "simplismart"):
        assert re.search(rf"^\s+{line}\s+skipped: no public model list API$", full.stdout, re.M), full.stdout
    assert "[31/31 providers done" in full.stdout, "a provider skipped without a task still counts"
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
        assert requests.get(cluster.url + path, timeout=60).status_code == 401
        assert requests.get(cluster.url + path, headers={"Authorization": "Bearer forged.jwt.token"},
                            timeout=60).status_code in (401, 403)
        assert requests.get(cluster.url + path, headers=authorized, timeout=60).status_code == 200
    for path in ("/admin/model-sync/all", "/admin/model-sync/provider/groq"):
        assert requests.post(cluster.url + path, timeout=60).status_code == 401

    document = requests.get(cluster.url + "/admin/model-sync/status", headers=authorized, timeout=60).json()
    openrouter = next(p for p in document["providers"] if p["slug"] == "openrouter")
    assert openrouter["state"] == "fresh" and openrouter["active_models"] == 225
    assert openrouter["last_attempt"]["counts"]["fetched"] == 225
    assert document["totals"]["active_models"] == 1263
    assert document["next_model_sync"]["next_run_after"] is not None
    changes = requests.get(cluster.url + "/admin/model-sync/changes", params={"provider": "xai", "kind": "added", "limit": 2},
                           headers=authorized, timeout=60).json()
    assert len(changes["changes"]) == 2 and changes["next_before_id"] is not None
    assert {c["kind"] for c in changes["changes"]} == {"added"}

    missing = requests.post(cluster.url + "/admin/model-sync/provider/not-a-provider", headers=authorized, timeout=60)
    assert missing.status_code == 404 and "unknown provider 'not-a-provider'" in missing.json()["detail"]
    dry = requests.post(cluster.url + "/admin/model-sync/provider/groq", params={"dry_run": "true"},
                        headers=authorized, timeout=30)
    assert dry.status_code == 200, dry.text
    assert dry.json()["conf"] == {"providers": ["groq"], "dry_run": True}
    assert dry.json()["ui_url"].endswith(f"/dags/gatewayz_sync_models/runs/{dry.json()['dag_run_id']}")

    before = requests.get(cluster.url + "/api/v2/dags/gatewayz_sync_models/dagRuns", headers=authorized,
                          timeout=60).json()["total_entries"]
    for bad_conf in ({"providers": ["nope"]}, {"providers": "openai"}, {"providers": ["'; DROP TABLE models; --"]}):
        refused = requests.post(cluster.url + "/api/v2/dags/gatewayz_sync_models/dagRuns", headers=authorized,
                                json={"logical_date": None, "conf": bad_conf}, timeout=60)
        assert refused.status_code == 400, refused.text
    after = requests.get(cluster.url + "/api/v2/dags/gatewayz_sync_models/dagRuns", headers=authorized,
                         timeout=60).json()["total_entries"]
    assert after == before

    plugins = requests.get(cluster.url + "/api/v2/plugins", headers=authorized, timeout=60).json()["plugins"]
    views = [view for plugin in plugins for view in plugin["external_views"]]
    assert any(view["name"] == "Model catalog" and view["href"] == "/admin/model-sync/page" for view in views)

    received = [cluster.log_text(f"worker-{n}").count("execute_workload") for n in (1, 2)]
    assert all(count > 0 for count in received), f"tasks per worker: {received}"


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(os.environ.get("GATEWAYZ_SCREENSHOT_DIR", SESSION_DIR / "screenshots"))


@contextmanager
def headless_chromium(profile: str, height: int, page_load_timeout: float, width: int = 1600):
    """Debian's Chromium driven by chromedriver, headless, with a profile of its own under the session folder; its
    viewport (and so each screenshot) is exactly `width` x `height`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--window-size={width},{height}", f"--user-data-dir={SESSION_DIR / profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    driver.set_page_load_timeout(page_load_timeout)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver); "
                    "`make test` installs them via scripts/ensure-test-deps")
    with headless_chromium("chromium-profile", height=1000, page_load_timeout=60) as driver:
        yield driver


def _wait_for_run(cluster, headers, run_id: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = requests.get(f"{cluster.url}/api/v2/dags/gatewayz_sync_models/dagRuns/{run_id}", headers=headers,
                             timeout=60).json()["state"]
        if state in ("success", "failed"):
            return state
        time.sleep(1)
    raise TimeoutError(run_id)


def test_model_catalog_page_in_chromium(cluster, e2e_catalog, e2e_replay, browser):
    token = cluster.token()
    headers = {"Authorization": f"Bearer {token}"}
    e2e_replay.add_fault("groq", status=503, times=-1)
    try:
        run = requests.post(f"{cluster.url}/admin/model-sync/provider/groq", headers=headers, timeout=30).json()
        assert _wait_for_run(cluster, headers, run["dag_run_id"]) == "failed"
    finally:
        e2e_replay.clear_faults()
    e2e_catalog.execute(
        "UPDATE sync_runs SET started_at = started_at - interval '20 hours', "
        "finished_at = finished_at - interval '20 hours' WHERE provider_slug = 'mistral'"
    )
    health = requests.get(f"{cluster.url}/admin/model-sync/health", headers=headers, timeout=60)
    assert health.status_code == 503
    assert [entry["slug"] for entry in health.json()["stale"]] == ["mistral"]

    browser.get(f"{cluster.url}/api/v2/version")
    browser.add_cookie({"name": "_token", "value": token, "path": "/"})
    browser.get(f"{cluster.url}/admin/model-sync/page")
    assert browser.title == "Model catalog"
    states = {
        row.find_element("css selector", "td:nth-child(2) b").text: row.find_element("css selector", ".badge")
        for row in browser.find_elements("css selector", "#providers tbody tr")
    }
    assert states["openrouter"].text == "fresh"
    assert states["mistral"].text == "stale"
    assert states["groq"].text == "failed"
    assert states["alpaca"].text == "no-api"
    colours = {name: states[name].value_of_css_property("background-color") for name in ("openrouter", "mistral", "groq")}
    assert len(set(colours.values())) == 3, colours
    assert "HTTP 503 from groq" in browser.page_source
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page_shot = SCREENSHOTS / "model-catalog-page.png"
    assert browser.save_screenshot(str(page_shot))
    assert page_shot.stat().st_size > 10_000

    browser.get(f"{cluster.url}/plugin/model-catalog")
    time.sleep(3)
    ui_shot = SCREENSHOTS / "model-catalog-in-airflow-ui.png"
    assert browser.save_screenshot(str(ui_shot))
    frames = browser.find_elements("css selector", "iframe")
    assert any("/admin/model-sync/page" in (frame.get_attribute("src") or "") for frame in frames)
    print(f"screenshots: {page_shot} {ui_shot}")
