"""Where a run's CPU went: py-spy (pinned in requirements.txt) sampling a deployment's process trees, folded
into shares by component and by module family.

`Profiler` records each root process (scheduler, api-server, ... ) with `--subprocesses` (task supervisors and
task processes are children of the scheduler or of a Celery worker) in raw folded-stack form, without pausing
them; `summarize()` reads the stacks back: samples per component (recognised from the stack, since a forked
task process keeps its parent's command line) and per family of the innermost frame that is this project's
code, Airflow's or a library's, with waits (database round trips, sockets, locks, sleeps) counted apart.
"""

from __future__ import annotations

import collections
import contextlib
import signal
import subprocess
import sys
from pathlib import Path

PY_SPY = str(Path(sys.executable).with_name("py-spy"))
COMPONENTS = (
    ("execution_time/task_runner.py", "task process"),
    ("execution_time/supervisor.py", "task supervisor"),
    ("celery", "Celery worker"),
    ("local_executor.py", "LocalExecutor worker"),
    ("scheduler_job_runner.py", "scheduler loop"),
    ("dag_processing", "dag-processor"),
    ("api_server", "api-server"),
    ("uvicorn", "api-server"),
)
TASK_BODY = "operators/python.py"
IMPORTED_BY_BODY = (
    (("postgres/hooks", "sql/hooks"), "task function: importing the Postgres hook (common.sql, psycopg2, ...)"),
    (("gatewayz_sync",), "task function: importing this package (and psycopg, requests, tenacity)"),
)
WAITS = ("Connection.wait", ".select (", ".wait (", "sleep", "_read_frame", ".recv", "read (socket", "Runner.run",
         "SyncStream.read", "poll (", "accept (")
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
    if any(marker in frames[-1] for marker in WAITS):
        return "waiting (DB round trips, sockets, locks, sleeps)"
    for frame in reversed(frames):
        for marker, family in FAMILIES:
            if marker in frame:
                return family
    return "other"


def _task_phase(stack: str) -> str:
    """Where in a task process's life a sample fell: start-up (plugins, DAG parse), the @task function's imports
    or its work, or the task runner around it (state calls, XCom)."""
    lowered = stack.lower()
    if "plugins_manager" in lowered:
        return "start-up: plugins loaded"
    if "dagbag" in lowered:
        return "start-up: DAG file parsed"
    if TASK_BODY not in stack:
        return "task runner around the function (state, XCom)"
    inside = stack.split(TASK_BODY)[-1]
    if "importlib" not in inside:
        return "task function: work"
    for markers, phase in IMPORTED_BY_BODY:
        if any(marker in inside for marker in markers):
            return phase
    return "task function: other imports"


def _component(frames: list[str], recorded_from: str) -> str:
    stack = ";".join(frames)
    for marker, component in COMPONENTS:
        if marker in stack:
            return component
    return f"{recorded_from} (other)"


def summarize(files: list[Path], top: int = 12) -> dict:
    by_process, by_family, own = collections.Counter(), collections.Counter(), collections.Counter()
    task_family, task_phase = collections.Counter(), collections.Counter()
    total = 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            frames, samples = stack.split(";"), int(count)
            total += samples
            component = _component(frames, path.stem)
            by_process[component] += samples
            by_family[_family(frames)] += samples
            own[frames[-1]] += samples
            if component == "task process":
                task_family[_family(frames)] += samples
                task_phase[_task_phase(stack)] += samples

    def shares(counter: collections.Counter) -> dict:
        return {key: round(value / max(1, sum(counter.values())), 3) for key, value in counter.most_common(top)}

    return {"samples": total, "by_component": shares(by_process), "by_family": shares(by_family),
            "task_processes_by_family": shares(task_family), "task_processes_by_phase": shares(task_phase),
            "task_process_samples": sum(task_phase.values()), "top_frames": shares(own)}


if __name__ == "__main__":
    import json

    print(json.dumps(summarize(sorted(Path(sys.argv[1]).glob("*.txt"))), indent=1))
