"""Alembic environment for the catalog database; the caller passes an open connection in `config.attributes`."""

from alembic import context

from include.gatewayz_sync.store.schema import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table=VERSION_TABLE, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
