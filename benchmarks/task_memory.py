"""Peak RSS of every task process of a deployment, by task-instance id.

An Airflow 3 task process titles itself `airflow worker -- <task instance id>`. Every few hundred ms this reads
the VmHWM (the process's own high-water mark, so a peak between two samples is not lost) of each such process
in the deployment's sessions; only the time after a process's last sample is unseen.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time

from benchmarks.measure import proc_status_bytes

TASK_TITLE = re.compile(r"airflow worker -- ([0-9a-f-]{36})")


class TaskMemoryWatcher(threading.Thread):
    def __init__(self, sessions: set[int], interval: float = 0.2):
        super().__init__(daemon=True, name="task-memory")
        self.sessions = sessions
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self.running = True

    def run(self) -> None:
        while self.running:
            self.sample()
            time.sleep(self.interval)

    def sample(self) -> None:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError):
                if os.getsid(int(entry)) not in self.sessions:
                    continue
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    title = handle.read().replace(b"\0", b" ").decode(errors="replace")
                match = TASK_TITLE.search(title)
                if match:
                    peak = proc_status_bytes("VmHWM", entry)
                    self.peaks[match.group(1)] = max(self.peaks.get(match.group(1), 0), peak)

    def stop(self) -> None:
        self.running = False
        self.join(timeout=5)

    def peak(self, ti_id: str) -> int | None:
        return self.peaks.get(ti_id)
