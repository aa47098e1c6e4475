"""Where a run's CPU went: py-spy (pinned in requirements.txt) sampling a deployment's process trees, folded
into shares by component and by module family.

`Profiler` records each root process (scheduler, api-server, ... ) with `--subprocesses` (task supervisors and
task processes are children of the scheduler or of a Celery worker) in raw folded-stack form, without pausing
them; `summarize()` reads the stacks back: the share of samples per process title, and per family of the
innermost frame that is this project's code, Airflow's, or a library's.
"""

from __future__ import annotations

import collections
import contextlib
import re
import signal
import subprocess
import sys
from pathlib import Path

PY_SPY = str(Path(sys.executable).with_name("py-spy"))
PROCESS_FRAME = re.compile(r'^process \d+:"?(?P<title>[^;]*?)"?$')
FAMILIES = (
    ("gatewayz_sync", "this project (include/gatewayz_sync)"),
    ("dag_processing", "Airflow DAG parsing"),
    ("sdk/execution_time", "Airflow task runner / supervisor"),
    ("api_fastapi", "Airflow API server"),
    ("jobs/scheduler_job_runner", "Airflow scheduler loop"),
    ("executors", "Airflow executor"),
    ("sqlalchemy", "SQLAlchemy (metadata DB)"),
    ("psycopg", "psycopg"),
    ("importlib", "imports"),
    ("<frozen", "imports"),
    ("httpx", "HTTP client (execution API)"),
    ("requests", "HTTP client (requests)"),
    ("json", "JSON"),
)


class Profiler:
    def __init__(self, roots: dict[str, int], directory: Path, rate: int = 25):
        self.roots, self.directory, self.rate = roots, directory, rate
        self.recorders: dict[str, subprocess.Popen] = {}

    def __enter__(self) -> Profiler:
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, pid in self.roots.items():
            self.recorders[name] = subprocess.Popen(
                [PY_SPY, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--rate", str(self.rate),
                 "--format", "raw", "--output", str(self.directory / f"{name}.txt")],
                stdout=subprocess.DEVNULL, stderr=(self.directory / f"{name}.log").open("w"),
            )
        return self

    def __exit__(self, *exc_info) -> None:
        for recorder in self.recorders.values():
            with contextlib.suppress(ProcessLookupError):
                recorder.send_signal(signal.SIGINT)
        for recorder in self.recorders.values():
            try:
                recorder.wait(timeout=60)
            except subprocess.TimeoutExpired:
                recorder.kill()

    def summary(self) -> dict:
        return summarize(sorted(self.directory.glob("*.txt")))


def _family(frames: list[str]) -> str:
    for frame in reversed(frames):
        for marker, family in FAMILIES:
            if marker in frame:
                return family
    return "other"


def _title(frames: list[str]) -> str:
    match = PROCESS_FRAME.match(frames[0]) if frames else None
    if not match:
        return "?"
    title = match.group("title")
    if title.startswith("airflow worker -- "):
        return "task process"
    if title.startswith("airflow supervisor") or title.startswith("airflow task supervisor"):
        return "task supervisor"
    return " ".join(title.split()[:3])


def summarize(files: list[Path], top: int = 12) -> dict:
    by_process, by_family, own = collections.Counter(), collections.Counter(), collections.Counter()
    task_family = collections.Counter()
    total = 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            frames, samples = stack.split(";"), int(count)
            total += samples
            title = _title(frames)
            by_process[f"{path.stem}: {title}"] += samples
            by_family[_family(frames)] += samples
            own[frames[-1]] += samples
            if title == "task process":
                task_family[_family(frames)] += samples

    def shares(counter: collections.Counter) -> dict:
        return {key: round(value / max(1, sum(counter.values())), 3) for key, value in counter.most_common(top)}

    return {"samples": total, "by_process": shares(by_process), "by_family": shares(by_family),
            "task_processes_by_family": shares(task_family), "top_frames": shares(own)}
