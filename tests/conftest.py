"""Test session: a private Airflow home (SQLite metadata), a fresh catalog database on the local PostgreSQL,
the replay server on loopback, and fake keys for every provider. Environment comes first: Airflow reads its
configuration when it is first imported."""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from include.gatewayz_sync.clock import NOW_ENV, pin_session
from include.gatewayz_sync.dev.local import DAGS_TEST_SETTINGS, airflow_home_settings, catalog_connection_json
from tests.cluster import AirflowCluster

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The catalog's clock for the whole session (and every process it starts): what counts retired models, picks
# genai-prices' dated prices and bounds the alerts' lifecycle window never moves with the calendar.
PINNED_NOW = "2026-11-28T12:00:00+00:00"
SESSION_DIR = Path(tempfile.mkdtemp(prefix="gatewayz-tests-"))
AIRFLOW_HOME = SESSION_DIR / "airflow"
PG_ADMIN_DSN = os.environ.get(
    "GATEWAYZ_TEST_PG", f"host=127.0.0.1 port=5432 dbname=postgres user={getpass.getuser()}"
)
CATALOG_DB = f"gatewayz_test_{os.getpid()}_{secrets.token_hex(3)}"
CATALOG_TABLES = (
    "model_changes", "sync_runs", "models", "model_sync_runs", "providers", "model_price_candidates", "operator_prices",
    "reference_runs", "alert_outcomes", "model_prices", "catalog_publications", "operator_price_rows",
    "model_field_candidates", "operator_fields",
)


PG_SERVER = conninfo_to_dict(PG_ADMIN_DSN)
PG_USER = PG_SERVER.get("user") or getpass.getuser()


def fake_key(slug: str) -> str:
    return f"sk-test-{slug}-{secrets.token_hex(8)}"


PROVIDER_KEYS: dict[str, str] = {}
# dag.test() keeps a run's conf in the DAG object's params: a test run spells every param out.
MODEL_SYNC_DEFAULTS = {"providers": [], "dry_run": False, "allow_shrink": False, "allow_field_loss": False,
                       "accept_price_jumps": False}

os.environ.update(
    {
        **airflow_home_settings(AIRFLOW_HOME),
        **DAGS_TEST_SETTINGS,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_GATEWAYZ_DB": catalog_connection_json(PG_ADMIN_DSN, CATALOG_DB),
        "GATEWAYZ_TASK_RETRIES": "0",
        "GATEWAYZ_RETRY_DELAY_SECONDS": "1",
        "GATEWAYZ_HTTP_BACKOFF_SECONDS": "0.05",
        "GATEWAYZ_HTTP_READ_TIMEOUT": "5",
        "GATEWAYZ_HTTP_CONNECT_TIMEOUT": "3",
        "CLOUDFLARE_ACCOUNT_ID": "test-account",
        NOW_ENV: PINNED_NOW,
    }
)
for _name in list(os.environ):
    if _name.startswith("AIRFLOW_CONN_GATEWAYZ_") and _name != "AIRFLOW_CONN_GATEWAYZ_DB":
        del os.environ[_name]
os.environ.pop("GATEWAYZ_BASE_URL_OVERRIDE", None)
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY  # noqa: E402

for _provider in GATEWAY_REGISTRY.values():
    PROVIDER_KEYS[_provider.slug] = fake_key(_provider.slug)
    os.environ[_provider.api_key_env] = PROVIDER_KEYS[_provider.slug]

E2E_PAGE_SIZES = {"anthropic": 4, "openrouter": 100, "google-vertex": 20}
TEST_PAGE_SIZES = {
    "anthropic": 4,
    "google-vertex": 20,
    "cohere": 10,
    "openrouter": 100,
    "cloudflare-workers-ai": 30,
    "alibaba": 60,
    "near": 2,
}


def admin_connection():
    import psycopg

    return psycopg.connect(PG_ADMIN_DSN, autocommit=True)


def catalog_connection():
    import psycopg

    return pin_session(psycopg.connect(PG_ADMIN_DSN, dbname=CATALOG_DB, autocommit=True))


@pytest.fixture(scope="session", autouse=True)
def airflow_metadata_db():
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())
    yield AIRFLOW_HOME


@pytest.fixture(scope="session")
def catalog_db():
    with admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{CATALOG_DB}"')
    yield CATALOG_DB
    with admin_connection() as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (CATALOG_DB,),
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{CATALOG_DB}"')


@pytest.fixture(scope="session")
def migrated_catalog(catalog_db):
    from include.gatewayz_sync.store import schema

    schema.migrate(catalog_connection)
    return catalog_db


@pytest.fixture
def catalog(migrated_catalog):
    """A connection to an empty, migrated catalog database."""
    connection = catalog_connection()
    connection.execute(f"TRUNCATE {', '.join(CATALOG_TABLES)} RESTART IDENTITY CASCADE")
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def replay_server_session():
    from include.gatewayz_sync.dev.replay.server import ReplayServer

    server = ReplayServer(page_sizes=TEST_PAGE_SIZES).start()
    yield server
    server.stop()


@pytest.fixture
def replay(replay_server_session, monkeypatch):
    """The replay server, reset to the recordings, with every provider pointed at it."""
    server = replay_server_session
    reset_replay(server)
    server.clear_requests()
    monkeypatch.setenv("GATEWAYZ_BASE_URL_OVERRIDE", server.base_url_override)
    yield server
    server.clear_faults()


@pytest.fixture(scope="session")
def dagbag(airflow_metadata_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


def reset_replay(server) -> None:
    """The replay server back to its recordings and the tests' page sizes, with no fault."""
    server.clear_faults()
    server.reset_catalogs()
    for slug in list(server._page_sizes):
        server.set_page_size(slug, TEST_PAGE_SIZES.get(slug))


def run_dag_test(dagbag, dag_id: str, conf: dict | None = None):
    """Run a DAG through `dag.test()` and return the DagRun."""
    defaults = {"gatewayz_sync_models": MODEL_SYNC_DEFAULTS}
    # dag.test() keeps a run's conf in the DAG object's params; spell every param out each time.
    return dagbag.dags[dag_id].test(run_conf={**defaults.get(dag_id, {}), **(conf or {})})


@pytest.fixture
def run_dag(dagbag):
    return functools.partial(run_dag_test, dagbag)


@pytest.fixture(scope="module")
def receiver():
    """A loopback Apprise receiver (tests/alert_receiver.py), one per test module."""
    from tests.alert_receiver import AlertReceiver

    server = AlertReceiver().start()
    yield server
    server.close()


@pytest.fixture
def alerts(receiver, monkeypatch):
    """Alerts go to the receiver, emptied first."""
    receiver.clear()
    monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", receiver.connection_json("/alerts"))
    return receiver


PIPELINE = ("gatewayz_sync_providers", "gatewayz_sync_models", "gatewayz_sync_prices")


@contextlib.contextmanager
def pipeline_on_a_fresh_catalog(server, dagbag, patch: pytest.MonkeyPatch):
    """Providers, models and prices run once through `dag.test()` on an emptied catalog against the replay server
    (reset to its recordings); yields the catalog connection, the runs by DAG id, and a function running a DAG."""
    reset_replay(server)
    patch.setenv("GATEWAYZ_BASE_URL_OVERRIDE", server.base_url_override)
    connection = catalog_connection()
    try:
        connection.execute(f"TRUNCATE {', '.join(CATALOG_TABLES)} RESTART IDENTITY CASCADE")
        run = functools.partial(run_dag_test, dagbag)
        yield connection, {dag_id: run(dag_id) for dag_id in PIPELINE}, run
    finally:
        connection.close()


# Real Airflow deployments (tests/e2e, tests/reliability/test_security.py): their own catalog database and
# replay server; the cluster is module-scoped, so it is gone before the fault matrix restarts PostgreSQL.


@contextlib.contextmanager
def scratch_database(prefix: str):
    """A new, empty database on the local PostgreSQL for one deployment's catalog; dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(3)}"
    with admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_catalog(prefix: str):
    """A connection (autocommit) to a new, empty scratch database: a deployment's catalog before its first sync."""
    import psycopg

    with scratch_database(prefix) as name, psycopg.connect(PG_ADMIN_DSN, dbname=name, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def e2e_catalog_db():
    import psycopg

    from include.gatewayz_sync.store import schema

    with scratch_database("gatewayz_e2e_catalog") as name:
        schema.migrate(lambda: psycopg.connect(PG_ADMIN_DSN, dbname=name))
        yield name


@pytest.fixture(scope="session")
def e2e_replay():
    from include.gatewayz_sync.dev.replay.server import ReplayServer

    with ReplayServer(page_sizes=E2E_PAGE_SIZES) as server:
        yield server


@pytest.fixture(scope="module")
def cluster(e2e_catalog_db, e2e_replay):
    """Module-scoped: it is gone before other suites restart PostgreSQL underneath it."""
    env = {
        "AIRFLOW_CONN_GATEWAYZ_DB": catalog_connection_json(PG_ADMIN_DSN, e2e_catalog_db),
        "GATEWAYZ_BASE_URL_OVERRIDE": e2e_replay.base_url_override,
        "GATEWAYZ_TASK_RETRIES": "1",
        "GATEWAYZ_RETRY_DELAY_SECONDS": "1",
        "GATEWAYZ_HTTP_BACKOFF_SECONDS": "0.05",
        # No triggerer in this cluster: with a deadline alert, /health would rightly be a 503 (it could not fire).
        "MODEL_SYNC_DEADLINE_MINUTES": "0",
    }
    workdir = SESSION_DIR / f"cluster-{secrets.token_hex(2)}"
    # `gatewayz sync providers --unpause` unpauses the publish DAG too, which needs somewhere to publish.
    env["GATEWAYZ_PUBLISH_URL"] = f"file://{workdir / 'published'}"
    cluster = AirflowCluster(workdir, admin_connection, PG_USER, env)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def e2e_catalog(e2e_catalog_db):
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, dbname=e2e_catalog_db, autocommit=True) as connection:
        yield connection


