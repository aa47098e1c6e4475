"""Every report printer on a catalog with nothing in it (a fresh `make run` offline, a new deployment): each
prints its heading and zeros, never a traceback."""

from __future__ import annotations

from include.gatewayz_sync.dev.cli import print_status
from include.gatewayz_sync.dev.field_report import print_field_report
from include.gatewayz_sync.dev.local import next_step, print_summary
from include.gatewayz_sync.dev.price_report import print_price_report
from include.gatewayz_sync.web.app import status_document
from tests.conftest import CATALOG_DB, PG_SERVER, PG_USER


def test_the_run_summary_on_an_empty_catalog(catalog, capsys):
    connect = {"host": PG_SERVER.get("host", "127.0.0.1"), "port": PG_SERVER.get("port", 5432), "user": PG_USER,
               "dbname": CATALOG_DB}
    summary = print_summary(connect)
    assert summary == {"failed": 0, "rows": []}
    assert "No model sync has finished yet." in capsys.readouterr().out
    assert next_step(summary).startswith("Next: `make up`")


def test_the_price_report_on_an_empty_catalog(catalog, capsys):
    figures = print_price_report(catalog)
    out = capsys.readouterr().out
    assert figures["unlisted"]["share"] is None
    assert "0 active models; 0 priced from references (no models to price)" in out
    assert "0 of 0 candidates" in out


def test_the_field_report_on_an_empty_catalog(catalog, capsys):
    figures = print_field_report(catalog)
    out = capsys.readouterr().out
    assert figures["chat"] == 0 and figures["fields"]["context_length"]["share"] is None
    assert "Routing fields of 0 active chat models" in out
    assert "context_length                    0        -    95%" in out
    assert "without a context length a reference knows: 0 (goal: 0)" in out


def test_the_cli_status_table_on_an_empty_catalog(catalog, capsys):
    print_status(status_document(catalog, None, limit=100, offset=0))
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("state")
    assert "0 enabled providers, 0 active models, 0 inactive, 0 changes in 24 h" in out
