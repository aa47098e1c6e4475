"""Publishing to S3: the same `gatewayz_publish_catalog` run through `dag.test()` as tests/test_publish.py, with
GATEWAYZ_PUBLISH_URL=s3://bucket/catalog and GATEWAYZ_PUBLISH_CONN_ID naming an Airflow `aws` connection whose
`endpoint_url` is moto's S3 server, a process of its own on loopback. The connection and both variables come from
running the commands of docs/publishing.md, "Publishing to S3", with the real `airflow` CLI. The bucket is read
back with boto3, another
client than the writer (s3fs under ObjectStoragePath): the versioned files and the manifest with matching sha256,
nothing written for an unchanged catalog (the bucket is versioned, so a rewrite of equal bytes would show), the
retention of the newest versions, and a reader polling the pointer while versions are written never sees a partial
file or a manifest naming files of another version."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from include.gatewayz_sync import catalog_publish
from include.gatewayz_sync.dev.deployment import free_port
from include.gatewayz_sync.publish.storage import FILES, CatalogStore
from tests.airflow_helpers import task_states, xcom_values
from tests.conftest import pipeline_on_a_fresh_catalog
from tests.readme import shell_commands
from tests.test_publish import PUBLISH_DAG, QWEN, _sync, publish_dag, publish_three_versions, publish_with_a_failing_pointer

BUCKET = "gatewayz-catalog"
PREFIX = "catalog"
BASE_URL = f"s3://{BUCKET}/{PREFIX}"
CONN_ID = "gatewayz_publish"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
STARTUP_SECONDS = 30


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """moto's S3 server (`python -m moto.server`) on a free loopback port; its requests logged to a file."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=output, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{endpoint}/moto-api/", timeout=2).ok:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto's S3 server did not answer on {endpoint} within {STARTUP_SECONDS}s "
                                   f"(exit code {process.poll()}): {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)


def documented_setup(endpoint: str) -> dict[str, str]:
    """Run the documented commands (the connection goes into this session's Airflow metadata database) with the
    operator's variables they read; return the two settings they export."""
    script = "\n".join(["set -euo pipefail", *shell_commands("Publishing to S3"),
                        'printf "%s\\n%s\\n" "$GATEWAYZ_PUBLISH_URL" "$GATEWAYZ_PUBLISH_CONN_ID"'])
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                   "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
                   "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
                   "AWS_REGION": CREDENTIALS["region_name"], "S3_ENDPOINT_URL": endpoint}
    done = subprocess.run(["bash", "-c", script], env=environment, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    url, conn_id = done.stdout.strip().splitlines()[-2:]
    return {"GATEWAYZ_PUBLISH_URL": url, "GATEWAYZ_PUBLISH_CONN_ID": conn_id,
            f"AIRFLOW_CONN_{conn_id.upper()}": stored_connection(conn_id)}


def stored_connection(conn_id: str) -> str:
    """The connection the documented commands stored, read back with the CLI, as `AIRFLOW_CONN_<ID>` JSON: the
    in-process run resolves it whatever secrets backends the test process had already loaded."""
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "connections", "get", conn_id, "-o", "json"], env=os.environ.copy(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    (stored,) = json.loads(done.stdout[done.stdout.index("["):])
    return json.dumps({"conn_type": stored["conn_type"], "login": stored["login"], "password": stored["password"],
                       "extra": stored["extra_dejson"]})


@pytest.fixture(scope="module")
def s3_pipeline(migrated_catalog, replay_server_session, dagbag, s3_endpoint):
    """A versioned bucket, the documented connection and settings, and the catalog synced once then published
    through the DAG. The test process holds no AWS credentials: the connection brings them."""
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    settings = documented_setup(s3_endpoint)
    assert {name: settings[name] for name in ("GATEWAYZ_PUBLISH_URL", "GATEWAYZ_PUBLISH_CONN_ID")} == {
        "GATEWAYZ_PUBLISH_URL": BASE_URL, "GATEWAYZ_PUBLISH_CONN_ID": CONN_ID}
    assert json.loads(settings["AIRFLOW_CONN_GATEWAYZ_PUBLISH"])["extra"]["endpoint_url"] == s3_endpoint
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        for name, value in settings.items():
            patch.setenv(name, value)
        patch.delenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", raising=False)
        with pipeline_on_a_fresh_catalog(replay_server_session, dagbag, patch) as (connection, runs, _):
            dag = publish_dag(None)
            runs[PUBLISH_DAG] = dag.test()
            yield {"connection": connection, "runs": runs, "dag": dag, "client": client}


def read(client, relative: str, prefix: str = PREFIX) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=f"{prefix}/{relative}")["Body"].read()


def manifest(client, prefix: str = PREFIX) -> dict:
    return json.loads(read(client, "manifest.json", prefix))


def version_folders(client, prefix: str = PREFIX) -> list[str]:
    """The version folders holding at least one current object. From the keys, not a listing with a delimiter:
    moto 5.2.6 still lists a common prefix whose objects, in a versioned bucket, have only delete markers left."""
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/versions/")
    assert not listing.get("IsTruncated"), "the test bucket holds fewer than 1,000 objects under a prefix"
    return sorted({entry["Key"].split("/")[2] for entry in listing.get("Contents", [])})


def object_versions(client) -> dict[str, list[str]]:
    """Every stored version id of every key (and delete marker): a rewrite of equal bytes still adds one."""
    listing = client.list_object_versions(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    versions: dict[str, list[str]] = {}
    for entry in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]:
        versions.setdefault(entry["Key"], []).append(entry["VersionId"])
    assert not listing.get("IsTruncated"), "the test bucket holds fewer than 1,000 object versions"
    return {key: sorted(ids) for key, ids in versions.items()}


def s3_store(prefix: str) -> tuple[CatalogStore, str]:
    """A store under its own prefix, for a test whose catalog changes are rolled back (its publications with them)."""
    base_url = f"s3://{BUCKET}/{prefix}"
    return CatalogStore.open(base_url, CONN_ID), base_url


def test_the_publish_dag_writes_every_file_versioned_then_the_manifest_to_s3(s3_pipeline):
    client, run = s3_pipeline["client"], s3_pipeline["runs"][PUBLISH_DAG]
    assert all(r.state == "success" for r in s3_pipeline["runs"].values()), \
        {k: r.state for k, r in s3_pipeline["runs"].items()}
    assert task_states(run) == {("publish", -1): "success", ("notify", -1): "success", ("finalize", -1): "success"}
    current = manifest(client)
    version = current["version"]
    assert version_folders(client) == [version]
    assert set(current["files"]) == set(FILES)
    for name, entry in current["files"].items():
        versioned, latest = read(client, entry["path"]), read(client, entry["latest"])
        assert entry["path"] == f"versions/{version}/{FILES[name]}" and entry["latest"] == FILES[name]
        assert versioned == latest, "the stable copy is the current version's file"
        assert hashlib.sha256(versioned).hexdigest() == entry["sha256"]
        assert entry["bytes"] == len(versioned)
    assert json.loads(read(client, f"versions/{version}/manifest.json")) == current
    keys = {obj["Key"] for obj in client.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")["Contents"]}
    assert keys == {f"{PREFIX}/{name}" for name in [*FILES.values(), "manifest.json"]} | {
        f"{PREFIX}/versions/{version}/{name}" for name in [*FILES.values(), "manifest.json"]}, "no stray object"
    connection = s3_pipeline["connection"]
    active = connection.execute("SELECT count(*) FROM models WHERE is_active").fetchone()[0]
    assert current["files"]["catalog"]["models"] == active > 1000
    assert connection.execute("SELECT base_url, status, version FROM catalog_publications").fetchall() == [
        (BASE_URL, "published", version)]
    finalized = xcom_values(run, "finalize")[-1]
    assert finalized["version"] == version
    print(f"published version {version} to {BASE_URL}: {active} models in catalog.json, "
          f"{sum(entry['bytes'] for entry in current['files'].values()):,} bytes in {len(FILES)} files")


def test_the_asset_events_name_the_s3_objects(s3_pipeline):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    current = manifest(s3_pipeline["client"])
    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, AssetEvent.extra).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri.like(f"{BASE_URL}/%"))
        ).all()
    by_uri = dict(rows)
    assert set(by_uri) == {f"{BASE_URL}/{file}" for file in [*FILES.values(), "manifest.json"]}
    for name, file in FILES.items():
        assert by_uri[f"{BASE_URL}/{file}"]["sha256"] == current["files"][name]["sha256"]


def test_an_unchanged_catalog_publishes_nothing_new_to_s3(s3_pipeline):
    client, dag, connection = s3_pipeline["client"], s3_pipeline["dag"], s3_pipeline["connection"]
    before_manifest, before = manifest(client), object_versions(client)
    run = dag.test()
    assert run.state == "success"
    assert task_states(run)[("finalize", -1)] == "skipped", "no asset event says the files were updated"
    assert manifest(client) == before_manifest
    assert object_versions(client) == before, "no object was written, not even with equal bytes"
    status, version = connection.execute(
        "SELECT status, version FROM catalog_publications ORDER BY id DESC LIMIT 1").fetchone()
    assert (status, version) == ("unchanged", before_manifest["version"])


def test_retention_keeps_the_newest_versions_in_the_bucket(s3_pipeline):
    client, connection = s3_pipeline["client"], s3_pipeline["connection"]
    prefix = "retention"
    store, base_url = s3_store(prefix)
    with connection.transaction(force_rollback=True):
        versions = publish_three_versions(connection, store, base_url)
        assert len(set(versions)) == 3
        assert version_folders(client, prefix) == sorted(versions[1:]), "the newest two versions are kept"
        current = manifest(client, prefix)
        assert (current["version"], current["previous_version"]) == (versions[2], versions[1])
        for entry in current["files"].values():
            assert hashlib.sha256(read(client, entry["path"], prefix)).hexdigest() == entry["sha256"]
        removed = connection.execute("SELECT version FROM catalog_publications WHERE removed_at IS NOT NULL").fetchall()
        assert removed == [(versions[0],)]


class PointerReader(threading.Thread):
    """Reads manifest.json and follows it, and reads the stable LiteLLM map, over and over until stopped."""

    MAX_READS = 100_000

    def __init__(self, client, prefix: str):
        super().__init__(daemon=True)
        self.client, self.prefix, self.stop, self.problems = client, prefix, threading.Event(), []
        self.versions_seen: set[str] = set()
        self.stable_digests: set[str] = set()
        self.reads = 0

    def run(self):
        while not self.stop.is_set() and self.reads < self.MAX_READS:
            self.reads += 1
            try:
                current = manifest(self.client, self.prefix)
                for entry in current["files"].values():
                    if hashlib.sha256(read(self.client, entry["path"], self.prefix)).hexdigest() != entry["sha256"]:
                        self.problems.append(f"{entry['path']} does not match manifest {current['version']}")
                self.versions_seen.add(current["version"])
                self.stable_digests.add(hashlib.sha256(read(self.client, FILES["litellm"], self.prefix)).hexdigest())
            except Exception as error:
                self.problems.append(f"{type(error).__name__}: {error}")


def test_a_reader_never_sees_a_partial_or_mixed_version_and_a_failed_pointer_leaves_the_last_one(s3_pipeline,
                                                                                                 monkeypatch):
    client, connection = s3_pipeline["client"], s3_pipeline["connection"]
    prefix = "reader"
    store, base_url = s3_store(prefix)
    reader = PointerReader(s3_client(client.meta.endpoint_url), prefix)
    with connection.transaction(force_rollback=True):
        model = _sync(connection, "openrouter", QWEN)
        published = [catalog_publish.publish_catalog(connection, store, base_url, keep_versions=10)]
        reader.start()
        try:
            for _ in range(3):
                connection.execute("UPDATE model_prices SET amount_usd = amount_usd * 5 WHERE model_id = %s", (model,))
                published.append(catalog_publish.publish_catalog(connection, store, base_url, keep_versions=10))
        finally:
            reader.stop.set()
            reader.join(timeout=60)
        assert not reader.is_alive()
        print(f"a reader polling {base_url}/manifest.json read {reader.reads} times, saw versions "
              f"{sorted(reader.versions_seen)} of {len(published)} published, each whole")
        assert reader.problems == []
        assert reader.reads > 3 and len(reader.versions_seen) >= 2, (reader.reads, reader.versions_seen)
        assert reader.versions_seen <= {outcome.version for outcome in published}
        assert reader.stable_digests <= {outcome.manifest["files"]["litellm"]["sha256"] for outcome in published}, \
            "every read of the stable map is one whole version of it"

        last_good = published[-1]
        connection.execute("UPDATE model_prices SET amount_usd = amount_usd * 3 WHERE model_id = %s", (model,))
        publish_with_a_failing_pointer(monkeypatch, connection, store, base_url)
        current = manifest(client, prefix)
        assert current["version"] == last_good.version, "the pointer still names the last good version"
        for entry in current["files"].values():
            assert hashlib.sha256(read(client, entry["path"], prefix)).hexdigest() == entry["sha256"]
        failed = connection.execute(
            "SELECT version FROM catalog_publications WHERE status = 'failed' ORDER BY id DESC LIMIT 1").fetchone()[0]
        assert failed in version_folders(client, prefix), "the partial version is recorded for retention"
        retried = catalog_publish.publish_catalog(connection, store, base_url, 1)
        assert retried.status == "published" and manifest(client, prefix)["version"] == retried.version
        assert version_folders(client, prefix) == [retried.version], \
            "retention removed the failed attempt's folder and the older versions"
