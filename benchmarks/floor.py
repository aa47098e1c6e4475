"""The machine's floor for one provider, and that provider's sync alone in a fresh process.

The floor is `json.loads` of the provider's payload plus a raw COPY of the same normalized rows into an empty
table: no fetch, no diff, no change rows. The write floor is what a first listing must write at least, in one
transaction with the schema's constraints: the rows COPYed straight into `models`, one `added` change row each and
the listed price rows; no stage, no guard, no diff. The isolated sync reads the process's own peak RSS (VmHWM), as
an Airflow worker's task process would have it. Run as `python -m benchmarks.floor SLUG DATABASE REPLAY_URL`
it is that isolated child.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from benchmarks.measure import (
    PG_DSN,
    ROOT,
    catalog_connection,
    child_environment,
    high_water_rss,
    prepare_catalog,
    scratch_database,
)


def measure_floor(directory: Path, slug: str, database: str) -> dict:
    from benchmarks.catalog import payload_bytes
    from include.gatewayz_sync.store.model_sql import DATA_COLUMNS, STAGE_COLUMNS
    from include.gatewayz_sync.store.staging import row_values

    payload = payload_bytes(directory, slug)
    started = time.perf_counter()
    document = json.loads(payload)
    json_seconds = time.perf_counter() - started
    del document
    started = time.perf_counter()
    records = json.loads(payload, parse_float=Decimal)["data"]
    json_decimal_seconds = time.perf_counter() - started
    del payload
    rows = [row_values(model) for model in _normalized(slug, records)]
    del records
    with catalog_connection(database) as connection:
        connection.execute(
            "CREATE TABLE floor_models AS SELECT provider_model_id, true AS changed, "
            f"{', '.join(DATA_COLUMNS)}, NULL::jsonb AS list_prices FROM models WITH NO DATA"
        )
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(
            f"COPY floor_models ({', '.join(STAGE_COLUMNS)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        copy_seconds = time.perf_counter() - started
        connection.execute("DROP TABLE floor_models")
    return {
        "payload_bytes": (directory / f"{slug}.json").stat().st_size,
        "rows": len(rows),
        "json_loads_seconds": round(json_seconds, 3),
        "json_loads_decimal_seconds": round(json_decimal_seconds, 3),
        "copy_seconds": round(copy_seconds, 3),
        "floor_seconds": round(json_seconds + copy_seconds, 3),
    }


def _normalized(slug: str, records: list) -> Iterator:
    from benchmarks.catalog import benchmark_providers
    from include.gatewayz_sync.catalog.normalize import RecordNormalizer

    return RecordNormalizer(benchmark_providers()[slug].list_api).normalize_all(records)


def measure_write_floor(directory: Path, slug: str) -> dict:
    """`json.loads` of `slug`'s payload plus the fewest writes its first listing needs, in a scratch database."""
    from benchmarks.catalog import payload_bytes
    from include.gatewayz_sync.store.model_sql import STAGE_COLUMNS
    from include.gatewayz_sync.store.price_rows import KEY_COLUMNS
    from include.gatewayz_sync.store.staging import row_values

    payload = payload_bytes(directory, slug)
    started = time.perf_counter()
    json.loads(payload)
    json_seconds = time.perf_counter() - started
    models = list(_normalized(slug, json.loads(payload, parse_float=Decimal)["data"]))
    del payload
    model_columns = [c for c in STAGE_COLUMNS if c not in ("changed", "list_prices")]
    model_rows = [dict(zip(STAGE_COLUMNS, row_values(model), strict=True)) for model in models]
    price_rows = {model.provider_model_id: [tuple(row[c] for c in (*KEY_COLUMNS, "amount_usd")) for row in model.prices.rows()]
                  for model in models}
    del models
    with scratch_database("gatewayz_bench_writes") as scratch:
        prepare_catalog(scratch)
        with catalog_connection(scratch) as connection:
            provider_id = connection.execute("SELECT id FROM providers WHERE slug = %s", (slug,)).fetchone()[0]
            run_id = connection.execute("INSERT INTO sync_runs (provider_slug, started_at, status) "
                                        "VALUES (%s, now(), 'running') RETURNING id", (slug,)).fetchone()[0]
            started = time.perf_counter()
            with connection.transaction(), connection.cursor() as cursor:
                with cursor.copy(f"COPY models (provider_id, {', '.join(model_columns)}, first_seen_at, last_seen_at, "
                                 "missing_count, is_active) FROM STDIN") as copy:
                    for row in model_rows:
                        copy.write_row((provider_id, *(row[c] for c in model_columns), "now", "now", 0, True))
                models_seconds = time.perf_counter() - started
                cursor.execute("INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, sync_run_id) "
                               "SELECT provider_id, id, provider_model_id, 'added', %s FROM models "
                               "WHERE provider_id = %s", (run_id, provider_id))
                changes_seconds = time.perf_counter() - started - models_seconds
                ids = dict(cursor.execute("SELECT provider_model_id, id FROM models WHERE provider_id = %s",
                                          (provider_id,)).fetchall())
                with cursor.copy("COPY model_prices (model_id, meter, unit, above_input_tokens, service_tier, "
                                 "time_window, option, amount_usd, source) FROM STDIN") as copy:
                    for model_id, rows in price_rows.items():
                        for row in rows:
                            copy.write_row((ids[model_id], *row, "list_api"))
            writes_seconds = time.perf_counter() - started
    return {
        "rows": len(model_rows),
        "price_rows": sum(map(len, price_rows.values())),
        "json_loads_seconds": round(json_seconds, 3),
        "models_copy_seconds": round(models_seconds, 3),
        "added_rows_seconds": round(changes_seconds, 3),
        "prices_and_commit_seconds": round(writes_seconds - models_seconds - changes_seconds, 3),
        "floor_seconds": round(json_seconds + writes_seconds, 3),
    }


def isolated_sync(slug: str, replay_url: str) -> dict:
    """`slug`'s sync (cold) in a fresh process, as a worker runs a task: its seconds and peak RSS."""
    with scratch_database("gatewayz_bench_iso") as scratch:
        output = subprocess.run(
            [sys.executable, "-m", "benchmarks.floor", slug, scratch, replay_url],
            check=True, capture_output=True, text=True, env=child_environment(), timeout=1800,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


def _isolated_child(slug: str, database: str, replay_url: str) -> None:
    import psycopg

    from benchmarks.catalog import benchmark_providers
    from benchmarks.measure import proc_status_bytes
    from include.gatewayz_sync.config import FetchSettings, SyncSettings
    from include.gatewayz_sync.model_sync import sync_provider_models
    from include.gatewayz_sync.store.listing import LoadOptions
    from include.gatewayz_sync.store.runs import RunInfo

    def connect():
        return psycopg.connect(PG_DSN, dbname=database, autocommit=True)

    providers = benchmark_providers()
    prepare_catalog(database)
    baseline = proc_status_bytes("VmRSS")
    env = {**os.environ, "GATEWAYZ_BASE_URL_OVERRIDE": f"{replay_url}/{{slug}}"}
    started = time.perf_counter()
    summary = sync_provider_models(
        providers[slug], connect, RunInfo("bench", "isolated", 1, datetime.now(UTC)),
        LoadOptions.from_settings(SyncSettings()), connection_for=lambda provider: None, env=env,
        fetch_settings=FetchSettings.from_env(),
    )
    seconds = time.perf_counter() - started
    timings = summary.result.timings
    print(json.dumps({
        "models": summary.result.load.inserted, "seconds": round(seconds, 2), "peak_rss_bytes": high_water_rss(),
        "rss_before_sync_bytes": baseline,
        "data_path": {"fetch_seconds": round(timings.fetch_seconds, 3), "parse_seconds": round(timings.parse_seconds, 3),
                      "normalize_seconds": round(timings.normalize_seconds, 3),
                      "load_seconds": round(timings.load_seconds or 0, 3)},
    }))


def dag_parse_times(repeats: int = 5) -> dict:
    script = (
        "import sys, logging; logging.disable(logging.WARNING)\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "bag = DagBag(dag_folder=sys.argv[1])\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "print(bag.dagbag_stats[0].duration.total_seconds())\n"
    )
    results = {}
    for path in sorted((ROOT / "dags").glob("*.py")):
        durations = []
        for _ in range(repeats):
            output = subprocess.run([sys.executable, "-c", script, str(path)], check=True, capture_output=True,
                                    text=True, env=os.environ.copy(), timeout=120).stdout
            durations.append(float(output.strip().splitlines()[-1]))
        results[path.name] = {"median_seconds": round(statistics.median(durations), 4),
                              "runs": [round(d, 4) for d in durations]}
    return results


if __name__ == "__main__":
    _isolated_child(*sys.argv[1:4])
