"""The reference-price DAG's cost in `make bench`: one `dag.test()` run, the rows it wrote, each step's figures."""

from __future__ import annotations

import time

from benchmarks.measure import row_versions, rows_written


def price_run(dag, connection) -> dict:
    """One run of `gatewayz_sync_prices`: wall time, model and candidate rows written, model_changes rows added."""
    from tests.airflow_helpers import xcom_values

    models, candidates = row_versions(connection), row_versions(connection, "model_price_candidates")
    changes = connection.execute("SELECT count(*) FROM model_changes").fetchone()[0]
    started = time.perf_counter()
    dag_run = dag.test()
    wall = time.perf_counter() - started
    sources = connection.execute(
        """SELECT source, status, matched, inserted, updated, deleted, details->'seconds' FROM reference_runs
           WHERE dag_run_id = %s ORDER BY source""",
        (dag_run.run_id,),
    ).fetchall()
    after_candidates = row_versions(connection, "model_price_candidates")
    result = {
        "state": dag_run.state,
        "wall_seconds": round(wall, 2),
        "sources": {row[0]: {"status": row[1], "matched": row[2], "inserted": row[3], "updated": row[4],
                             "deleted": row[5], "seconds": row[6]} for row in sources},
        "resolve": xcom_values(dag_run, "resolve_prices").get(-1) or {},
        "model_rows_written": rows_written(models, row_versions(connection)),
        "candidate_rows_written": rows_written(candidates, after_candidates) + len(set(candidates) - set(after_candidates)),
        "model_changes": connection.execute("SELECT count(*) FROM model_changes").fetchone()[0] - changes,
    }
    print(f"run prices: {result['state']} in {result['wall_seconds']} s; {result['model_rows_written']} model rows and "
          f"{result['candidate_rows_written']} candidates written; {result['model_changes']} model_changes", flush=True)
    return result


def print_price_runs(runs: dict) -> None:
    print("\n| reference prices | state | wall s | fetch+read s | match s | resolve s | model rows written | "
          "candidates written | model_changes |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        seconds = [s["seconds"] or {} for s in run["sources"].values()]
        read = round(sum(s.get("fetch", 0) + s.get("read", 0) for s in seconds), 2)
        match = round(sum(s.get("match", 0) for s in seconds), 3)
        print(f"| {name} | {run['state']} | {run['wall_seconds']} | {read} | {match} | "
              f"{run['resolve'].get('seconds')} | {run['model_rows_written']} | {run['candidate_rows_written']} | "
              f"{run['model_changes']} |")
