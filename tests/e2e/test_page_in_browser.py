"""The "Model catalog" page in a real headless Chromium (Debian's package), logged in with an Airflow JWT:
fresh, stale and failed providers are visibly distinct, and the page sits in the Airflow UI's navigation."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import SESSION_DIR

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(os.environ.get("GATEWAYZ_SCREENSHOT_DIR", SESSION_DIR / "screenshots"))


@pytest.fixture
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Chromium and chromedriver are needed (Debian: apt-get install chromium chromium-driver); "
                    "`make test` installs them via scripts/ensure-test-deps")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1400,1000", f"--user-data-dir={SESSION_DIR / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait_for_run(cluster, headers, run_id: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = requests.get(f"{cluster.url}/api/v2/dags/gatewayz_sync_models/dagRuns/{run_id}", headers=headers,
                             timeout=10).json()["state"]
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

    browser.get(f"{cluster.url}/api/v2/version")
    browser.add_cookie({"name": "_token", "value": token, "path": "/"})
    browser.get(f"{cluster.url}/admin/model-sync/page")
    assert browser.title == "Model catalog"
    states = {
        row.find_element("css selector", "td:nth-child(2) b").text: row.find_element("css selector", ".badge")
        for row in browser.find_elements("css selector", "table:first-of-type tbody tr")
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
