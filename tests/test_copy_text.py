"""Our COPY text lines (`copy_text.encode_row`) and the stage's rows load exactly what psycopg's own write_row
loads, tricky text included."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from include.gatewayz_sync.catalog.normalize import RecordNormalizer
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.store.copy_text import encode_row
from include.gatewayz_sync.store.model_sql import DATA_COLUMNS, STAGE_COLUMNS
from include.gatewayz_sync.store.staging import StagedListing, row_values

TRICKY = [
    "tab\there", "new\nline", "carriage\rreturn", "back\\slash", 'quote "double"', "it's", "emoji 🚀 ok",
    "نموذج \u202eRTL\u202c", "\\N", "{braces},commas", "'; DROP TABLE models; --", "",
]


def _models():
    normalizer = RecordNormalizer(GATEWAY_REGISTRY["openrouter"].list_api)
    for index, text in enumerate(TRICKY):
        record = {
            "id": f"tricky/{index:02d}",
            "name": text or "empty",
            "description": text,
            "context_length": 1000 + index,
            "architecture": {"input_modalities": [text or "x", "image"], "output_modalities": ["text"]},
            "pricing": {"prompt": "0.0000001", "completion": str(Decimal("0.000002") * index), "request": "-1"},
            "supported_parameters": ["tools"],
            "expiration_date": "2027-01-31",
            "nested": {"text": text, "number": Decimal("2.5999999999999996"), "nul": "a\x00b"},
        }
        yield normalizer.normalize(record)


@pytest.fixture
def via_psycopg(catalog):
    catalog.execute(
        "CREATE TEMP TABLE via_psycopg AS SELECT provider_model_id, true AS changed, "
        f"{', '.join(DATA_COLUMNS)}, NULL::jsonb AS list_prices FROM models WITH NO DATA"
    )
    return catalog


def test_staged_rows_load_like_psycopg_write_row_of_the_models_values(via_psycopg):
    models = list(_models())
    columns = ", ".join(STAGE_COLUMNS)
    with via_psycopg.cursor() as cursor, cursor.copy(f"COPY via_psycopg ({columns}) FROM STDIN") as copy:
        for model in models:
            copy.write_row(row_values(model))
    with StagedListing(via_psycopg) as staged:
        for model in models[:5]:
            staged.add(model)
        staged.end_page()
        for model in models[5:]:
            staged.add(model)
        staged.end_page()
        query = f"SELECT row_to_json(t)::text FROM (SELECT {columns} FROM {{}}) t ORDER BY provider_model_id"
        expected = [row for (row,) in via_psycopg.execute(query.format("via_psycopg")).fetchall()]
        actual = [row for (row,) in via_psycopg.execute(query.format("stage_models")).fetchall()]
        assert len(actual) == len(TRICKY)
        assert actual == expected
        raw = via_psycopg.execute("SELECT raw->'nested' FROM stage_models WHERE provider_model_id = 'tricky/00'").fetchone()
        assert raw[0] == {"text": "tab\there", "number": 2.5999999999999996, "nul": "ab"}


def test_scalars():
    moment = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    line = encode_row([None, True, False, 7, Decimal("0.0375"), moment, ["a", 'b"c'], "x\ty"])
    assert line == b'\\N\tt\tf\t7\t0.0375\t2026-11-26T12:00:00+00:00\t{"a","b\\\\"c"}\tx\\ty\n'
