"""The README's first command as a newcomer runs it: `make run` in a clean checkout (the tracked files of this
tree, nothing of `.local/`), with no provider keys and no network (a network namespace of its own, only
loopback): it exits 0, prints the per-provider table, no traceback, and ends with what to do next."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster import PROJECT_ROOT
from tests.conftest import SESSION_DIR
from tests.readme import README

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

KEEP_ENV = ("HOME", "LANG", "TERM")


def clean_checkout(target: Path) -> Path:
    """The tracked (and new, unignored) files of this tree, as a clone would have them, sharing the test venv."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = PROJECT_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(Path(sys.executable).parents[1])
    return target


def offline(command: list[str]) -> list[str]:
    """`command` in a new network namespace whose only interface is loopback: no provider host is reachable."""
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("a network namespace needs root, unshare and ip")
    return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "offline", *command]


def test_make_run_on_a_fresh_checkout_offline_with_no_keys():
    assert re.search(r"^make run\b", README.read_text(), re.M), "the README's first command"
    checkout = clean_checkout(SESSION_DIR / "fresh-checkout")
    env = {name: os.environ[name] for name in KEEP_ENV if name in os.environ}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    result = subprocess.run(offline(["make", "run"]), cwd=checkout, env=env, capture_output=True, text=True,
                            timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Traceback" not in out and "Error:" not in out, out
    table = re.search(r"^provider\s+status\s+fetched\s+inserted.*$", out, re.M)
    assert table, out
    rows = dict(re.findall(r"^([a-z0-9-]+)\s+(success|failed|skipped)\s", out[table.end():], re.M))
    assert rows["openai"] == "skipped" and rows["openrouter"] == "failed", rows
    assert "could not resolve openrouter.ai for openrouter (DNS" in out
    assert "(after 3 attempts)" not in out, "a name that does not resolve is tried once"
    last = out.rstrip().splitlines()[-1]
    assert last.startswith("Next: ") and "`make demo`" in last, last

    strict = subprocess.run(offline(["make", "run", "STRICT=1"]), cwd=checkout, env=env, capture_output=True,
                            text=True, timeout=600)
    assert strict.returncode != 0 and "Traceback" not in strict.stdout + strict.stderr
