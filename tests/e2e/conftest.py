"""A real Airflow deployment for end-to-end tests: its own catalog database and replay server."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.cluster import AirflowCluster
from tests.conftest import PG_ADMIN_DSN, PROVIDER_KEYS, SESSION_DIR, _dsn_part, admin_connection


@pytest.fixture(scope="session")
def e2e_catalog_db():
    import psycopg

    from include.gatewayz_sync.store import schema

    name = f"gatewayz_e2e_catalog_{secrets.token_hex(3)}"
    with admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    schema.migrate(lambda: psycopg.connect(PG_ADMIN_DSN, dbname=name))
    yield name
    with admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def e2e_replay():
    from include.gatewayz_sync.replay.server import ReplayServer

    with ReplayServer(page_sizes={"anthropic": 4, "openrouter": 100, "google-vertex": 20}) as server:
        yield server


@pytest.fixture(scope="module")
def cluster(e2e_catalog_db, e2e_replay):
    """Module-scoped: it is gone before other suites restart PostgreSQL underneath it."""
    env = {
        "AIRFLOW_CONN_GATEWAYZ_DB": json.dumps(
            {
                "conn_type": "postgres",
                "host": _dsn_part("host", "127.0.0.1"),
                "port": int(_dsn_part("port", "5432")),
                "login": _dsn_part("user", "root"),
                "schema": e2e_catalog_db,
            }
        ),
        "GATEWAYZ_BASE_URL_OVERRIDE": e2e_replay.base_url_override,
        "GATEWAYZ_TASK_RETRIES": "1",
        "GATEWAYZ_RETRY_DELAY_SECONDS": "1",
        "GATEWAYZ_HTTP_BACKOFF_SECONDS": "0.05",
    }
    cluster = AirflowCluster(SESSION_DIR / "cluster", admin_connection, _dsn_part("user", "root"), env)
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


@pytest.fixture(scope="session")
def provider_keys():
    return PROVIDER_KEYS
