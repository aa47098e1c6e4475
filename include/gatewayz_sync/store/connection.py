"""The catalog database as Airflow knows it: connection `gatewayz_db`, opened through the Postgres provider's hook.

The one store module that touches Airflow, and only when called; the SQL modules take plain psycopg connections.
"""

from __future__ import annotations

import logging

from ..clock import pin_session
from ..config import CATALOG_CONN_ID

log = logging.getLogger(__name__)


class CatalogUnreachable(Exception):
    """The catalog database refused the connection; the task fails (and is retried) with this message."""


def catalog_connector():
    """A factory of autocommit psycopg connections to the catalog database (connection `gatewayz_db`)."""
    import psycopg
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(postgres_conn_id=CATALOG_CONN_ID)

    def connect():
        try:
            connection = hook.get_conn()
        except psycopg.OperationalError as error:
            reason = " ".join(str(error).split())
            message = f"the catalog database (connection {CATALOG_CONN_ID}) is unreachable: {reason}"
            log.error("%s", message)
            raise CatalogUnreachable(message) from None
        connection.autocommit = True
        return pin_session(connection)

    return connect
