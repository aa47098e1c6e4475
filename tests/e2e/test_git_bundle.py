"""The repository as a GitDagBundle, on a real git repository: a bare `file://` repository holds this project's
HEAD, and the bundle config of docs/deploying.md names it (no `subdir`, no PYTHONPATH). The api-server, scheduler and
dag-processor (LocalExecutor) run the provider sync at that commit; a registry change committed to the bare
repository is picked up by the dag-processor, and the next run records the new commit and brings the new
provider into the catalog. The second round is docs/deploying.md's "First run" commands for the provider sync, as
written (unpausing the model sync, which starts a full sync at once, is run in test_bare_deployment).

The plugin is installed the way an image installs it (docs/deploying.md, "The plugin"): `pip install` of the repository
into the Python that runs Airflow, here a virtualenv layered on the test environment (a `.pth` line stands for
the image's own packages). It serves the status API and the page next to the bundle, and the installed
`gatewayz_sync` never shadows the bundle's `include.gatewayz_sync`: the pushed provider reaches the catalog.
"""

from __future__ import annotations

import inspect
import json
import re
import secrets
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import requests

from include.gatewayz_sync.dev.local import catalog_connection_json
from include.gatewayz_sync.sources.registry import get_provider
from tests import readme
from tests.cluster import PROJECT_ROOT, BareAirflow
from tests.conftest import PG_ADMIN_DSN, PG_USER, SESSION_DIR, admin_connection, scratch_catalog

pytestmark = pytest.mark.slow

PROBE = "bundle-probe"
PROBE_ENTRY = (
    f'_PROVIDERS = (*_PROVIDERS, Provider(slug="{PROBE}", name="Bundle Probe", color="bg-gray-500", priority=SLOW,\n'
    '    site_url="https://example.com", list_api=None, no_list_reason="added by the GitDagBundle test"))\n'
)
GIT_IDENTITY = ("-c", "user.name=gatewayz tests", "-c", "user.email=tests@gatewayz.invalid")


def git(*args: str, cwd=None) -> str:
    return subprocess.run(["git", *GIT_IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True,
                          timeout=120).stdout.strip()


def readme_git_bundle(repo_url: str) -> list[dict]:
    """The GitDagBundle config of docs/deploying.md, pointed at `repo_url` and refreshed every 5 s instead of 300."""
    (config,) = [json.loads(block) for block in readme.blocks("Deploying to your Airflow", "json")
                 if "GitDagBundle" in block]
    assert config[0]["classpath"] == "airflow.providers.git.bundles.git.GitDagBundle"
    assert "subdir" not in config[0]["kwargs"]
    config[0]["kwargs"].update(repo_url=repo_url, refresh_interval=5)
    return config


@pytest.fixture(scope="module")
def origin():
    """A bare repository holding this project's HEAD as `main`."""
    path = SESSION_DIR / f"origin-{secrets.token_hex(2)}.git"
    git("init", "--bare", "--initial-branch=main", str(path))
    git("push", str(path), "HEAD:refs/heads/main", cwd=PROJECT_ROOT)
    return path


@pytest.fixture(scope="module")
def plugin_python(origin):
    """A Python with the plugin package installed by pip from the bundle's own commit, next to Airflow."""
    venv = SESSION_DIR / f"plugin-venv-{secrets.token_hex(2)}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (site / "airflow-image.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    source = SESSION_DIR / f"plugin-source-{secrets.token_hex(2)}"
    git("clone", "--depth", "1", f"file://{origin}", str(source))
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", str(source)],
                   check=True, capture_output=True, text=True, timeout=300, cwd=venv)
    return python


@pytest.fixture(scope="module")
def git_catalog():
    with scratch_catalog("gatewayz_git_catalog") as connection:
        yield connection

@pytest.fixture(scope="module")
def deployment(origin, git_catalog, plugin_python):
    env = {"AIRFLOW_CONN_GATEWAYZ_DB": catalog_connection_json(PG_ADMIN_DSN, git_catalog.info.dbname)}
    cluster = BareAirflow(SESSION_DIR / f"git-{secrets.token_hex(2)}", admin_connection, PG_USER,
                          readme_git_bundle(f"file://{origin}"), env, airflow_command=[plugin_python, "-m", "airflow"])
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def latest_parsed_version(deployment, dag_id: str) -> str | None:
    return deployment.api("GET", f"/api/v2/dags/{dag_id}/details").json().get("bundle_version")


def test_runs_record_the_commit_and_a_pushed_registry_change_reaches_the_catalog(deployment, origin, git_catalog):
    head = git("rev-parse", "main", cwd=origin)
    assert git("rev-parse", "HEAD", cwd=PROJECT_ROOT) == head
    dags = deployment.api("GET", "/api/v2/dags").json()["dags"]
    assert {(d["dag_id"], d["bundle_name"], d["relative_fileloc"]) for d in dags} == {
        ("gatewayz_sync_providers", "gatewayz", "dags/gatewayz_sync_providers.py"),
        ("gatewayz_sync_models", "gatewayz", "dags/gatewayz_sync_models.py"),
        ("gatewayz_sync_prices", "gatewayz", "dags/gatewayz_sync_prices.py"),
        ("gatewayz_publish_catalog", "gatewayz", "dags/gatewayz_publish_catalog.py"),
    }
    assert deployment.api("GET", "/api/v2/importErrors").json()["total_entries"] == 0

    first = deployment.trigger("gatewayz_sync_providers")
    document = deployment.wait_for_run("gatewayz_sync_providers", first, timeout=180)
    assert document["state"] == "success"
    assert document["bundle_version"] == head
    assert git_catalog.execute("SELECT count(*) FROM providers WHERE is_active").fetchone()[0] == 31
    assert f"/versions/{head}/dags/gatewayz_sync_providers.py" in deployment.task_log(
        "gatewayz_sync_providers", first, "upsert_providers"
    ), "the task ran from a checkout of that commit"

    clone = SESSION_DIR / f"clone-{secrets.token_hex(2)}"
    git("clone", f"file://{origin}", str(clone))
    relative = Path(inspect.getsourcefile(get_provider)).relative_to(PROJECT_ROOT)
    source = (clone / relative).read_text()
    anchor = "\nGATEWAY_REGISTRY = validate_registry(_PROVIDERS)"
    assert anchor in source
    (clone / relative).write_text(source.replace(anchor, "\n" + PROBE_ENTRY + anchor.lstrip("\n"), 1))
    git("commit", "-am", f"Add the {PROBE} provider", cwd=clone)
    git("push", "origin", "main", cwd=clone)
    pushed = git("rev-parse", "HEAD", cwd=clone)
    assert pushed != head

    deadline = time.monotonic() + 120
    while latest_parsed_version(deployment, "gatewayz_sync_providers") != pushed:
        assert time.monotonic() < deadline, "the dag-processor did not pick up the pushed commit within 120 s"
        time.sleep(2)

    known = deployment.run_ids("gatewayz_sync_providers")
    first_run = [c for c in readme.shell_commands("Deploying to your Airflow")
                 if re.match(r"airflow dags (unpause|trigger) gatewayz_sync_providers$", c)]
    assert first_run == ["airflow dags unpause gatewayz_sync_providers", "airflow dags trigger gatewayz_sync_providers"]
    for command in first_run:
        result = deployment.shell(command)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
    (second,) = deployment.run_ids("gatewayz_sync_providers") - known
    document = deployment.wait_for_run("gatewayz_sync_providers", second, timeout=180)
    assert document["state"] == "success"
    assert document["bundle_version"] == pushed
    assert deployment.run("gatewayz_sync_providers", first)["bundle_version"] == head
    probe = git_catalog.execute("SELECT name, is_active, has_list_api FROM providers WHERE slug = %s", (PROBE,)).fetchone()
    assert probe == ("Bundle Probe", True, False)
    assert "Synced 32 providers (1 added, 0 updated, 0 deactivated, 31 unchanged)" in deployment.task_log(
        "gatewayz_sync_providers", second, "upsert_providers"
    )

    plugins = deployment.api("GET", "/api/v2/plugins").json()["plugins"]
    (plugin,) = [p for p in plugins if p["name"] == "gatewayz_catalog"]
    assert "gatewayz-catalog-sync" in plugin["source"], plugin["source"]
    assert deployment.api("GET", "/api/v2/plugins/importErrors").json()["total_entries"] == 0
    status = deployment.api("GET", "/admin/model-sync/status", params={"provider": PROBE, "limit": 5})
    assert status.status_code == 200, status.text
    assert [p["slug"] for p in status.json()["providers"]] == [PROBE], "the installed plugin reads the bundle's catalog"
    page = deployment.api("GET", "/admin/model-sync/page")
    assert page.status_code == 200 and "Bundle Probe" in page.text
    anonymous = requests.get(f"{deployment.url}/admin/model-sync/status", timeout=30)
    assert anonymous.status_code == 401

