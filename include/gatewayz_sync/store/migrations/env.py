"""Alembic environment for the catalog database; the caller passes an open connection and the version table
in `config.attributes` (no package import here: Alembic loads this file by path)."""

from alembic import context

attributes = context.config.attributes
context.configure(connection=attributes["connection"], version_table=attributes["version_table"], transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
