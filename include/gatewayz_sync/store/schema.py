"""Catalog schema migrations (Alembic, own version table, serialized by an advisory lock)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

VERSION_TABLE = "gatewayz_catalog_version"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = 0x6761_7465_7761_797A  # "gatewayz"


def _alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["version_table"] = VERSION_TABLE
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _engine(connect: Callable[[], Any]) -> sa.Engine:
    return sa.create_engine("postgresql+psycopg://", creator=connect, poolclass=NullPool)


def current_revision(connect: Callable[[], Any]) -> str | None:
    with _engine(connect).connect() as connection:
        return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def migrate(connect: Callable[[], Any]) -> tuple[str | None, str]:
    """Upgrade the catalog schema to head; returns (revision before, revision after). Safe to run concurrently."""
    engine = _engine(connect)
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            before = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE}
            ).get_current_revision()
            connection.commit()
            command.upgrade(_alembic_config(connection), "head")
            connection.commit()
            after = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE}
            ).get_current_revision()
        finally:
            connection.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
            connection.commit()
    engine.dispose()
    return before, after
