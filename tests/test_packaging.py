"""The repository as an installable package for the Airflow plugin: pins agree with requirements.txt, and a real
`pip install` gives `gatewayz_sync` with an `airflow.plugins` entry point, its templates, and no `include`
package that could shadow a DAG bundle's versioned code."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from tests.cluster import PROJECT_ROOT


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+)$", line.split("#")[0].strip())
        if match:
            pins[re.sub(r"\[.*\]", "", match.group(1)).lower()] = match.group(2)
    return pins


def test_the_package_pins_what_requirements_pin():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    declared = _pins(project["dependencies"])
    required = _pins((PROJECT_ROOT / "requirements.txt").read_text().splitlines())
    assert len(declared) == len(project["dependencies"]), "every dependency is pinned exactly"
    assert {name: required.get(name) for name in declared} == declared


def test_pip_install_gives_the_plugin_entry_point_and_no_include_package(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target",
         str(target), str(PROJECT_ROOT)],
        check=True, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert (target / "gatewayz_sync" / "web" / "templates" / "page.html").is_file()
    assert (target / "gatewayz_sync" / "store" / "migrations" / "env.py").is_file()
    assert not (target / "include").exists()
    probe = (
        "import importlib.metadata as m, sys\n"
        "(ep,) = [e for e in m.entry_points(group='airflow.plugins') if e.dist.name == 'gatewayz-catalog-sync']\n"
        "plugin = ep.load()\n"
        "print(ep.value, plugin.name, plugin.fastapi_apps[0]['url_prefix'])\n"
        "import importlib.util\n"
        "print('include' in sys.modules, importlib.util.find_spec('include') is None)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "gatewayz_sync.web.plugin:GatewayzCatalogPlugin gatewayz_catalog /admin/model-sync",
        "False True",
    ]
