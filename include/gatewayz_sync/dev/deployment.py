"""What `make up` deploys: where it lives under `.local/up/`, the settings it reads, the environment every Airflow
component shares, and the record of what is running (`state.json`), which `make down` and `make logs` read.

Settings come from the environment and from the project's `.env` file, in the form docker-compose.yaml reads
(`OPENAI_API_KEY=...`, `AIRFLOW_CONN_GATEWAYZ_OPENAI=...`, `AIRFLOW_ADMIN_PASSWORD=...`); the environment wins,
as it does for compose. The logins are Airflow's own `AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS` (`user:role,...`)
plus the admin `make up` itself logs in as; the passwords file holds a password for every one of them.
"""

from __future__ import annotations

import compileall
import json
import os
import secrets
import shlex
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .local import CATALOG_ENV, LOCAL_DIR, LOCAL_TASK_DEFAULTS, PROJECT_ROOT, airflow_home_settings, demo_environment
from .processes import StartedProcess

UP_DIR = LOCAL_DIR / "up"
AIRFLOW_HOME = UP_DIR / "airflow"
LOG_DIR = UP_DIR / "logs"
STATE_FILE = UP_DIR / "state.json"
PUBLISHED_DIR = UP_DIR / "published"  # GATEWAYZ_PUBLISH_URL unless .env or the environment names another
SECRETS_FILE = UP_DIR / "secrets.json"
PASSWORDS_FILE = AIRFLOW_HOME / "passwords.json"
SUPERVISOR_PLAN = UP_DIR / "supervisor-plan.json"
SUPERVISOR_STATUS = UP_DIR / "supervisor.json"
USERS_SETTING = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"
ROLES = ("viewer", "user", "op", "admin")
AIRFLOW_ENV_SCRIPT = UP_DIR / "airflow-env.sh"
DOTENV_FILE = PROJECT_ROOT / ".env"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
PROJECT_CODE = tuple(PROJECT_ROOT / folder for folder in ("dags", "include", "plugins"))


def read_settings(environ: Mapping[str, str] = os.environ, dotenv_file: Path = DOTENV_FILE) -> dict[str, str]:
    """`.env` (when present) overlaid by the environment."""
    from dotenv import dotenv_values

    from_file = dotenv_values(dotenv_file) if dotenv_file.exists() else {}
    return {**{k: v for k, v in from_file.items() if v is not None}, **environ}


def compile_bytecode(folders: Iterable[Path] = PROJECT_CODE) -> None:
    """Compile the project's modules before Airflow starts (a module that does not compile is printed, and fails
    where it is imported, as it would without this).

    Every task process imports the DAG file and this package afresh. Where Python may not write bytecode
    (PYTHONDONTWRITEBYTECODE, set on the machines this project is tested on, or a read-only checkout) each one
    would compile every module from source again: 0.02-0.04 s of every task. Python checks a cached file against
    its source, so an edit later only costs that module's compile until the next deploy.
    """
    for folder in folders:
        if folder.is_dir():
            compileall.compile_dir(str(folder), quiet=1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Nothing listens on `port` (connections of a stopped server in TIME_WAIT do not count, as for any server)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def fernet_key(settings: Mapping[str, str]) -> str:
    """AIRFLOW_FERNET_KEY, else one generated once and kept: connections saved in the UI stay readable."""
    if settings.get("AIRFLOW_FERNET_KEY"):
        return settings["AIRFLOW_FERNET_KEY"]
    stored = json.loads(SECRETS_FILE.read_text()) if SECRETS_FILE.exists() else {}
    if not stored.get("fernet_key"):
        from cryptography.fernet import Fernet

        stored["fernet_key"] = Fernet.generate_key().decode()
        _write_private(SECRETS_FILE, json.dumps(stored))
    return stored["fernet_key"]


@dataclass(frozen=True)
class Logins:
    """Every login of the deployment: user -> role in the order given, the admin `make up` uses, and passwords."""

    admin: str
    roles: dict[str, str]
    passwords: dict[str, str]

    @property
    def users_setting(self) -> str:
        return ",".join(f"{user}:{role}" for user, role in self.roles.items())


class LoginError(ValueError):
    """A users setting `make up` cannot run with; the message says what to change."""


def parse_users(value: str) -> dict[str, str]:
    """`user:role,user:role` (Airflow's simple auth manager form) -> user -> role; a wrong entry is a LoginError."""
    roles: dict[str, str] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        user, _, role = entry.partition(":")
        if not user or role.lower() not in ROLES:
            raise LoginError(f"{USERS_SETTING}: {entry!r} is not user:role with a role of {', '.join(ROLES)}")
        roles[user] = role.lower()
    return roles


def logins(settings: Mapping[str, str]) -> Logins:
    """The users of `AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS` (environment or `.env`), plus AIRFLOW_ADMIN_USER
    (default admin) as an admin when the list lacks it: `make up` runs the deploy hook as that user. Passwords:
    AIRFLOW_ADMIN_PASSWORD for the admin, else the one the passwords file already holds, else one generated once;
    all are written to the passwords file, which Airflow reads."""
    admin = settings.get("AIRFLOW_ADMIN_USER") or "admin"
    roles = parse_users(settings.get(USERS_SETTING) or "")
    if roles.get(admin, "admin") != "admin":
        raise LoginError(f"{USERS_SETTING} gives {admin} the role {roles[admin]}, but make up logs in as {admin} to "
                         "run the deploy hook: give it the admin role, or set AIRFLOW_ADMIN_USER to an admin")
    roles = {admin: "admin", **roles}
    known = json.loads(PASSWORDS_FILE.read_text()) if PASSWORDS_FILE.exists() else {}
    passwords = {user: known.get(user) or secrets.token_urlsafe(12) for user in roles}
    if settings.get("AIRFLOW_ADMIN_PASSWORD"):
        passwords[admin] = settings["AIRFLOW_ADMIN_PASSWORD"]
    _write_private(PASSWORDS_FILE, json.dumps(passwords))
    return Logins(admin, roles, passwords)


def read_password(user: str) -> str:
    return json.loads(PASSWORDS_FILE.read_text()).get(user, "")


@dataclass
class Deployment:
    """One `make up`: its address, mode, ports and the processes it started (in start order)."""

    port: int
    demo: bool
    user: str
    metadata_database: str
    catalog: str
    socket_dir: str | None = None
    users: str = ""
    ports: dict[str, int] = field(default_factory=dict)
    processes: list[StartedProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def local_url(self) -> str:
        """The same server by address, for this module's own requests (no IPv6 first attempt)."""
        return f"http://127.0.0.1:{self.port}"

    def save(self) -> None:
        document = {**self.__dict__, "processes": [p.as_dict() for p in self.processes]}
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        temporary = STATE_FILE.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=2))
        temporary.replace(STATE_FILE)

    @classmethod
    def load(cls) -> Deployment | None:
        if not STATE_FILE.exists():
            return None
        document = json.loads(STATE_FILE.read_text())
        document["processes"] = [StartedProcess.from_dict(p) for p in document["processes"]]
        return cls(**document)

    def record(self, process: StartedProcess) -> None:
        self.processes.append(process)
        self.save()

    def supervised(self) -> dict[str, tuple[StartedProcess | None, str]]:
        """The components the supervisor runs, in start order: name -> (the live record or None, its state)."""
        document = json.loads(SUPERVISOR_STATUS.read_text()) if SUPERVISOR_STATUS.exists() else {"components": {}}
        found = {}
        for name, entry in document["components"].items():
            record = StartedProcess(name, entry["pid"], entry["create_time"]) if entry.get("pid") else None
            found[name] = (record, entry.get("state", "unknown"))
        return found


def airflow_environment(settings: Mapping[str, str], deployment: Deployment, *, metadata_url: str,
                        catalog_connection: str | None, replay_url: str | None, jwt_secret: str,
                        users_setting: str | None = None) -> dict[str, str]:
    """The environment of every component (and of `scripts/airflow`): one JWT secret, one Fernet key."""
    env: dict[str, Any] = dict(settings)
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    if replay_url:
        for name in [n for n in env if n.startswith("AIRFLOW_CONN_GATEWAYZ_") and n != CATALOG_ENV]:
            del env[name]  # a connection's host would win over the replay server
        env.update(demo_environment(replay_url))
    for name, value in {**LOCAL_TASK_DEFAULTS, "AIRFLOW__CORE__PARALLELISM": "8"}.items():
        env.setdefault(name, value)
    if catalog_connection:
        env[CATALOG_ENV] = catalog_connection
    env.setdefault("GATEWAYZ_PUBLISH_URL", f"file://{PUBLISHED_DIR}")
    env.update(airflow_home_settings(AIRFLOW_HOME, metadata_url))
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            USERS_SETTING: users_setting or f"{deployment.user}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(PASSWORDS_FILE),
            "AIRFLOW__CORE__FERNET_KEY": fernet_key(settings),
            "AIRFLOW__API_AUTH__JWT_SECRET": settings.get("AIRFLOW_JWT_SECRET") or jwt_secret,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{deployment.local_url}/execution/",
            "AIRFLOW__API__BASE_URL": deployment.url,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(deployment.ports["worker-log-server"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(deployment.ports["trigger-log-server"]),
            "GATEWAYZ_SUPERVISOR_STATUS": str(SUPERVISOR_STATUS),
        }
    )
    return env


def write_airflow_env_script(env: Mapping[str, str], inherited: Mapping[str, str] = os.environ) -> None:
    """What `scripts/airflow` sources: every setting the deployment added to the inherited environment."""
    lines = [
        f"export {name}={shlex.quote(value)}"
        for name, value in sorted(env.items())
        if inherited.get(name) != value and name.isidentifier()
    ]
    _write_private(AIRFLOW_ENV_SCRIPT, "\n".join(lines) + "\n")
