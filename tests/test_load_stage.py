"""The load's stage (`store/staging.py`, `store/load.py`): rows staged by COPY while the listing was parsed are
checked against the stored hashes as the load's transaction sees them, so a catalog that moved meanwhile neither
loses a model nor rewrites one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from include.gatewayz_sync.catalog.normalize import RecordNormalizer
from include.gatewayz_sync.config import SyncSettings
from include.gatewayz_sync.dev.replay import catalogs
from include.gatewayz_sync.errors import CatalogUnavailable
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.store.listing import LoadOptions
from include.gatewayz_sync.store.load import load_models
from include.gatewayz_sync.store.providers import sync_registry
from include.gatewayz_sync.store.runs import RunInfo, RunResult
from include.gatewayz_sync.store.staging import StagedListing

RECORDINGS = Path(catalogs.__file__).parent / "recordings"
RUN = RunInfo("gatewayz_sync_models", "manual__stage", 1, datetime(2026, 12, 7, 1, tzinfo=UTC))


@pytest.fixture
def loaded(catalog):
    """openrouter's first 12 models loaded once; yields the connection and the models."""
    sync_registry(catalog, [GATEWAY_REGISTRY["openrouter"]])
    document = json.loads((RECORDINGS / "openrouter.json").read_bytes(), parse_float=Decimal)
    models = list(RecordNormalizer(GATEWAY_REGISTRY["openrouter"].list_api).normalize_all(document["data"][:12]))
    result = _load(catalog, models, unchanged=())
    assert result.load.inserted == len(models)
    return catalog, models


def _load(catalog, models, unchanged) -> RunResult:
    result = RunResult(status="failed")
    with StagedListing(catalog) as staged:
        for model in models:
            if model.provider_model_id in unchanged:
                staged.add_unchanged(model.provider_model_id, model.content_hash)
            else:
                staged.add(model)
        staged.end_page()
        load_models(catalog, "openrouter", staged, RUN, LoadOptions.from_settings(SyncSettings()), result)
    return result


def _versions(catalog) -> dict[str, str]:
    return dict(catalog.execute("SELECT provider_model_id, xmin::text FROM models").fetchall())


def test_a_model_staged_whole_whose_stored_hash_is_now_its_own_is_unchanged(loaded):
    catalog, models = loaded
    before = _versions(catalog)
    changes = catalog.execute("SELECT count(*) FROM model_changes").fetchone()[0]
    result = _load(catalog, models, unchanged=())
    assert (result.load.inserted, result.load.updated, result.load.unchanged) == (0, 0, len(models))
    assert _versions(catalog) == before
    assert catalog.execute("SELECT count(*) FROM model_changes").fetchone()[0] == changes


def test_a_model_staged_as_unchanged_whose_stored_row_moved_fails_the_load_and_writes_nothing(loaded):
    catalog, models = loaded
    moved = models[3].provider_model_id
    catalog.execute("UPDATE models SET content_hash = 'moved' WHERE provider_model_id = %s", (moved,))
    before = _versions(catalog)
    with pytest.raises(CatalogUnavailable, match="changed while it was being synced"):
        _load(catalog, models, unchanged={moved})
    assert _versions(catalog) == before
    assert catalog.execute("SELECT to_regclass('pg_temp.stage_models')").fetchone()[0] is None
