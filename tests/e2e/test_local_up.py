"""`make up DEMO=1` end to end, through the code path the Makefile runs (`python -m include.gatewayz_sync.dev.up`),
in a `.local/` of its own (GATEWAYZ_LOCAL_DIR) on a free port: the printed logins (an admin and a read-only
monitor from AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS), every catalog DAG unpaused, a second `up`, the catch-up
model sync, the UI login of every user and the trigger form in a real headless Chromium, the README tour's
commands as written, and `down` leaving no process and no port behind."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from include.gatewayz_sync.dev.deployment import port_is_free
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from tests import readme
from tests.cluster import PROJECT_ROOT, free_port
from tests.conftest import SESSION_DIR
from tests.e2e.test_operations import SCREENSHOTS, headless_chromium

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

MODEL_DAG = "gatewayz_sync_models"
DIALOG = "[data-scope='dialog'][data-part='content']"
TOUR_HEADING = "## `make up`: the real Airflow, locally"


class LocalUp:
    def __init__(self, local_dir: Path, port: int):
        self.local_dir = local_dir
        self.port = port
        self.url = f"http://localhost:{port}"
        self.env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(PROJECT_ROOT),
            "GATEWAYZ_LOCAL_DIR": str(local_dir),
            "PORT": str(port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,monitor:viewer",
        }
        self.output = ""
        self.password = ""
        self.passwords: dict[str, str] = {}
        self._token = ""

    def command(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "include.gatewayz_sync.dev.up", *args], env=self.env,
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)

    def state(self) -> dict:
        return json.loads((self.local_dir / "up" / "state.json").read_text())

    def supervised(self) -> dict:
        return json.loads((self.local_dir / "up" / "supervisor.json").read_text())["components"]

    def token(self) -> str:
        """One login per deployment: the polls below would otherwise log in every few seconds."""
        if not self._token:
            response = requests.post(f"{self.url}/auth/token", json={"username": "admin", "password": self.password},
                                     timeout=120)
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return self._token

    def api(self, path: str, **params) -> dict:
        response = requests.get(f"{self.url}/api/v2{path}", params=params, timeout=120,
                                headers={"Authorization": f"Bearer {self.token()}"})
        response.raise_for_status()
        return response.json()

    def catalog(self):
        import psycopg

        return psycopg.connect(host=self.state()["socket_dir"], user="postgres", dbname="gatewayz_demo", autocommit=True)

    def wait_for_run(self, run_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.api(f"/dags/{MODEL_DAG}/dagRuns/{run_id}")
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(2)
        raise TimeoutError(f"{run_id} did not finish within {timeout} s")

    def wait_until_idle(self, timeout: float = 900) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.api(f"/dags/{MODEL_DAG}/dagRuns", limit=100)["dag_runs"]
            if runs and all(run["state"] in ("success", "failed") for run in runs):
                return runs
            time.sleep(3)
        raise TimeoutError(f"model runs still active after {timeout} s")


@pytest.fixture(scope="module")
def local_up():
    deployment = LocalUp(SESSION_DIR / f"local-up-{secrets.token_hex(2)}", free_port())
    started = time.monotonic()
    result = deployment.command("up", "--demo")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        print(f"make up DEMO=1 took {time.monotonic() - started:.0f} s")
        deployment.output = result.stdout
        deployment.password = re.search(r"^  password  (\S+)$", result.stdout, re.M).group(1)
        deployment.passwords = {"admin": deployment.password, **dict(
            re.findall(r"^  also      (\S+) \(viewer\), password (\S+)$", result.stdout, re.M))}
        yield deployment
    finally:
        if (deployment.local_dir / "up" / "state.json").exists():
            deployment.command("down", timeout=300)


def test_up_prints_the_login_and_next_commands_and_a_second_up_finds_it_running(local_up):
    out = local_up.output
    assert f"UI        {local_up.url}" in out
    assert "user      admin" in out
    assert f"export GATEWAYZ_AIRFLOW_URL={local_up.url} GATEWAYZ_AIRFLOW_PASSWORD={local_up.password}" in out
    for command in ("scripts/gatewayz sync provider openrouter", "curl -s", "scripts/airflow dags", "make down"):
        assert command in out, command
    assert re.search(r"Provider sync manual__\S+: success\.", out), out
    assert "Every provider points at the replay server" in out
    state = local_up.state()
    assert [p["name"] for p in state["processes"]] == ["postgres", "supervisor"]
    assert list(local_up.supervised()) == ["replay", "api-server", "scheduler", "dag-processor", "triggerer"]
    assert 8793 not in state["ports"].values() and 8794 not in state["ports"].values()
    catalog_dags = ("gatewayz_sync_providers", "gatewayz_sync_prices", "gatewayz_publish_catalog", MODEL_DAG)
    for dag_id in catalog_dags:
        assert local_up.api(f"/dags/{dag_id}")["is_paused"] is False, "each model sync is priced and published"
        assert f"unpaused {dag_id}\n" in out
    assert f"Unpaused: {', '.join(catalog_dags)}." in out

    assert set(local_up.passwords) == {"admin", "monitor"}
    stored = json.loads((local_up.local_dir / "up" / "airflow" / "passwords.json").read_text())
    assert stored == local_up.passwords, "the passwords file holds every user"
    monitor = requests.post(f"{local_up.url}/auth/token", timeout=120,
                            json={"username": "monitor", "password": local_up.passwords["monitor"]})
    assert monitor.status_code in (200, 201), monitor.text
    read_only = {"Authorization": f"Bearer {monitor.json()['access_token']}"}
    health = requests.get(f"{local_up.url}/admin/model-sync/health", headers=read_only, timeout=120)
    assert health.status_code in (200, 503) and "components" in health.json(), "a monitor reads /health"
    refused = requests.patch(f"{local_up.url}/api/v2/dags/{MODEL_DAG}", json={"is_paused": True}, headers=read_only,
                             timeout=120)
    assert refused.status_code == 403, "a viewer cannot pause"

    started = time.monotonic()
    again = local_up.command("up", "--demo", timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"Airflow is already running at {local_up.url}" in again.stdout
    assert time.monotonic() - started < 60
    assert local_up.state()["processes"] == state["processes"]
    switch = local_up.command("up", timeout=120)
    assert switch.returncode == 1 and "make down` first" in switch.stdout

    try:
        local_up.command("logs", "--lines", "3", timeout=5)
    except subprocess.TimeoutExpired as following:
        logs = (following.stdout or b"").decode(errors="replace")
    else:
        pytest.fail("make logs should keep following the logs")
    assert "==> " in logs and "scheduler.log" in logs and "supervisor.log" in logs
    assert re.search(r"^\S+ triggerer started \(pid \d+\)$", logs, re.M), "the supervisor's log, each start"


def test_the_catch_up_model_sync_loads_every_provider_like_make_demo(local_up):
    runs = local_up.wait_until_idle()
    assert [(run["run_type"], run["state"]) for run in runs] == [("scheduled", "success")], runs
    with local_up.catalog() as catalog:
        statuses = dict(catalog.execute(
            "SELECT status, count(*) FROM sync_runs WHERE dag_run_id = %s GROUP BY status", (runs[0]["dag_run_id"],)
        ).fetchall())
        assert statuses == {"success": 29, "skipped": 2}
        assert catalog.execute("SELECT count(*) FROM models WHERE is_active").fetchone()[0] == 1263
    manifest, deadline = local_up.local_dir / "up" / "published" / "manifest.json", time.monotonic() + 300
    while time.monotonic() < deadline:  # the model sync's asset starts the publish (and the price run another)
        if manifest.exists() and json.loads(manifest.read_bytes())["files"]["catalog"]["models"] == 1263:
            break
        time.sleep(5)
    else:
        pytest.fail(f"no publish of the synced catalog under {manifest.parent} within 300 s")
    assert (manifest.parent / "model_prices_and_context_window.json").is_file()


@pytest.fixture
def chromium():
    with headless_chromium("chromium-local-up", height=1100, page_load_timeout=90, width=1400) as driver:
        yield driver


def test_every_listed_user_logs_in_to_the_airflow_ui(local_up, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(chromium, 120)
    for user, password in local_up.passwords.items():
        chromium.delete_all_cookies()
        chromium.get(f"{local_up.url}/dags")
        wait.until(EC.presence_of_element_located((By.NAME, "username"))).send_keys(user)
        chromium.find_element(By.NAME, "password").send_keys(password)
        chromium.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
        wait.until(EC.presence_of_element_located((By.XPATH, f"//a[contains(@href, '/dags/{MODEL_DAG}')]")))
        token = chromium.get_cookie("_token")
        assert token, f"{user} has a session"
        who = requests.get(f"{local_up.url}/api/v2/dags/{MODEL_DAG}", timeout=120,
                           headers={"Authorization": f"Bearer {token['value']}"})
        assert who.status_code == 200, (user, who.text)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert chromium.save_screenshot(str(SCREENSHOTS / f"ui-login-{user}.png"))
    chromium.delete_all_cookies()


def test_the_trigger_form_runs_the_one_provider_chosen(local_up, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    local_up.wait_until_idle()
    with local_up.catalog() as catalog:
        last_row = catalog.execute("SELECT coalesce(max(id), 0) FROM sync_runs").fetchone()[0]
    wait = WebDriverWait(chromium, 120)
    chromium.get(f"{local_up.url}/dags/{MODEL_DAG}")
    wait.until(EC.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
    chromium.find_element(By.NAME, "password").send_keys(local_up.password)
    chromium.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"))).click()
    dialog = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, DIALOG)))
    assert dialog.find_elements(By.CSS_SELECTOR, ".chakra-field__requiredIndicator") == []

    combobox = dialog.find_element(By.CSS_SELECTOR, "#element_providers input[role='combobox']")
    combobox.click()
    option_path = "//div[@id='element_providers']//div[contains(@id,'-option-')]"
    options = wait.until(EC.presence_of_all_elements_located((By.XPATH, option_path)))
    assert sorted(option.text for option in options) == sorted(p.name for p in GATEWAY_REGISTRY.values())
    combobox.send_keys("OpenRouter")
    wait.until(EC.element_to_be_clickable((By.XPATH, f"{option_path}[normalize-space()='OpenRouter']"))).click()
    chosen = dialog.find_element(By.CSS_SELECTOR, "#element_providers input[type='hidden'][name='element_providers']")
    assert chosen.get_attribute("value") == "openrouter"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    form_shot = SCREENSHOTS / "trigger-form-openrouter.png"
    assert chromium.save_screenshot(str(form_shot))
    dialog.find_element(By.XPATH, ".//button[normalize-space()='Trigger']").click()
    wait.until(EC.invisibility_of_element_located((By.CSS_SELECTOR, DIALOG)))

    run_id = wait.until(lambda driver: re.search(r"/runs/([^/?#]+)$", driver.current_url)).group(1)
    run_id = requests.utils.unquote(run_id)
    run = local_up.wait_for_run(run_id)
    assert run["state"] == "success"
    assert run["conf"]["providers"] == ["openrouter"]
    with local_up.catalog() as catalog:
        new_rows = catalog.execute(
            "SELECT dag_run_id, provider_slug, status FROM sync_runs WHERE id > %s", (last_row,)
        ).fetchall()
    assert new_rows == [(run_id, "openrouter", "success")]
    chromium.refresh()
    wait.until(EC.presence_of_element_located((By.XPATH, "//*[normalize-space()='openrouter']")))
    run_shot = SCREENSHOTS / "trigger-form-run.png"
    assert chromium.save_screenshot(str(run_shot))
    assert form_shot.stat().st_size > 10_000 and run_shot.stat().st_size > 10_000
    print(f"screenshots: {form_shot} {run_shot}")


def _tour_blocks() -> list[str]:
    tour = readme.section(TOUR_HEADING.removeprefix("## "))
    return re.findall(r"```bash\n(.*?)```", tour, re.S)


def _json_documents(text: str) -> list:
    """The JSON documents curl printed back to back."""
    decoder, documents, position = json.JSONDecoder(), [], 0
    text = text.strip()
    while position < len(text):
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
        position += len(text[position:]) - len(text[position:].lstrip())
    return documents


def test_the_readme_tour_commands_work_as_written(local_up):
    blocks = _tour_blocks()
    assert len(blocks) == 2 and "scripts/gatewayz sync provider openrouter" in blocks[0] and "curl" in blocks[1]
    env = {**local_up.env, "GATEWAYZ_AIRFLOW_URL": local_up.url, "GATEWAYZ_AIRFLOW_PASSWORD": local_up.password}
    outputs = []
    for block in blocks:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], env=env, cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, block + result.stdout + result.stderr
        outputs.append(result.stdout)
    cli, rest = outputs
    assert re.search(r"^Run manual__\S+: success$", cli, re.M), cli
    assert re.search(r"^fresh\s+openrouter\s+225\s", cli, re.M), cli
    assert "scheduled__" in cli.split("next model sync:")[-1], "scripts/airflow dags list-runs lists the model runs"

    run, status = _json_documents(rest)
    assert run["conf"] == {"providers": ["anthropic"]} and run["state"] in ("queued", "running", "success")
    assert [provider["slug"] for provider in status["providers"]] == ["anthropic"]
    run_id = run["dag_run_id"]
    assert local_up.wait_for_run(run_id)["state"] == "success"
    with local_up.catalog() as catalog:
        rows = catalog.execute("SELECT provider_slug, status FROM sync_runs WHERE dag_run_id = %s", (run_id,)).fetchall()
    assert rows == [("anthropic", "success")]


def test_down_stops_every_process_it_started_and_frees_the_ports(local_up):
    state = local_up.state()
    started = []
    for record in state["processes"]:
        process = psutil.Process(record["pid"])
        started += [(p.pid, p.create_time()) for p in [process, *process.children(recursive=True)]]
    assert len(started) > len(state["processes"]), "the components have children (workers, backends)"

    result = local_up.command("down", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("supervisor", "triggerer", "dag-processor", "scheduler", "api-server", "replay", "postgres"):
        assert re.search(rf"^  {name}\s+(stopped|killed after \d+ s) \(pid \d+\)$", result.stdout, re.M), result.stdout

    def still_ours(pid: int, create_time: float) -> bool:
        try:
            return abs(psutil.Process(pid).create_time() - create_time) < 0.5
        except psutil.NoSuchProcess:
            return False

    assert [pid for pid, created in started if still_ours(pid, created)] == []
    assert [port for port in state["ports"].values() if not port_is_free(port)] == []
    assert not (local_up.local_dir / "up" / "state.json").exists()
    again = local_up.command("down", timeout=60)
    assert again.returncode == 0 and "nothing to stop" in again.stdout
