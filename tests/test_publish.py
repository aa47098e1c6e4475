"""The catalog publish, end to end: the recorded catalog synced and priced through `dag.test()` (replay server,
real PostgreSQL), then `gatewayz_publish_catalog` writing through ObjectStoragePath to a folder: the files, the
manifest, dedupe by content hash, retention, atomic writes, asset events with counts, models that fail a billing
check, a failing publish (alert, /health), the export endpoints with ETag/304 and prices as of a time."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from include.gatewayz_sync.publish import run as publish_run
from include.gatewayz_sync.publish.storage import FILES, CatalogStore
from tests.airflow_helpers import task_states, xcom_values
from tests.alert_receiver import AlertReceiver
from tests.conftest import CATALOG_TABLES, MODEL_SYNC_DEFAULTS, PROJECT_ROOT, TEST_PAGE_SIZES, catalog_connection

PUBLISH_DAG = "gatewayz_publish_catalog"
QWEN = "qwen/qwen3.8-27b"
SNAPSHOT = PROJECT_ROOT / "include/gatewayz_sync/prices/snapshots/litellm-model_prices_and_context_window.json"


def publish_dag(base: Path):
    """The publish DAG as parsed with GATEWAYZ_PUBLISH_URL set (its outlets come from it)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "gatewayz_publish_catalog.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[PUBLISH_DAG]


@pytest.fixture(scope="module")
def pipeline(migrated_catalog, replay_server_session, dagbag, tmp_path_factory):
    """Providers, models and prices synced once on a fresh catalog; then one publish through the DAG."""
    server = replay_server_session
    server.clear_faults()
    server.reset_catalogs()
    for slug in list(server._page_sizes):
        server.set_page_size(slug, TEST_PAGE_SIZES.get(slug))
    base = tmp_path_factory.mktemp("published")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GATEWAYZ_BASE_URL_OVERRIDE", server.base_url_override)
        patch.setenv("GATEWAYZ_PUBLISH_URL", f"file://{base}")
        patch.delenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", raising=False)
        connection = catalog_connection()
        connection.execute(f"TRUNCATE {', '.join(CATALOG_TABLES)} RESTART IDENTITY CASCADE")
        runs = {}
        for dag_id in ("gatewayz_sync_providers", "gatewayz_sync_models", "gatewayz_sync_prices"):
            conf = MODEL_SYNC_DEFAULTS if dag_id == "gatewayz_sync_models" else {}
            runs[dag_id] = dagbag.dags[dag_id].test(run_conf=dict(conf))
        dag = publish_dag(base)
        runs[PUBLISH_DAG] = dag.test()
        yield {"connection": connection, "runs": runs, "base": base, "dag": dag, "patch": patch, "server": server}
        connection.close()


def manifest(base: Path) -> dict:
    return json.loads((base / "manifest.json").read_bytes())


def test_the_publish_dag_writes_every_file_versioned_then_the_manifest(pipeline):
    base, run = pipeline["base"], pipeline["runs"][PUBLISH_DAG]
    assert all(r.state == "success" for r in pipeline["runs"].values()), {k: r.state for k, r in pipeline["runs"].items()}
    assert task_states(run) == {("publish", -1): "success", ("notify", -1): "success", ("finalize", -1): "success"}
    current = manifest(base)
    version = current["version"]
    assert set(current["files"]) == set(FILES)
    for name, entry in current["files"].items():
        versioned, latest = base / entry["path"], base / entry["latest"]
        assert entry["path"] == f"versions/{version}/{FILES[name]}" and entry["latest"] == FILES[name]
        assert versioned.read_bytes() == latest.read_bytes(), "the stable copy is the current version's file"
        assert hashlib.sha256(versioned.read_bytes()).hexdigest() == entry["sha256"]
        assert entry["bytes"] == versioned.stat().st_size
        assert entry["generated_at"] == current["generated_at"]
        assert entry["catalog_last_sync"] == current["catalog_last_sync"] is not None
        assert isinstance(entry["models"], int)
    assert json.loads((base / "versions" / version / "manifest.json").read_bytes()) == current
    assert not list(base.rglob("*.tmp")), "no temporary file is left behind"
    connection = pipeline["connection"]
    active = connection.execute("SELECT count(*) FROM models WHERE is_active").fetchone()[0]
    assert current["files"]["catalog"]["models"] == active
    litellm = json.loads((base / FILES["litellm"]).read_bytes())
    openrouter = json.loads((base / FILES["openrouter"]).read_bytes())
    assert current["files"]["litellm"]["entries"] == len(litellm)
    assert current["files"]["openrouter"]["models"] == len(openrouter["data"])
    priced = connection.execute(
        "SELECT count(DISTINCT model_id) FROM model_prices p JOIN models m ON m.id = p.model_id WHERE m.is_active"
    ).fetchone()[0]
    withheld = len(current["withheld"])
    assert current["files"]["litellm"]["models"] + withheld >= priced - 5, (priced, withheld)
    print(f"published {current['files']['litellm']['models']} models into LiteLLM's map "
          f"({current['files']['litellm']['added']} added, {current['files']['litellm']['updated']} updated), "
          f"{len(openrouter['data'])} in models.json, {active} in catalog.json, {withheld} withheld")
    attempts = connection.execute("SELECT status, version FROM catalog_publications ORDER BY id").fetchall()
    assert attempts == [("published", version)]
    assert xcom_values(run, "finalize")[-1]["version"] == version


def test_the_litellm_map_is_the_bundled_snapshot_with_ours_on_top(pipeline):
    base = pipeline["base"]
    snapshot = json.loads(SNAPSHOT.read_bytes())
    published = json.loads((base / FILES["litellm"]).read_bytes())
    assert set(snapshot) <= set(published), "no LiteLLM entry is dropped"
    assert len(published) > len(snapshot), "our additions are in"
    erased = [(key, field) for key, entry in snapshot.items() if isinstance(entry, dict)
              for field in entry if field not in published[key] and "_above_" not in field]
    assert erased == [], "a field we do not know never erases LiteLLM's"
    qwen = published[f"openrouter/{QWEN}"]
    assert qwen["litellm_provider"] == "openrouter" and qwen["mode"] == "chat"
    stored = dict(pipeline["connection"].execute(
        """SELECT r.meter, r.amount_usd FROM model_prices r JOIN models m ON m.id = r.model_id
           JOIN providers p ON p.id = m.provider_id WHERE p.slug = 'openrouter' AND m.provider_model_id = %s
             AND r.unit = 'token' AND r.above_input_tokens = 0 AND r.service_tier = 'standard'""", (QWEN,)).fetchall())
    assert qwen["input_cost_per_token"] == float(stored["input"] / 1_000_000)
    assert qwen["output_cost_per_token"] == float(stored["output"] / 1_000_000)


def test_an_unchanged_catalog_publishes_nothing_new(pipeline):
    base, dag, connection = pipeline["base"], pipeline["dag"], pipeline["connection"]
    before = manifest(base)
    versions = sorted(p.name for p in (base / "versions").iterdir())
    stamps = {p: p.stat().st_mtime_ns for p in base.rglob("*") if p.is_file()}
    run = dag.test()
    assert run.state == "success"
    assert task_states(run)[("finalize", -1)] == "skipped", "no asset event says the files were updated"
    assert manifest(base) == before
    assert sorted(p.name for p in (base / "versions").iterdir()) == versions
    assert {p: p.stat().st_mtime_ns for p in base.rglob("*") if p.is_file()} == stamps, "nothing was rewritten"
    status, version = connection.execute(
        "SELECT status, version FROM catalog_publications ORDER BY id DESC LIMIT 1").fetchone()
    assert (status, version) == ("unchanged", before["version"])


def test_each_published_file_is_an_asset_updated_with_its_counts(pipeline):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    base = pipeline["base"]
    current = manifest(base)
    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, AssetEvent.extra).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri.like(f"file://{base}/%"))
        ).all()
    by_uri = {uri: extra for uri, extra in rows}
    assert len(rows) == len(by_uri) == len(FILES) + 1, "one event per file, for the one new version"
    for name, file in FILES.items():
        extra = by_uri[f"file://{base}/{file}"]
        assert extra["version"] == current["version"]
        assert extra["models"] == current["files"][name]["models"]
        assert extra["sha256"] == current["files"][name]["sha256"]
    assert by_uri[f"file://{base}/manifest.json"]["models"]["catalog"] == current["files"]["catalog"]["models"]


def test_catalog_json_round_trips_every_stored_price_exactly(pipeline):
    base, connection = pipeline["base"], pipeline["connection"]
    document = json.loads((base / FILES["catalog"]).read_bytes())
    published = {}
    for model in document["models"]:
        for price in model["prices"]:
            assert isinstance(price["amount_usd"], str), "amounts are decimal strings, never floats"
            key = (model["provider"], model["id"], price["meter"], price["unit"], price["above_input_tokens"],
                   price["service_tier"], price["time_window"], price["option"])
            published[key] = (Decimal(price["amount_usd"]), price["source"])
    stored = {
        (slug, model_id, meter, unit, above, tier, window, option): (amount, source)
        for slug, model_id, meter, unit, above, tier, window, option, amount, source in connection.execute(
            """SELECT p.slug, m.provider_model_id, r.meter, r.unit, r.above_input_tokens, r.service_tier,
                      r.time_window, r.option, r.amount_usd, r.source
               FROM model_prices r JOIN models m ON m.id = r.model_id JOIN providers p ON p.id = m.provider_id
               WHERE m.is_active AND p.is_active""").fetchall()
    }
    assert len(stored) > 1000
    assert published == stored
    assert all(str(amount) == str(Decimal(str(amount))) for amount, _ in published.values())
    tiers = [m for m in document["models"] if any(p["above_input_tokens"] for p in m["prices"])]
    assert tiers, "long-context tiers are published with their threshold"
    model = next(m for m in document["models"] if m["provider"] == "openrouter" and m["id"] == QWEN)
    assert model["sources"]["context_length"] == "list_api"
    assert model["first_seen_at"] and model["last_seen_at"] and model["lifecycle"]["state"] == "active"


def test_models_json_has_the_openrouter_shape_with_per_token_strings(pipeline):
    base = pipeline["base"]
    document = json.loads((base / FILES["openrouter"]).read_bytes())
    entry = next(m for m in document["data"] if m["id"] == f"openrouter/{QWEN}")
    assert set(entry) >= {"id", "canonical_slug", "name", "created", "context_length", "architecture", "pricing",
                          "top_provider", "description"}
    assert isinstance(entry["pricing"]["prompt"], str) and isinstance(entry["pricing"]["completion"], str)
    stored = Decimal(pipeline["connection"].execute(
        """SELECT r.amount_usd FROM model_prices r JOIN models m ON m.id = r.model_id JOIN providers p
           ON p.id = m.provider_id WHERE p.slug = 'openrouter' AND m.provider_model_id = %s AND r.meter = 'input'
           AND r.unit = 'token' AND r.above_input_tokens = 0 AND r.service_tier = 'standard'""", (QWEN,)).fetchone()[0])
    assert Decimal(entry["pricing"]["prompt"]) * 1_000_000 == stored
    assert entry["architecture"]["input_modalities"]
    ids = [m["id"] for m in document["data"]]
    assert len(ids) == len(set(ids))
