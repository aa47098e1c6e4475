"""The real clients that read the published catalog: their venv (scripts/ensure-client-venv, the same command
`make test` runs), loopback HTTP servers for the published files, and a runner for the scripts in tests/clients/."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

from tests import loopback

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLIENTS = PROJECT_ROOT / "tests" / "clients"
REFUSED_LITELLM = ("1.82.7", "1.82.8")


def client_python() -> Path:
    """The clients' interpreter, installing the venv first if `make test` has not (about 1-2 minutes, once)."""
    subprocess.run([str(PROJECT_ROOT / "scripts" / "ensure-client-venv")], check=True, timeout=900)
    venv = Path(os.environ.get("GATEWAYZ_CLIENTS_VENV") or PROJECT_ROOT / ".local" / "clients-venv")
    return (venv if venv.is_absolute() else PROJECT_ROOT / venv) / "bin" / "python"


def run_client(script: str, *args: str, stdin: dict | None = None, env: dict[str, str] | None = None,
               timeout: float = 300) -> dict:
    """Run tests/clients/<script> in the clients' venv; its JSON output. Only loopback and the given env reach it."""
    environment = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    environment |= {"NO_PROXY": "127.0.0.1,localhost", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    completed = subprocess.run([str(client_python()), str(CLIENTS / script), *args], input=json.dumps(stdin or {}),
                               capture_output=True, text=True, env=environment, timeout=timeout, check=False)
    assert completed.returncode == 0, f"{script} failed:\n{completed.stderr[-4000:]}"
    return json.loads(completed.stdout)


def serve_directory(directory: Path):
    """The published folder as a static web server on loopback, as a bucket behind a CDN would serve it."""
    return loopback.serve_directory(directory)


@contextlib.contextmanager
def serve_models_list(models_json: Path):
    """An OpenAI-compatible base URL on loopback: `GET /v1/models` answers the published models.json."""
    with loopback.serve_document(models_json.read_bytes, "application/json", path="/v1/models") as url:
        yield f"{url}/v1"
