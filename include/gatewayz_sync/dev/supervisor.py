"""`make up`'s supervisor: keeps the Airflow components (and the demo's replay server) running.

    python -m include.gatewayz_sync.dev.supervisor PLAN.json

A component that exits is started again after a backoff that doubles from 1 s to at most 60 s; one that stayed
up for `STABLE_SECONDS` starts over at 1 s. After `MAX_QUICK_RESTARTS` restarts in a row that did not stay up
(a broken setting would otherwise loop for ever) the supervisor gives up on that component and says so; `/health`
names it. A few seconds without the database kill the scheduler, the dag-processor and the triggerer
(`AdminShutdown`): they come back on their own once it answers again.

Every exit, restart and surrender is a line in `supervisor.log` (`make logs` follows it), and the record in
`supervisor.json` (each component's pid and start time, state, restarts, last exit) is what `make up`, `make down`
and `/admin/model-sync/health` read. On SIGTERM the supervisor stops supervising and exits, leaving the components
to `make down`, which stops them by that record. PostgreSQL is not supervised: an outage is the database's
operator's business, and the components outlive it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .processes import StartedProcess

FIRST_BACKOFF, MAX_BACKOFF = 1.0, 60.0
STABLE_SECONDS = 120.0
MAX_QUICK_RESTARTS = 8
POLL_SECONDS = 0.5
RUNNING, RESTARTING, GAVE_UP = "running", "restarting", "gave up"


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    command: list[str]
    log: str


@dataclass(frozen=True)
class SupervisorPlan:
    """What `make up` hands the supervisor: the components in start order, where to keep the record, the backoff."""

    components: list[ComponentSpec]
    status_path: str
    first_backoff: float = FIRST_BACKOFF
    max_backoff: float = MAX_BACKOFF
    stable_seconds: float = STABLE_SECONDS
    max_quick_restarts: int = MAX_QUICK_RESTARTS

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({**self.__dict__, "components": [spec.__dict__ for spec in self.components]}))

    @classmethod
    def load(cls, path: Path) -> SupervisorPlan:
        document = json.loads(path.read_text())
        return cls(**{**document, "components": [ComponentSpec(**spec) for spec in document["components"]]})

    def backoff(self, quick_restarts: int) -> float:
        return min(self.max_backoff, self.first_backoff * 2 ** max(0, quick_restarts - 1))


@dataclass
class Component:
    spec: ComponentSpec
    process: subprocess.Popen | None = None
    record: StartedProcess | None = None
    state: str = RESTARTING
    restarts: int = 0
    quick_restarts: int = 0
    started_at: float = 0.0
    next_start_at: float = 0.0
    last_exit: str | None = None
    last_exit_at: str | None = None

    def as_dict(self) -> dict:
        return {
            "pid": self.record.pid if self.record else None,
            "create_time": self.record.create_time if self.record else None,
            "state": self.state,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "last_exit_at": self.last_exit_at,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def log(line: str) -> None:
    print(f"{_now()} {line}", flush=True)


def describe_exit(returncode: int) -> str:
    return f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"


class Supervisor:
    def __init__(self, plan: SupervisorPlan):
        self.plan = plan
        self.components = [Component(spec) for spec in plan.components]
        self.stopping = False

    def status(self) -> dict:
        return {"supervisor_pid": os.getpid(), "updated_at": _now(),
                "components": {c.spec.name: c.as_dict() for c in self.components}}

    def save(self) -> None:
        path = Path(self.plan.status_path)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.status(), indent=2))
        temporary.replace(path)

    def start(self, component: Component) -> None:
        component.process, component.record = StartedProcess.launch(
            component.spec.name, component.spec.command, None, Path(component.spec.log))
        component.state, component.started_at = RUNNING, time.monotonic()
        log(f"{component.spec.name} started (pid {component.record.pid})")

    def check(self, component: Component) -> bool:
        """Restart what exited (after its backoff); True when the record changed."""
        plan, now = self.plan, time.monotonic()
        if component.state == RUNNING:
            returncode = component.process.poll()
            if returncode is None:
                if component.quick_restarts and now - component.started_at >= plan.stable_seconds:
                    component.quick_restarts = 0
                return False
            uptime = now - component.started_at
            component.last_exit, component.last_exit_at = describe_exit(returncode), _now()
            component.quick_restarts = 1 if uptime >= plan.stable_seconds else component.quick_restarts + 1
            if component.quick_restarts > plan.max_quick_restarts:
                component.state = GAVE_UP
                log(f"{component.spec.name} exited ({component.last_exit}) after {uptime:.0f} s, "
                    f"{component.quick_restarts} times in a row within {plan.stable_seconds:.0f} s of starting: "
                    f"not restarting it; see {component.spec.log}, then `make down` and `make up`")
                return True
            delay = plan.backoff(component.quick_restarts)
            component.state, component.next_start_at = RESTARTING, now + delay
            log(f"{component.spec.name} exited ({component.last_exit}) after {uptime:.0f} s; restart "
                f"{component.restarts + 1} in {delay:g} s")
            return True
        if component.state == RESTARTING and now >= component.next_start_at:
            component.restarts += 1
            self.start(component)
            return True
        return False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        log(f"supervising {', '.join(c.spec.name for c in self.components)}")
        for component in self.components:
            self.start(component)
        self.save()
        while not self.stopping:
            if any([self.check(component) for component in self.components]):
                self.save()
            time.sleep(POLL_SECONDS)
        log("stopping supervision; `make down` stops the components")
        self.save()
        return 0

    def _stop(self, signum, frame) -> None:
        self.stopping = True


def read_status(path: Path) -> dict:
    """The supervisor's record, or an empty one before it wrote any."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"components": {}}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    return Supervisor(SupervisorPlan.load(Path(args[0]))).run()


if __name__ == "__main__":
    sys.exit(main())
