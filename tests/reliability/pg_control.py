"""Restart the machine's PostgreSQL the way an operator would (pg_ctlcluster), for the mid-load fault."""

from __future__ import annotations

import os
import subprocess
import time

import psycopg

from tests.conftest import PG_ADMIN_DSN


def restart_postgres(timeout: float = 60) -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "--mode", "fast"],
        check=True, capture_output=True, timeout=timeout,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            psycopg.connect(PG_ADMIN_DSN, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise TimeoutError("PostgreSQL did not come back after the restart")
