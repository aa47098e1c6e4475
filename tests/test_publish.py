"""The catalog publish, end to end: the recorded catalog synced and priced through `dag.test()` (replay server,
real PostgreSQL), then `gatewayz_publish_catalog` writing through ObjectStoragePath to a folder: the files, the
manifest, dedupe by content hash, retention, atomic writes, asset events with counts, models that fail a billing
check, a failing publish (alert, /health), the export endpoints with ETag/304 and prices as of a time."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from include.gatewayz_sync import catalog_publish
from include.gatewayz_sync.publish.storage import FILES, CatalogStore
from tests.airflow_helpers import task_states, xcom_values
from tests.alert_receiver import AlertReceiver
from tests.conftest import MODEL_SYNC_DEFAULTS, PROJECT_ROOT, pipeline_on_a_fresh_catalog

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
    base = tmp_path_factory.mktemp("published")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GATEWAYZ_PUBLISH_URL", f"file://{base}")
        patch.delenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", raising=False)
        with pipeline_on_a_fresh_catalog(replay_server_session, dagbag, patch) as (connection, runs, _):
            dag = publish_dag(base)
            runs[PUBLISH_DAG] = dag.test()
            yield {"connection": connection, "runs": runs, "base": base, "dag": dag, "patch": patch,
                   "server": replay_server_session}


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
    for name in ("litellm", "openrouter"):
        left_out = len(current["not_in_format"][name])
        assert current["files"][name]["models"] + withheld + left_out == priced, "every priced model is accounted for"
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


LITELLM_MIN_MODELS, LITELLM_MIN_PROVIDERS, RELATIVE = 50, 8, Decimal("1e-9")
# Providers whose published entries LiteLLM itself will not price (the map still carries them for other readers):
NOT_A_LITELLM_PROVIDER = "LLM Provider NOT provided"  # anannas, near, onerouter, ...: LiteLLM refuses the model
LITELLM_PRICES_AT_ZERO = {"huggingface"}  # LiteLLM 1.84.10 answers 0 for every huggingface model (_get_model_info_helper)
# LiteLLM's DashScope calculator bills `tiered_pricing` ranges marginally; Alibaba and the catalog price the whole call
# at the tier the prompt reaches, so the long-context check uses a provider whose calculator reads `*_above_*` keys.
MARGINAL_TIERS = {"alibaba"}


def _token_rates(connection) -> dict[tuple[str, str], dict[tuple[str, int], Decimal]]:
    """Every active model's standard per-token input and output prices, by (meter, threshold), from the database."""
    rates: dict[tuple[str, str], dict[tuple[str, int], Decimal]] = {}
    for slug, model_id, meter, above, amount in connection.execute(
            """SELECT p.slug, m.provider_model_id, r.meter, r.above_input_tokens, r.amount_usd
               FROM model_prices r JOIN models m ON m.id = r.model_id JOIN providers p ON p.id = m.provider_id
               WHERE m.is_active AND r.unit = 'token' AND r.service_tier = 'standard' AND r.time_window = ''
                 AND r.option = '' AND r.meter IN ('input', 'output')""").fetchall():
        rates.setdefault((slug, model_id), {})[(meter, above)] = amount
    return rates


def _our_cost(rates: dict[tuple[str, int], Decimal], prompt: int, completion: int) -> tuple[Decimal, Decimal]:
    """What the catalog bills: the highest long-context tier the prompt exceeds applies to the whole call."""
    tier = max((above for meter, above in rates if meter == "input" and above < prompt), default=0)
    input_rate = rates.get(("input", tier), rates[("input", 0)])
    output_rate = rates.get(("output", tier), rates[("output", 0)])
    return prompt * input_rate / 1_000_000, completion * output_rate / 1_000_000


@pytest.mark.slow
def test_the_real_litellm_loads_the_published_map_and_bills_our_stored_prices(pipeline):
    from tests.published_clients import REFUSED_LITELLM, run_client, serve_directory

    base, connection = pipeline["base"], pipeline["connection"]
    catalog = json.loads((base / FILES["catalog"]).read_bytes())
    snapshot = json.loads(SNAPSHOT.read_bytes())
    rates = _token_rates(connection)
    by_provider: dict[str, list[tuple[str, tuple[str, str]]]] = {}
    long_context = None
    for model in catalog["models"]:
        key, model_rates = model["published_as"].get("litellm"), rates.get((model["provider"], model["id"]))
        if not key or not model_rates or not all(model_rates.get((m, 0), 0) > 0 for m in ("input", "output")):
            continue
        tiers = sorted(above for meter, above in model_rates if meter == "input" and above)
        if tiers and long_context is None and model["provider"] not in MARGINAL_TIERS:
            long_context = (key, (model["provider"], model["id"]), tiers[0] + 1000)
        by_provider.setdefault(model["provider"], []).append((key, (model["provider"], model["id"])))
    asked = [(key, ours, 1200, 345) for models in by_provider.values() for key, ours in models[:12]]
    assert long_context is not None, "a model with a long-context tier is published"
    asked.append((long_context[0], long_context[1], long_context[2], 2000))
    only_ours = f"openrouter/{QWEN}"
    assert only_ours not in snapshot

    with serve_directory(base) as url:
        result = run_client(
            "litellm_costs.py",
            stdin={"known": [only_ours], "costs": [{"key": key, "prompt_tokens": p, "completion_tokens": c}
                                                   for key, _, p, c in asked]},
            env={"LITELLM_MODEL_COST_MAP_URL": f"{url}/{FILES['litellm']}", "LITELLM_LOG": "ERROR"},
        )
    version = tuple(int(part) for part in result["litellm"].split(".")[:3])
    assert result["litellm"] not in REFUSED_LITELLM and version >= (1, 84, 0) and version[:2] != (1, 107)
    assert result["source"]["source"] == "remote", result["source"]
    assert result["source"]["url"].endswith("/model_prices_and_context_window.json")
    assert result["source"]["fallback_reason"] is None
    published = json.loads((base / FILES["litellm"]).read_bytes())
    assert result["entries"] >= len(published), "LiteLLM holds every published entry (plus its aliases)"
    known = result["known"][only_ours]
    assert known is not None, "a model only our catalog has is known to LiteLLM: the remote map was loaded"
    assert result["in_bundled_copy"][only_ours] is False, "... and LiteLLM's own bundled copy does not have it"
    assert Decimal(str(known["input_cost_per_token"])) * 1_000_000 == rates[("openrouter", QWEN)][("input", 0)]

    priced, mismatches, refused = [], [], set()
    for (key, ours, prompt, completion), cost in zip(asked, result["costs"], strict=True):
        if "error" in cost:
            if NOT_A_LITELLM_PROVIDER in cost["error"]:
                refused.add(ours[0])
            else:
                mismatches.append(f"{key}: {cost['error']}")
            continue
        if ours[0] in LITELLM_PRICES_AT_ZERO:
            assert (cost["prompt"], cost["completion"]) == (0, 0), "LiteLLM now prices huggingface: drop the exception"
            continue
        expected = _our_cost(rates[ours], prompt, completion)
        for got, want in zip((cost["prompt"], cost["completion"]), expected, strict=True):
            if abs(Decimal(str(got)) - want) > RELATIVE * want:
                mismatches.append(f"{key}: LiteLLM {got}, ours {want} ({prompt}+{completion} tokens)")
                break
        else:
            priced.append(ours)
    providers = {provider for provider, _ in priced}
    print(f"LiteLLM {result['litellm']} priced {len(priced)} models of {len(providers)} providers as stored "
          f"({', '.join(sorted(providers))}); the long-context call {long_context[0]} at {long_context[2]} tokens; "
          f"not LiteLLM providers: {', '.join(sorted(refused))}")
    assert refused <= {"anannas", "near", "onerouter", "aimo", "alpaca", "simplismart", "aihubmix"}
    assert mismatches == [], "\n".join(mismatches)
    assert len(priced) >= LITELLM_MIN_MODELS and len(providers) >= LITELLM_MIN_PROVIDERS
    assert long_context[1] in priced


@pytest.mark.slow
def test_the_real_openai_client_lists_every_published_model(pipeline):
    from tests.published_clients import run_client, serve_models_list

    models_json = pipeline["base"] / FILES["openrouter"]
    published = [model["id"] for model in json.loads(models_json.read_bytes())["data"]]
    with serve_models_list(models_json) as base_url:
        result = run_client("openai_models.py", base_url)
    assert result["ids"] == published and len(published) > 500


def _store(path: Path) -> CatalogStore:
    return CatalogStore.open(f"file://{path}")


def publish_with_a_failing_pointer(monkeypatch, connection, store, base_url: str) -> None:
    """Publish while every write of the pointer (manifest.json) fails: the publish must fail and name it."""
    real_write = CatalogStore.write

    def failing_pointer(self, relative, data):
        if relative == "manifest.json":
            raise OSError("connection reset while writing the pointer")
        return real_write(self, relative, data)

    with monkeypatch.context() as patched:
        patched.setattr(CatalogStore, "write", failing_pointer)
        with pytest.raises(catalog_publish.PublishFailed, match="while writing version .*: OSError: connection reset"):
            catalog_publish.publish_catalog(connection, store, base_url, 10)


def publish_three_versions(connection, store, base_url: str) -> list[str]:
    """Publish three times, keeping two versions, with one price doubled before the second and the third."""
    model = _sync(connection, "openrouter", QWEN)
    versions = []
    for step in range(3):
        if step:
            connection.execute("UPDATE model_prices SET amount_usd = amount_usd * 2 WHERE model_id = %s", (model,))
        versions.append(catalog_publish.publish_catalog(connection, store, base_url, keep_versions=2).version)
    return versions


def _sync(connection, slug: str, model_id: str) -> int:
    return connection.execute(
        """SELECT m.id FROM models m JOIN providers p ON p.id = m.provider_id
           WHERE p.slug = %s AND m.provider_model_id = %s""", (slug, model_id)).fetchone()[0]


def test_models_failing_a_billing_check_are_left_out_and_named_without_blocking_the_publish(pipeline, tmp_path,
                                                                                           monkeypatch):
    from include.gatewayz_sync.publish import litellm_map

    connection = pipeline["connection"]
    snapshot = json.loads(SNAPSHOT.read_bytes())
    disputed, zero, wrong_unit, broken = ("openai", "gpt-4o"), ("groq", "openai/gpt-oss-120b"), \
        ("openrouter", QWEN), ("xai", "grok-3")
    held = ("groq", "openai/gpt-oss-20b")
    assert "gpt-4o" in snapshot and "groq/openai/gpt-oss-120b" in snapshot
    original = litellm_map.entry_fields

    def entry_fields(model):
        if (model.provider, model.model_id) == broken:
            raise RuntimeError("an entry that cannot be built")
        return original(model)

    monkeypatch.setattr(litellm_map, "entry_fields", entry_fields)
    with connection.transaction(force_rollback=True):
        connection.execute("UPDATE models SET price_confidence = 'disputed', price_dispute = 'test: 12x apart' WHERE id = %s",
                           (_sync(connection, *disputed),))
        connection.execute("UPDATE model_prices SET amount_usd = 0 WHERE model_id = %s AND meter = 'input'",
                           (_sync(connection, *zero),))
        connection.execute("UPDATE model_prices SET unit = 'second' WHERE model_id = %s AND meter = 'output'",
                           (_sync(connection, *wrong_unit),))
        connection.execute(
            """INSERT INTO model_price_candidates (model_id, source, source_model_id, match_rule, source_version,
                                                  status, status_reason, content_hash)
               VALUES (%s, 'list_api', %s, 'exact', 'listing', 'disputed', 'input 0.15 -> 150 (1000x up)', 'x')""",
            (_sync(connection, *held), held[1]))
        outcome = catalog_publish.publish_catalog(connection, _store(tmp_path), f"file://{tmp_path}", 10)
    assert outcome.status == "published"
    current = manifest(tmp_path)
    withheld = {entry["id"]: entry for entry in current["withheld"]}
    assert withheld["openai/gpt-4o"]["reason"] == "disputed price: test: 12x apart"
    assert withheld["groq/openai/gpt-oss-120b"]["reason"].startswith("$0 price on a model that is not free (input/")
    assert withheld[f"openrouter/{QWEN}"]["reason"] == "price in a wrong unit for its meter (output/second)"
    assert withheld["groq/openai/gpt-oss-20b"]["reason"].endswith("the jump is held (input 0.15 -> 150 (1000x up))")
    assert all(entry["left_out_of"] == ["litellm", "openrouter"] for entry in withheld.values())
    assert {"id": "xai/grok-3", "reason": "an entry that cannot be built"} in current["not_in_format"]["litellm"]
    litellm = json.loads((tmp_path / FILES["litellm"]).read_bytes())
    assert litellm["gpt-4o"] == snapshot["gpt-4o"], "LiteLLM's own entry stays as it was"
    assert litellm["groq/openai/gpt-oss-120b"] == snapshot["groq/openai/gpt-oss-120b"]
    assert f"openrouter/{QWEN}" not in litellm
    ids = {m["id"] for m in json.loads((tmp_path / FILES["openrouter"]).read_bytes())["data"]}
    assert not ids & {"openai/gpt-4o", "groq/openai/gpt-oss-120b", f"openrouter/{QWEN}"}
    assert "xai/grok-3" in ids, "a model left out of one format is still in the other"
    catalog = json.loads((tmp_path / FILES["catalog"]).read_bytes())
    record = next(m for m in catalog["models"] if m["public_id"] == "openai/gpt-4o")
    assert record["price"]["withheld"] == "disputed price: test: 12x apart", "catalog.json carries the reason"


def test_retention_keeps_the_newest_versions_and_deletes_only_recorded_ones(pipeline, tmp_path):
    connection = pipeline["connection"]
    store, base_url = _store(tmp_path), f"file://{tmp_path}"
    (tmp_path / "versions" / "someone-elses").mkdir(parents=True)
    with connection.transaction(force_rollback=True):
        versions = publish_three_versions(connection, store, base_url)
        assert len(set(versions)) == 3
        kept = sorted(p.name for p in (tmp_path / "versions").iterdir())
        assert kept == sorted([*versions[1:], "someone-elses"]), "a folder it never wrote is left alone"
        assert manifest(tmp_path)["version"] == versions[2]
        assert manifest(tmp_path)["previous_version"] == versions[1]
        removed = connection.execute("SELECT version FROM catalog_publications WHERE removed_at IS NOT NULL").fetchall()
        assert removed == [(versions[0],)]


def test_every_write_is_atomic_and_a_publish_that_fails_midway_leaves_the_last_version_current(pipeline, tmp_path,
                                                                                                 monkeypatch):
    connection, store, base_url = pipeline["connection"], _store(tmp_path), f"file://{tmp_path}"
    store.write("probe.json", b'{"old": true}')
    path_type = type(store.path("probe.json"))
    real_write = path_type.write_bytes

    def torn_write(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(path_type, "write_bytes", torn_write)
    with pytest.raises(OSError, match="disk full"):
        store.write("probe.json", b'{"new": true, "padding": "' + b"x" * 100 + b'"}')
    monkeypatch.setattr(path_type, "write_bytes", real_write)
    assert store.read("probe.json") == b'{"old": true}', "a reader sees the old bytes, never a part"
    assert not list(tmp_path.rglob("*.tmp"))

    with connection.transaction(force_rollback=True):
        first = catalog_publish.publish_catalog(connection, store, base_url, 10)
        connection.execute("UPDATE model_prices SET amount_usd = amount_usd * 3 WHERE model_id = %s",
                           (_sync(connection, "openrouter", QWEN),))
        publish_with_a_failing_pointer(monkeypatch, connection, store, base_url)
        current = manifest(tmp_path)
        assert current["version"] == first.version, "the pointer still names the last good version"
        for entry in current["files"].values():
            assert hashlib.sha256((tmp_path / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
        status, version, error = connection.execute(
            "SELECT status, version, error FROM catalog_publications ORDER BY id DESC LIMIT 1").fetchone()
        assert status == "failed" and version != first.version and "connection reset" in error
        assert (tmp_path / "versions" / version).is_dir(), "the partial version is recorded for retention"
        retried = catalog_publish.publish_catalog(connection, store, base_url, 1)
        assert retried.status == "published" and manifest(tmp_path)["version"] == retried.version
        assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == [retried.version], \
            "retention removed the failed attempt's folder and the older version"


def _client():
    from fastapi.testclient import TestClient

    from include.gatewayz_sync.web.app import create_app

    app = create_app()
    app.dependency_overrides[app.router.dependencies[0].dependency] = lambda: None
    return TestClient(app)


def test_a_failed_publish_alerts_like_a_failed_sync_and_shows_on_health_until_one_succeeds(pipeline, tmp_path,
                                                                                          monkeypatch):
    receiver = AlertReceiver().start()
    try:
        monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", receiver.connection_json("/alerts"))
        (tmp_path / "a-file").write_text("not a folder")
        monkeypatch.setenv("GATEWAYZ_PUBLISH_URL", f"file://{tmp_path}/a-file/catalog")
        run = publish_dag(tmp_path).test()
        assert run.state == "failed"
        states = task_states(run)
        assert states[("publish", -1)] == "failed" and states[("notify", -1)] == "success"
        assert states[("finalize", -1)] == "failed"
        (alert,) = receiver.messages("/alerts")
        assert alert.type == "failure" and alert.title == "Catalog publish failed"
        assert f"at file://{tmp_path}/a-file/catalog" in alert.message and "catalog publish failed while" in alert.message
        assert "/dags/gatewayz_publish_catalog/runs/" in alert.message

        client = _client()
        health = client.get("/health")
        body = health.json()
        assert health.status_code == 503
        assert any(cause.startswith("catalog publish failing since ") for cause in body["causes"])
        assert body["publishing"]["dag_run_id"] == run.run_id
        assert client.get("/status").json()["publishing"]["failing"]["dag_run_id"] == run.run_id

        monkeypatch.setenv("GATEWAYZ_PUBLISH_URL", f"file://{pipeline['base']}")
        assert publish_dag(tmp_path).test().state == "success"
        assert client.get("/health").json()["publishing"] is None, "a publish that works clears it"
    finally:
        receiver.close()


def test_the_export_endpoints_serve_the_current_bytes_with_an_etag_and_answer_304(pipeline, monkeypatch):
    base = pipeline["base"]
    monkeypatch.setenv("GATEWAYZ_PUBLISH_URL", f"file://{base}")
    client = _client()
    current = manifest(base)
    for route, name in (("litellm", "litellm"), ("openrouter", "openrouter"), ("catalog", "catalog"),
                        ("price-history", "price_history"), ("openrouter/models", "openrouter")):
        response = client.get(f"/export/{route}")
        assert response.status_code == 200, route
        assert response.content == (base / current["files"][name]["path"]).read_bytes()
        etag = response.headers["etag"]
        assert etag == f'"{current["files"][name]["sha256"]}"'
        assert response.headers["x-catalog-version"] == current["version"]
        again = client.get(f"/export/{route}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert client.get(f"/export/{route}", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get("/export/nonsense").status_code == 422
    monkeypatch.delenv("GATEWAYZ_PUBLISH_URL")
    assert client.get("/export/litellm").status_code == 404


def test_prices_as_of_a_time_are_rebuilt_from_model_changes(pipeline, dagbag):
    connection, server = pipeline["connection"], pipeline["server"]
    client = _client()
    model = _sync(connection, "openrouter", QWEN)
    first_seen = connection.execute("SELECT first_seen_at FROM models WHERE id = %s", (model,)).fetchone()[0]
    before = connection.execute(
        """SELECT amount_usd FROM model_prices WHERE model_id = %s AND meter = 'input' AND unit = 'token'
             AND above_input_tokens = 0 AND service_tier = 'standard'""", (model,)).fetchone()[0]
    records = copy.deepcopy(server.catalog("openrouter").records)
    next(r for r in records if r["id"] == QWEN)["pricing"]["prompt"] = "0.0000009"
    server.set_records("openrouter", records)
    try:
        run = dagbag.dags["gatewayz_sync_models"].test(run_conf={**MODEL_SYNC_DEFAULTS, "providers": ["openrouter"]})
        assert run.state == "success"
    finally:
        server.reset_catalogs()
    changed_at = connection.execute(
        """SELECT detected_at FROM model_changes WHERE model_id = %s AND kind = 'price_changed'
             AND field = 'price_input_usd_per_mtok'""", (model,)).fetchone()[0]

    def input_price(at: datetime) -> str | None:
        body = client.get("/prices/as-of", params={"at": at.isoformat(), "provider": "openrouter"}).json()
        entry = next((m for m in body["models"] if m["model"] == QWEN), None)
        if entry is None:
            return None
        return next(p["amount_usd"] for p in entry["prices"] if p["meter"] == "input" and p["unit"] == "token"
                    and p["above_input_tokens"] == 0 and p["service_tier"] == "standard")

    assert Decimal(input_price(changed_at - timedelta(microseconds=1))) == before
    assert Decimal(input_price(changed_at)) == Decimal("0.9")
    assert input_price(first_seen - timedelta(seconds=1)) is None, "a model first seen later did not exist then"
    body = client.get("/prices/as-of", params={"at": (changed_at - timedelta(microseconds=1)).isoformat()}).json()
    assert body["count"] == len(body["models"]) > 1000 and {m["provider"] for m in body["models"]} > {"openrouter"}
    assert client.get("/prices/as-of", params={"at": "2026-10-01T00:00:00Z", "provider": "nope"}).status_code == 404
    assert client.get("/prices/as-of", params={"at": "yesterday"}).status_code == 422
