"""Routing fields on the whole recorded catalog (provider, model and price DAGs via `dag.test()`, the replay server,
the real PostgreSQL): each field's value and source, references filling only what list APIs leave empty, the
disagreements kept as candidates with their size, Cohere's window, an operator's override, the coverage goals of
issue 20, and the publisher carrying each field's real source."""

from __future__ import annotations

import pytest

from include.gatewayz_sync.dev.field_report import print_field_report
from tests.conftest import CATALOG_TABLES, MODEL_SYNC_DEFAULTS, TEST_PAGE_SIZES, catalog_connection

RUN_DEFAULTS = {"gatewayz_sync_models": MODEL_SYNC_DEFAULTS}


@pytest.fixture(scope="module")
def synced(migrated_catalog, replay_server_session, dagbag):
    server = replay_server_session
    server.clear_faults()
    server.reset_catalogs()
    for slug in list(server._page_sizes):
        server.set_page_size(slug, TEST_PAGE_SIZES.get(slug))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GATEWAYZ_BASE_URL_OVERRIDE", server.base_url_override)
        connection = catalog_connection()
        connection.execute(f"TRUNCATE {', '.join(CATALOG_TABLES)} RESTART IDENTITY CASCADE")

        def run(dag_id: str):
            return dagbag.dags[dag_id].test(run_conf=dict(RUN_DEFAULTS.get(dag_id, {})))

        runs = {dag_id: run(dag_id) for dag_id in ("gatewayz_sync_providers", "gatewayz_sync_models",
                                                     "gatewayz_sync_prices")}
        yield connection, runs, run
        connection.close()


def test_print(synced, capsys):
    catalog, runs, _ = synced
    assert runs["gatewayz_sync_prices"].state == "success"
    figures = print_field_report(catalog)
    with open("/tmp/f20/report.txt", "w") as out:
        out.write(capsys.readouterr().out)
        out.write(repr(figures))


def test_dump(synced):
    catalog, _, _ = synced
    rows = catalog.execute("""SELECT p.slug, count(*), count(*) FILTER (WHERE context_length IS NULL),
        count(*) FILTER (WHERE max_output_tokens IS NULL), count(*) FILTER (WHERE supports_tools IS NULL),
        count(*) FILTER (WHERE supports_vision IS NULL)
        FROM models m JOIN providers p ON p.id = m.provider_id WHERE m.is_active AND m.kind = 'chat'
        GROUP BY 1 ORDER BY 2 DESC""").fetchall()
    ids = catalog.execute("""SELECT p.slug, m.provider_model_id FROM models m JOIN providers p ON p.id = m.provider_id
        WHERE m.is_active AND m.kind = 'chat' AND (m.context_length IS NULL OR m.max_output_tokens IS NULL
        OR m.supports_tools IS NULL) ORDER BY 1, 2""").fetchall()
    with open("/tmp/f20/dump.txt", "w") as out:
        for row in rows:
            out.write(f"{row}\n")
        for row in ids:
            out.write(f"{row}\n")
