"""The fault matrix's shared ground: a clean sync of five providers, and exact dumps of the catalog."""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import sys
import time

import pytest
import requests

from include.gatewayz_sync.store.retirements import due_notices, record_notices
from tests.conftest import PROJECT_ROOT

MATRIX = ["anthropic", "groq", "mistral", "openai", "openrouter"]
OPENAI_MODELS = 400


def openai_records(replay, count: int = OPENAI_MODELS) -> list[dict]:
    base = replay.catalog("openai").records
    records = []
    for index in range(count):
        record = copy.deepcopy(base[index % len(base)])
        record["id"] = f"{record['id']}-r{index}"
        records.append(record)
    return records


def dump(catalog) -> dict[str, list[str]]:
    """Every model row, byte for byte, with its physical version (xmin), by provider."""
    rows = catalog.execute(
        "SELECT p.slug, row_to_json(m)::text || '|' || m.xmin::text FROM models m "
        "JOIN providers p ON p.id = m.provider_id ORDER BY p.slug, m.provider_model_id"
    ).fetchall()
    result: dict[str, list[str]] = {}
    for slug, row in rows:
        result.setdefault(slug, []).append(row)
    return result


def provider_row(catalog, slug: str) -> str:
    return catalog.execute("SELECT row_to_json(p)::text FROM providers p WHERE slug = %s", (slug,)).fetchone()[0]


def attempts(catalog, dag_run, slug: str) -> list[tuple]:
    return catalog.execute(
        "SELECT status, error, fetched, inserted, updated, deactivated, rejected, duplicates, details "
        "FROM sync_runs WHERE dag_run_id = %s AND provider_slug = %s ORDER BY id",
        (dag_run.run_id, slug),
    ).fetchall()


@pytest.fixture
def sync(run_dag):
    def run(**conf):
        return run_dag("gatewayz_sync_models", {"providers": MATRIX, **conf})

    return run


@pytest.fixture
def baseline(catalog, run_dag, replay, sync):
    """A clean sync of the matrix providers (openai listing 400 models); returns the dump it leaves."""
    replay.set_records("openai", openai_records(replay))
    assert run_dag("gatewayz_sync_providers").state == "success"
    assert sync().state == "success"
    # The baseline's retirement notices count as told: the rows test other parts of the digest.
    record_notices(catalog, due_notices(catalog), None)
    before = dump(catalog)
    assert len(before["openai"]) == OPENAI_MODELS
    assert set(before) == set(MATRIX)
    replay.clear_requests()
    return before


def assert_untouched(before: dict, after: dict, *except_for: str) -> None:
    for slug in before:
        if slug not in except_for:
            assert after.get(slug) == before[slug], f"{slug} rows changed"


@contextlib.contextmanager
def replay_process(page_sizes: dict[str, int] | None = None):
    """The replay server in its own process, so the test process measures only its own memory."""
    from tests.cluster import free_port

    port = free_port()
    args = [sys.executable, "-m", "include.gatewayz_sync.dev.replay", "--port", str(port)]
    for slug, size in (page_sizes or {}).items():
        args += ["--page-size", f"{slug}={size}"]
    process = subprocess.Popen(args, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{url}/_replay/health", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
