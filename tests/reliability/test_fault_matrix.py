"""The fault matrix: full model syncs (dag.test) through the replay server's faults and the real PostgreSQL.

For each row: the run's outcome and the affected provider's sync_runs status and error, an error that names
the provider and the cause, every other provider exactly as a clean sync leaves it, and the affected
provider's rows byte for byte unchanged unless the row says otherwise.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import socket
import threading
import time
import tracemalloc
from decimal import Decimal
from types import MappingProxyType

import pytest

from include.gatewayz_sync.config import FetchSettings, SyncSettings
from include.gatewayz_sync.dev.replay.server import ReplayServer
from include.gatewayz_sync.errors import ProviderSkipped
from include.gatewayz_sync.model_sync import sync_provider_models
from include.gatewayz_sync.sources import registry
from include.gatewayz_sync.store.listing import LoadOptions
from include.gatewayz_sync.store.providers import sync_registry
from include.gatewayz_sync.store.runs import RunInfo
from tests.airflow_helpers import task_states
from tests.conftest import catalog_connection
from tests.reliability.conftest import MATRIX, OPENAI_MODELS, assert_untouched, attempts, dump, provider_row


def _load_waiting_on_a_lock(connection) -> bool:
    """True once a provider's load, mid-transaction, waits on the row the test holds (upsert or FK check)."""
    return bool(connection.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
        "AND (query LIKE '%%INSERT INTO models%%' OR query LIKE '%%INSERT INTO model_changes%%')"
    ).fetchone()[0])


def _failed_as(catalog, run, slug, *fragments):
    rows = attempts(catalog, run, slug)
    status, error = rows[-1][0], rows[-1][1]
    assert status == "failed", rows
    assert slug in error
    for fragment in fragments:
        assert fragment in error, error
    return error


def _run_failed_only_for(run, catalog, slug):
    assert run.state == "failed"
    assert task_states(run)[("finalize", -1)] == "failed"
    statuses = {s: attempts(catalog, run, s)[-1][0] for s in MATRIX}
    assert statuses == {s: ("failed" if s == slug else "success") for s in MATRIX}


def test_01_a_500_once_is_retried_and_succeeds(baseline, catalog, replay, sync):
    replay.add_fault("groq", status=500, times=1)
    run = sync()
    assert run.state == "success"
    assert attempts(catalog, run, "groq")[-1][0] == "success"
    assert len(replay.requests_for("groq")) == 2
    assert_untouched(baseline, dump(catalog))


def test_02_a_503_on_every_attempt_fails_after_bounded_retries(baseline, catalog, replay, dagbag, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("GATEWAYZ_TASK_RETRIES", "1")
    monkeypatch.setenv("GATEWAYZ_RETRY_DELAY_SECONDS", "1")
    dag = DagBag(dag_folder=dagbag.dag_folder).dags["gatewayz_sync_models"]
    before_provider = provider_row(catalog, "groq")
    replay.add_fault("groq", status=503, times=-1)
    run = dag.test(run_conf={"providers": MATRIX, "dry_run": False, "allow_shrink": False})
    _run_failed_only_for(run, catalog, "groq")
    rows = attempts(catalog, run, "groq")
    assert [r[0] for r in rows] == ["failed", "failed"], "one sync_runs row per task attempt (1 retry)"
    assert rows[-1][1] == "HTTP 503 from groq: injected HTTP 503 (after 3 attempts)"
    assert len(replay.requests_for("groq")) == 6, "3 HTTP attempts in each of 2 task attempts, then stop"
    assert_untouched(baseline, dump(catalog))
    assert provider_row(catalog, "groq") == before_provider


def test_03_a_429_with_retry_after_waits_then_succeeds(baseline, catalog, replay, sync):
    replay.add_fault("groq", status=429, headers={"Retry-After": "2"})
    run = sync()
    assert run.state == "success"
    first, second = replay.requests_for("groq")[:2]
    assert 1.9 <= second.at - first.at < 5
    assert attempts(catalog, run, "groq")[-1][0] == "success"
    assert_untouched(baseline, dump(catalog))


def test_04_connection_refused_fails_quickly(baseline, catalog, replay, sync, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_GATEWAYZ_GROQ",
        json.dumps({"conn_type": "http", "host": f"http://127.0.0.1:{port}/groq/openai/v1", "password": "k"}),
    )
    started = time.monotonic()
    run = sync()
    _run_failed_only_for(run, catalog, "groq")
    _failed_as(catalog, run, "groq", f"connection refused by groq at 127.0.0.1:{port}")
    rows = catalog.execute(
        "SELECT extract(epoch FROM finished_at - started_at) FROM sync_runs WHERE dag_run_id = %s "
        "AND provider_slug = 'groq'", (run.run_id,)
    ).fetchone()
    assert rows[0] < 5 and time.monotonic() - started < 60
    assert_untouched(baseline, dump(catalog))


def test_05_a_server_that_never_answers_fails_within_the_read_timeout(baseline, catalog, replay, sync, monkeypatch):
    monkeypatch.setenv("GATEWAYZ_HTTP_READ_TIMEOUT", "2")
    replay.add_fault("groq", hang=60)
    run = sync()
    _run_failed_only_for(run, catalog, "groq")
    _failed_as(catalog, run, "groq", "no response from groq", "within 2 s (read timeout)")
    elapsed = catalog.execute(
        "SELECT extract(epoch FROM finished_at - started_at) FROM sync_runs WHERE dag_run_id = %s "
        "AND provider_slug = 'groq'", (run.run_id,)
    ).fetchone()[0]
    assert elapsed < 5, "one read timeout, not retried into a hung worker"
    assert_untouched(baseline, dump(catalog))


@pytest.mark.parametrize("kind", ["truncated", "not_json", "html"])
def test_06_a_body_that_is_not_json_fails_clearly(baseline, catalog, replay, sync, kind):
    replay.add_fault("mistral", malformed=kind, times=-1)
    run = sync()
    _run_failed_only_for(run, catalog, "mistral")
    _failed_as(catalog, run, "mistral", "invalid JSON from mistral")
    assert_untouched(baseline, dump(catalog))


def test_07_json_of_the_wrong_shape_names_the_records_path(baseline, catalog, replay, sync):
    replay.add_fault("mistral", malformed="wrong_shape", times=-1)
    run = sync()
    _run_failed_only_for(run, catalog, "mistral")
    _failed_as(catalog, run, "mistral", "no list of models at 'data'", "'error'")
    assert_untouched(baseline, dump(catalog))


def test_08_an_empty_list_is_a_suspicious_shrink(baseline, catalog, replay, sync):
    replay.add_fault("openai", malformed="empty_list", times=-1)
    run = sync()
    _run_failed_only_for(run, catalog, "openai")
    _failed_as(catalog, run, "openai", f"suspicious shrink: got 0 of {OPENAI_MODELS} active models from openai")
    assert_untouched(baseline, dump(catalog))


def test_09_forty_percent_vanishing_is_guarded_unless_allowed(baseline, catalog, replay, sync):
    kept = replay.catalog("openai").records[: int(OPENAI_MODELS * 0.6)]
    replay.set_records("openai", kept)
    run = sync()
    _run_failed_only_for(run, catalog, "openai")
    _failed_as(catalog, run, "openai", f"suspicious shrink: got 240 of {OPENAI_MODELS} active models from openai")
    assert_untouched(baseline, dump(catalog))

    allowed = sync(allow_shrink=True)
    assert allowed.state == "success"
    counts = catalog.execute(
        "SELECT count(*) FILTER (WHERE m.missing_count = 1 AND m.is_active), count(*) FILTER (WHERE NOT m.is_active) "
        "FROM models m JOIN providers p ON p.id = m.provider_id WHERE p.slug = 'openai'"
    ).fetchone()
    assert counts == (160, 0), "first miss: counted, still active"
    again = sync(allow_shrink=True)
    assert attempts(catalog, again, "openai")[-1][5] == 160
    removed = catalog.execute("SELECT count(*) FROM model_changes WHERE kind = 'removed'").fetchone()[0]
    assert removed == 160
    assert_untouched(baseline, dump(catalog), "openai")


def test_10_duplicate_ids_collapse_deterministically(baseline, catalog, replay, sync):
    records = replay.catalog("mistral").records
    duplicated = records + [copy.deepcopy(records[0]), copy.deepcopy(records[3])]
    duplicated[-1]["description"] = "a second, different copy: the first occurrence wins"
    replay.set_records("mistral", duplicated)
    run = sync()
    assert run.state == "success"
    status, error, fetched, inserted, updated, *_rest = attempts(catalog, run, "mistral")[-1]
    duplicates = attempts(catalog, run, "mistral")[-1][7]
    assert (status, fetched, inserted, updated, duplicates) == ("success", 57, 0, 0, 2)
    assert_untouched(baseline, dump(catalog))


def test_11_broken_records_are_rejected_or_nulled_and_odd_text_is_kept(baseline, catalog, replay, sync):
    rtl = "نموذج 🚀 \u202eRTL\u202c Модель"
    broken = [
        {"id": "bad/price-abc", "object": "model", "pricing": {"prompt": "abc"}},
        {"id": "bad/price-negative", "object": "model", "pricing": {"prompt": -5, "completion": "0.000001"}},
        {"id": "bad/context", "object": "model", "context_length": 10**12},
        {"id": "bad/output", "object": "model", "context_length": 1000, "top_provider": {"max_completion_tokens": 9000}},
        {"id": "bad/null-name", "object": "model", "name": None},
        {"id": "bad/long-description", "object": "model", "description": "x" * 20_480},
        {"id": "odd/text", "object": "model", "name": rtl, "description": rtl},
        {"id": "'; DROP TABLE models; --", "object": "model", "name": "'; DROP TABLE models; --"},
        {"name": "no id at all"},
    ]
    replay.set_records("openrouter", replay.catalog("openrouter").records + broken)
    run = sync()
    assert run.state == "success"
    status, _, fetched, inserted, _, _, rejected, _, details = attempts(catalog, run, "openrouter")[-1]
    assert (status, fetched, inserted, rejected) == ("success", 234, 8, 1)
    assert details["normalize"]["rejected"] == {"id_missing": 1}
    assert details["normalize"]["nulled"] == {
        "context_length_absurd": 1,
        "description_too_long": 1,
        "input_price_not_numeric": 1,
        "input_price_negative": 1,
        "max_output_tokens_above_context": 1,
    }
    assert details["normalize"]["unchanged_not_renormalized"] == 225, "known rows are not normalized again"
    stored = dict(catalog.execute(
        "SELECT provider_model_id, name FROM models WHERE provider_model_id LIKE 'bad/%%' OR provider_model_id "
        "LIKE 'odd/%%' OR provider_model_id LIKE '''%%'"
    ).fetchall())
    assert stored["odd/text"] == "نموذج 🚀 RTL Модель", "any script and emoji kept; bidi overrides stripped"
    assert stored["bad/null-name"] == "bad/null-name"
    assert stored["'; DROP TABLE models; --"] == "'; DROP TABLE models; --"
    price = catalog.execute(
        "SELECT price_input_usd_per_mtok, price_output_usd_per_mtok FROM models WHERE provider_model_id = 'bad/price-negative'"
    ).fetchone()
    assert price == (None, 1)
    assert_untouched(baseline, {k: v for k, v in dump(catalog).items()}, "openrouter")
    after = dump(catalog)["openrouter"]
    assert set(baseline["openrouter"]) <= set(after), "existing openrouter rows untouched"


@pytest.mark.parametrize("slug", ["anthropic", "openrouter"])
def test_12_a_cursor_that_repeats_forever_is_a_pagination_loop(baseline, catalog, replay, sync, slug):
    replay.add_fault(slug, repeat_cursor=True, times=-1)
    started = time.monotonic()
    run = sync()
    _run_failed_only_for(run, catalog, slug)
    _failed_as(catalog, run, slug, f"pagination loop from {slug}")
    assert time.monotonic() - started < 60
    assert_untouched(baseline, dump(catalog))


def test_13_a_next_page_link_to_another_host_is_refused(baseline, catalog, replay, sync):
    with ReplayServer(host="127.0.0.2") as other:
        replay.add_fault("openrouter", next_link=f"{other.url}/openrouter/api/v1/models?offset=100", times=-1)
        run = sync()
        _run_failed_only_for(run, catalog, "openrouter")
        _failed_as(catalog, run, "openrouter", "refused next-page link from openrouter to http://127.0.0.2")
        assert other.requests == [], "the other host saw no request, so never saw the key"
    assert_untouched(baseline, dump(catalog))


def test_14_a_response_over_the_maximum_is_aborted_with_bounded_memory(baseline, catalog, sync, monkeypatch):
    import requests

    from tests.reliability.conftest import replay_process

    monkeypatch.setenv("GATEWAYZ_MAX_RESPONSE_MB", "1")
    with replay_process() as url:
        monkeypatch.setenv("GATEWAYZ_BASE_URL_OVERRIDE", f"{url}/{{slug}}")
        fault = {"mistral": {"pad_bytes": 60 * 1024 * 1024, "chunked": True, "times": -1}}
        requests.post(f"{url}/_replay/faults", json=fault, timeout=10).raise_for_status()
        tracemalloc.start()
        try:
            run = sync(providers=["mistral"])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert run.state == "failed"
    _failed_as(catalog, run, "mistral", "response from mistral exceeded the maximum of 1048576 bytes")
    assert peak < 16 * 1024 * 1024, f"peak Python allocations {peak / 1e6:.1f} MB while a 60 MB body was refused"
    assert_untouched(baseline, dump(catalog))


def test_15_a_401_with_the_real_error_body(baseline, catalog, replay, sync):
    from tests.conftest import PROVIDER_KEYS

    replay.add_fault("anthropic", auth_error=True, times=-1)
    run = sync()
    _run_failed_only_for(run, catalog, "anthropic")
    error = _failed_as(catalog, run, "anthropic", "authentication failed for anthropic: HTTP 401", "invalid x-api-key")
    key = PROVIDER_KEYS["anthropic"]
    stored = catalog.execute(
        "SELECT string_agg(t::text, '') FROM (SELECT row_to_json(s) AS t FROM sync_runs s UNION ALL "
        "SELECT row_to_json(c) FROM model_changes c UNION ALL SELECT row_to_json(m) FROM models m) x"
    ).fetchone()[0]
    assert key not in error and key not in stored
    assert len(replay.requests_for("anthropic")) == 1, "a bad key is not retried"
    assert_untouched(baseline, dump(catalog))


def test_16_postgresql_restarted_mid_load_rolls_back_and_the_retry_succeeds(
    baseline, catalog, replay, dagbag, monkeypatch
):
    from airflow.dag_processing.dagbag import DagBag

    from tests.reliability.pg_control import restart_postgres

    monkeypatch.setenv("GATEWAYZ_TASK_RETRIES", "1")
    monkeypatch.setenv("GATEWAYZ_RETRY_DELAY_SECONDS", "1")
    dag = DagBag(dag_folder=dagbag.dag_folder).dags["gatewayz_sync_models"]
    records = copy.deepcopy(replay.catalog("mistral").records)
    changing = sum(1 for record in records if record.get("max_context_length") != 262144)
    target = next(r["id"] for r in records if r.get("max_context_length") != 262144)
    for record in records:
        record["max_context_length"] = 262144
    replay.set_records("mistral", records)

    blocker = catalog_connection()
    blocker.autocommit = False
    blocker.execute("SELECT 1 FROM models WHERE provider_model_id = %s FOR UPDATE", (target,))
    restarted = threading.Event()

    def restart_when_the_load_waits():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with catalog_connection() as probe:
                waiting = _load_waiting_on_a_lock(probe)
            if waiting:
                restart_postgres()
                restarted.set()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=restart_when_the_load_waits, daemon=True)
    watcher.start()
    run = dag.test(run_conf={"providers": ["mistral"], "dry_run": False, "allow_shrink": False})
    watcher.join(timeout=90)
    assert restarted.is_set(), "the load never reached the upsert"
    assert run.state == "success"

    fresh = catalog_connection()
    rows = fresh.execute(
        "SELECT status, error, updated FROM sync_runs WHERE dag_run_id = %s AND provider_slug = 'mistral' ORDER BY id",
        (run.run_id,),
    ).fetchall()
    assert [r[0] for r in rows] == ["failed", "success"]
    assert "catalog database error while syncing mistral (its transaction rolled back)" in rows[0][1]
    assert rows[1][2] == changing > 0
    changes = fresh.execute(
        "SELECT count(*), count(DISTINCT provider_model_id) FROM model_changes WHERE kind = 'limits_changed'"
    ).fetchone()
    assert changes == (changing, changing), "exactly one set of changes: the failed attempt left nothing behind"
    after = dump(fresh)
    assert_untouched(baseline, after, "mistral")
    fresh.close()


def test_17_an_unreachable_catalog_database_is_a_clear_failure_and_retried(
    baseline, catalog, replay, dagbag, monkeypatch, caplog
):
    from airflow.dag_processing.dagbag import DagBag

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("GATEWAYZ_TASK_RETRIES", "1")
    monkeypatch.setenv("GATEWAYZ_RETRY_DELAY_SECONDS", "1")
    monkeypatch.setenv(
        "AIRFLOW_CONN_GATEWAYZ_DB", json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": port,
                                                 "login": "nobody", "schema": "gatewayz"})
    )
    dag = DagBag(dag_folder=dagbag.dag_folder).dags["gatewayz_sync_models"]
    with caplog.at_level("ERROR"):
        run = dag.test(run_conf={"providers": [], "dry_run": False, "allow_shrink": False})
    assert run.state == "failed"
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        ti = session.scalars(select(TaskInstance).where(
            TaskInstance.run_id == run.run_id, TaskInstance.task_id == "list_providers")).one()
        assert (ti.state, ti.try_number) == ("failed", 2), "tried, retried, then failed"
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "the catalog database (connection gatewayz_db) is unreachable" in messages
    assert f"port {port}" in messages and "refused" in messages
    assert replay.requests == []
    assert_untouched(baseline, dump(catalog))


def test_18_concurrent_runs_of_one_provider_are_serialized(baseline, catalog, replay, dagbag):
    assert dagbag.dags["gatewayz_sync_models"].max_active_runs == 1
    records = copy.deepcopy(replay.catalog("groq").records)
    records.append({**copy.deepcopy(records[0]), "id": "newco/model-added-during-the-race"})
    replay.set_records("groq", records)
    results, errors = [], []

    def one_run(name: str, slugs: list[str]) -> None:
        try:
            for slug in slugs:
                run = RunInfo("gatewayz_sync_models", name, 1, dt.datetime.now(dt.UTC))
                results.append(sync_provider_models(
                    registry.GATEWAY_REGISTRY[slug], catalog_connection, run, LoadOptions.from_settings(SyncSettings()),
                    connection_for=lambda provider: None, env=os.environ, fetch_settings=FetchSettings(),
                ))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=one_run, args=("scheduled__race", MATRIX)),
               threading.Thread(target=one_run, args=("manual__race_1", ["groq"])),
               threading.Thread(target=one_run, args=("manual__race_2", ["groq"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(results) == len(MATRIX) + 2
    assert all(r.status == "success" for r in results)
    groq = [r for r in results if r.slug == "groq"]
    assert sorted(r.result.load.inserted for r in groq) == [0, 0, 1], "exactly one of the three racing runs inserted the model"
    duplicates = catalog.execute(
        "SELECT count(*) FROM (SELECT provider_id, provider_model_id FROM models GROUP BY 1, 2 HAVING count(*) > 1) d"
    ).fetchone()[0]
    assert duplicates == 0
    added = catalog.execute(
        "SELECT count(*) FROM model_changes WHERE provider_model_id = 'newco/model-added-during-the-race'"
    ).fetchone()[0]
    assert added == 1
    assert_untouched(baseline, dump(catalog), "groq")


@pytest.mark.parametrize("order", ["provider_sync_waits_for_the_load", "provider_sync_first"])
def test_19_provider_sync_concurrent_with_model_sync(baseline, catalog, replay, order):
    records = copy.deepcopy(replay.catalog("mistral").records)
    for record in records:
        record["max_context_length"] = 65536
    replay.set_records("mistral", records)
    reduced = {slug: p for slug, p in registry.GATEWAY_REGISTRY.items() if slug != "mistral"}
    outcome: dict[str, object] = {}

    def model_sync():
        try:
            outcome["model"] = sync_provider_models(
                registry.GATEWAY_REGISTRY["mistral"], catalog_connection,
                RunInfo("gatewayz_sync_models", "race", 1, dt.datetime.now(dt.UTC)), LoadOptions.from_settings(SyncSettings()),
                connection_for=lambda provider: None, env=os.environ, fetch_settings=FetchSettings(),
            ).status
        except ProviderSkipped as skipped:
            outcome["model"] = f"skipped: {skipped.reason}"

    def provider_sync():
        with catalog_connection() as connection:
            outcome["providers"] = sync_registry(connection, MappingProxyType(reduced).values())

    if order == "provider_sync_first":
        provider_sync()
        model_sync()
        assert outcome["model"] == "skipped: no longer in the registry (deactivated)"
    else:
        blocker = catalog_connection()
        blocker.autocommit = False
        blocker.execute("SELECT 1 FROM models WHERE provider_model_id = %s FOR UPDATE", (records[0]["id"],))
        loader = threading.Thread(target=model_sync)
        loader.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _load_waiting_on_a_lock(catalog):
            time.sleep(0.05)
        syncer = threading.Thread(target=provider_sync)
        syncer.start()
        time.sleep(1)
        assert syncer.is_alive(), "the provider sync waits for the provider's load to commit"
        blocker.rollback()
        blocker.close()
        loader.join(timeout=60)
        syncer.join(timeout=60)
        assert outcome["model"] == "success"
    assert outcome["providers"].deactivated == ["mistral"]
    active = catalog.execute(
        "SELECT count(*) FROM models m JOIN providers p ON p.id = m.provider_id WHERE p.slug = 'mistral' AND m.is_active"
    ).fetchone()[0]
    assert active == 0, "no model of a deactivated provider stays active"
    assert_untouched(baseline, dump(catalog), "mistral")


# Rows 21-26: upstream drift. The listing answers 200 with the same models, in another shape or another unit.

GPT_OSS = "openai/gpt-oss-120b"




def _changes(catalog, run) -> list[tuple]:
    return catalog.execute(
        """SELECT c.provider_model_id, c.kind, c.field, c.old_value, c.new_value FROM model_changes c
           JOIN sync_runs s ON s.id = c.sync_run_id WHERE s.dag_run_id = %s ORDER BY c.id""",
        (run.run_id,),
    ).fetchall()


def _prices(catalog, slug) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in catalog.execute(
        """SELECT m.provider_model_id, m.price_input_usd_per_mtok, m.price_output_usd_per_mtok,
                  m.price_cache_read_usd_per_mtok FROM models m JOIN providers p ON p.id = m.provider_id
           WHERE p.slug = %s""", (slug,)).fetchall()}


def _held(catalog) -> dict[str, str]:
    return dict(catalog.execute(
        """SELECT m.provider_model_id, c.price_input_usd_per_mtok::text FROM model_price_candidates c
           JOIN models m ON m.id = c.model_id WHERE c.source = 'list_api' AND c.status = 'disputed'"""
    ).fetchall())


def _titles(alerts) -> list[str]:
    return [m.title for m in alerts.messages("/alerts")]


def test_21_a_renamed_price_object_is_refused_and_told(baseline, catalog, replay, sync, alerts):
    replay.add_fault("openrouter", rename_keys={"pricing": "price"}, times=-1)
    run = sync()
    _run_failed_only_for(run, catalog, "openrouter")
    error = _failed_as(catalog, run, "openrouter", "suspicious field loss: the listing from openrouter would remove "
                       # 218: OpenRouter's two Lyria models list 0/0, which is not a price (no price to lose)
                       "price_input_usd_per_mtok from 218 of 218 models that had it (e.g. ", "allow_field_loss=true")
    assert "price_output_usd_per_mtok from " in error
    assert _changes(catalog, run) == []
    assert_untouched(baseline, dump(catalog))
    failure, digest = alerts.messages("/alerts")
    assert failure.title == "Model sync failed: openrouter" and failure.type == "failure"
    assert "Fields the refused listings would have removed (nothing was written):" in failure.message
    assert "- openrouter: price_input_usd_per_mtok on 218 of 218 models (e.g. " in failure.message
    assert digest.title == "Catalog changes: 1 listing changed shape"
    assert "- openrouter: 225 records now lack `pricing`; new key `price` seen" in digest.message


def test_22_a_renamed_limits_field_is_refused_and_told(baseline, catalog, replay, sync, alerts):
    replay.add_fault("mistral", rename_keys={"max_context_length": "context_window"}, times=-1)
    run = sync()
    _run_failed_only_for(run, catalog, "mistral")
    _failed_as(catalog, run, "mistral", "would remove context_length from 55 of 55 models that had it (e.g. ")
    assert _changes(catalog, run) == []
    assert_untouched(baseline, dump(catalog))
    failure, digest = alerts.messages("/alerts")
    assert failure.title == "Model sync failed: mistral"
    assert "- mistral: context_length on 55 of 55 models (e.g. " in failure.message
    assert "- mistral: 55 records now lack `max_context_length`; new key `context_window` seen" in digest.message


def _held_jump_row(baseline, catalog, replay, sync, alerts, factor: str, listed: str, words: str):
    before = _prices(catalog, "groq")
    # every listed price jumps, the two text-to-speech models' per-character prices too (compared meter by meter)
    priced = sorted(model for (model,) in catalog.execute(
        """SELECT DISTINCT provider_model_id FROM model_prices_current WHERE provider_slug = 'groq'
           AND source = 'list_api'""").fetchall())
    replay.add_fault("groq", scale_prices=factor, times=-1)
    run = sync()
    assert run.state == "success"
    status, error, *_rest, details = attempts(catalog, run, "groq")[-1]
    assert (status, error) == ("success", None)
    assert details["price_jumps_held_count"] == len(priced) == 8
    assert _prices(catalog, "groq") == before, "every stored price stays"
    held = _held(catalog)
    assert sorted(held) == priced and held[GPT_OSS] == listed
    recorded = _changes(catalog, run)
    assert {kind for _, kind, *_ in recorded} == {"price_held"}
    assert (GPT_OSS, "price_held", "price_input_usd_per_mtok", "0.15", listed) in recorded
    assert_untouched(baseline, dump(catalog), "groq")
    (digest,) = alerts.messages("/alerts")
    assert digest.title.startswith("Catalog changes: ") and "price jumps held" in digest.title
    assert digest.type == "warning"
    assert f"- groq {GPT_OSS}: input 0.15 -> {listed} USD/1M tokens held ({words}; the stored price stays)" \
        in digest.message

    alerts.clear()
    again = sync()
    assert again.state == "success" and _changes(catalog, again) == [], "held, and not told twice"
    assert _held(catalog) == held and alerts.messages() == []

    accepted = sync(accept_price_jumps=True)
    assert accepted.state == "success"
    assert _prices(catalog, "groq")[GPT_OSS][0] == Decimal(listed), "accepted on purpose"
    assert _held(catalog) == {}
    assert (GPT_OSS, "price_changed", "price_input_usd_per_mtok", "0.15", listed) in _changes(catalog, accepted)
    return recorded


def test_23_prices_at_1000x_are_held_not_applied(baseline, catalog, replay, sync, alerts):
    _held_jump_row(baseline, catalog, replay, sync, alerts, "1000", "150", "1000x up")


def test_24_prices_at_a_thousandth_are_held_not_applied(baseline, catalog, replay, sync, alerts):
    _held_jump_row(baseline, catalog, replay, sync, alerts, "0.001", "0.00015", "1000x down")


def test_25_a_real_3x_price_change_still_applies(baseline, catalog, replay, sync, alerts):
    before = _prices(catalog, "groq")
    replay.add_fault("groq", scale_prices="3", scale_ids=[GPT_OSS], times=-1)
    run = sync()
    assert run.state == "success"
    after = _prices(catalog, "groq")
    assert after[GPT_OSS] == (Decimal("0.45"), Decimal("1.8"), Decimal("0.225"))
    assert {m: p for m, p in after.items() if m != GPT_OSS} == {m: p for m, p in before.items() if m != GPT_OSS}
    assert _held(catalog) == {}
    assert sorted(_changes(catalog, run)) == [
        (GPT_OSS, "price_changed", "price_cache_read_usd_per_mtok", "0.075", "0.225"),
        (GPT_OSS, "price_changed", "price_input_usd_per_mtok", "0.15", "0.45"),
        (GPT_OSS, "price_changed", "price_output_usd_per_mtok", "0.6", "1.8"),
    ]
    assert attempts(catalog, run, "groq")[-1][:2] == ("success", None)
    assert_untouched(baseline, dump(catalog), "groq")
    (digest,) = alerts.messages("/alerts")
    assert digest.title == "Catalog changes: 3 price moves"
    assert f"- groq {GPT_OSS}: input 0.15 -> 0.45 USD/1M tokens (+200.0%)" in digest.message


def test_26_half_the_records_missing_a_field_is_refused_unless_allowed(baseline, catalog, replay, sync, alerts):
    replay.add_fault("openrouter", drop_keys=["context_length", "top_provider.context_length"], drop_share=0.5,
                     times=-1)
    run = sync()
    _run_failed_only_for(run, catalog, "openrouter")
    _failed_as(catalog, run, "openrouter", "would remove context_length from 112 of 225 models that had it")
    assert _changes(catalog, run) == []
    assert_untouched(baseline, dump(catalog))
    assert _titles(alerts) == ["Model sync failed: openrouter", "Catalog changes: 1 listing changed shape"]
    assert "- openrouter: 112 records now lack `context_length`" in alerts.messages("/alerts")[1].message

    alerts.clear()
    allowed = sync(allow_field_loss=True)
    assert allowed.state == "success"
    removed = [c for c in _changes(catalog, allowed) if c[1] == "field_removed"]
    assert len(removed) == 112 and {c[2] for c in removed} == {"context_length"}
    assert all(c[3] is not None and c[4] is None for c in removed)
    lost = catalog.execute(
        """SELECT count(*) FROM models m JOIN providers p ON p.id = m.provider_id
           WHERE p.slug = 'openrouter' AND m.context_length IS NULL"""
    ).fetchone()[0]
    assert lost == 112
    assert attempts(catalog, allowed, "openrouter")[-1][8]["field_loss"][0] == {
        "field": "context_length", "lost": 112, "had": 225,
        "examples": [c[0] for c in sorted(removed)][:3]}
    (digest,) = alerts.messages("/alerts")
    assert digest.title == "Catalog changes: 1 listing changed shape, 112 fields removed"
    assert "Fields removed (112):" in digest.message and ": context_length removed (was " in digest.message
    assert_untouched(baseline, dump(catalog), "openrouter")
