"""The long-lived processes `make up` starts and `make down` stops.

Each is recorded by pid *and* start time, so a recycled pid is never mistaken for one of ours, and each Airflow
component runs in a session of its own, so stopping it reaches the LocalExecutor workers and task processes
it forked (Airflow's own `standalone` leaves those behind when only the parent is killed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class StartedProcess:
    name: str
    pid: int
    create_time: float
    whole_group: bool = True
    stop_signal: str = "SIGTERM"

    @classmethod
    def spawn(cls, name: str, command: Sequence[str], env: Mapping[str, str] | None, log_path: Path) -> StartedProcess:
        """Start `command` in a new session, output appended to `log_path`."""
        return cls.launch(name, command, env, log_path)[1]

    @classmethod
    def launch(cls, name: str, command: Sequence[str], env: Mapping[str, str] | None,
               log_path: Path) -> tuple[subprocess.Popen, StartedProcess]:
        """`spawn`, keeping the child's handle too (its parent reaps it and reads its exit code)."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                list(command), env=None if env is None else dict(env), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        return process, cls(name, process.pid, psutil.Process(process.pid).create_time())

    @classmethod
    def adopt(cls, name: str, pid: int, stop_signal: str) -> StartedProcess:
        """A process something else forked for us (PostgreSQL's postmaster): stopped by signalling it alone."""
        return cls(name, pid, psutil.Process(pid).create_time(), whole_group=False, stop_signal=stop_signal)

    @classmethod
    def from_dict(cls, document: Mapping) -> StartedProcess:
        return cls(**document)

    def as_dict(self) -> dict:
        return asdict(self)

    def process(self) -> psutil.Process | None:
        """The live process this record names, or None once it exited (or its pid now belongs to another)."""
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.create_time) > 0.5 or process.status() == psutil.STATUS_ZOMBIE:
                return None
            return process
        except psutil.NoSuchProcess:
            return None

    def is_running(self) -> bool:
        return self.process() is not None


def stop_processes(records: Iterable[StartedProcess], timeout: float = 30) -> dict[str, str]:
    """Signal every recorded process (its session's group, or itself alone), wait up to `timeout`, then kill
    whatever of it is left, descendants included. Returns name -> what happened."""
    records = list(records)
    outcome: dict[str, str] = {}
    families: list[psutil.Process] = []
    for record in records:
        process = record.process()
        if process is None:
            outcome[record.name] = "was not running"
            continue
        with contextlib.suppress(psutil.NoSuchProcess):
            families += [process, *process.children(recursive=True)]
        signal_number = getattr(signal, record.stop_signal)
        with contextlib.suppress(ProcessLookupError):
            if record.whole_group and os.getpgid(record.pid) == record.pid:
                os.killpg(record.pid, signal_number)
            else:
                os.kill(record.pid, signal_number)
        outcome[record.name] = f"stopped (pid {record.pid})"
    _, left = psutil.wait_procs(families, timeout=timeout)
    for process in left:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(left, timeout=10)
    killed = {process.pid for process in left}
    for record in records:
        if record.pid in killed:
            outcome[record.name] = f"killed after {timeout:.0f} s (pid {record.pid})"
    return outcome
