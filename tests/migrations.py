"""A scratch catalog database stepped through Alembic revisions: what the tests of one migration's upgrade,
backfill and downgrade share."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from alembic import command

from include.gatewayz_sync.store import schema
from tests.conftest import PG_ADMIN_DSN, scratch_database


@dataclass
class ScratchCatalog:
    name: str
    connection: psycopg.Connection

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(PG_ADMIN_DSN, dbname=self.name)

    def upgrade(self, revision: str) -> None:
        self._step(command.upgrade, revision)

    def downgrade(self, revision: str) -> None:
        self._step(command.downgrade, revision)

    def migrate(self) -> tuple[str | None, str]:
        """What a deployment runs: up to the head, returning (revision before, revision after)."""
        return schema.migrate(self.connect)

    def _step(self, step, revision: str) -> None:
        engine = schema._engine(self.connect)
        try:
            with engine.connect() as sa_connection:
                step(schema._alembic_config(sa_connection), revision)
                sa_connection.commit()
        finally:
            engine.dispose()


@contextlib.contextmanager
def catalog_at(revision: str) -> Iterator[ScratchCatalog]:
    """A new catalog database migrated to `revision`, with an autocommit connection; dropped afterwards."""
    with scratch_database("gatewayz_migration") as name:
        with psycopg.connect(PG_ADMIN_DSN, dbname=name, autocommit=True) as connection:
            scratch = ScratchCatalog(name, connection)
            scratch.upgrade(revision)
            yield scratch
