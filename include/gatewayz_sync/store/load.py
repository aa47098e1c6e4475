"""Load one provider's staged models in one transaction, writing only what changed.

The listing arrives staged (`staging.StagedListing`: COPYed into a temp stage while it was parsed, full rows
only where the content hash differs; bare ids for the rest). Per provider: advisory lock -> lock the provider
row -> the stage checked against the stored hashes as the transaction sees them -> shrink guard -> content guards
(price jumps are held, then a field loss refuses the load; `guards.py`) -> change rows -> upsert -> count misses
and deactivate after `miss_threshold` consecutive misses -> stamp the provider's listing time -> finish the
attempt's `sync_runs` row. A dry run does all of it and rolls back, keeping only the counts (and what a guard refused).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..catalog.meters import PriceSheet
from ..errors import CatalogUnavailable, SuspiciousFieldLoss, SuspiciousShrink
from .changes import PRICE_CHANGED, change_kind
from .copy_text import encode_row
from .guards import (
    field_losses,
    hold_price_jumps,
    listed_outliers,
    price_jumps,
    record_listed_outliers,
    refuse_listed_outliers,
    release_held,
)
from .listing import LoadOptions, as_jsonb, lock_provider, settled_hashes
from .model_sql import (
    ALIAS_LIMITS_SQL,
    FIELD_CHANGES_SQL,
    INSERT_NEW_PRICES_SQL,
    KEEP_STORED_FIELDS_SQL,
    KEEP_STORED_PRICES_SQL,
    LISTED_PRICES_SQL,
    MISSES_SQL,
    PRICES_DIFFER_SQL,
    REAPPEARED_SQL,
    SCOPE_PRICES_SQL,
    UPSERT_SQL,
)
from .price_rows import SheetWrite, write_price_sheets
from .runs import RunInfo, RunResult, finish_provider_run, record_provider_run_alone, start_provider_run
from .staging import StagedListing

LARGE_STAGE = 2_000
MAX_JUMPS_LISTED = 20


class _DryRunRollback(Exception):
    """Raised at the end of a dry run's transaction so that everything it computed is rolled back."""


def load_models(connection, slug: str, models: StagedListing, run: RunInfo, options: LoadOptions,
                result: RunResult, listing_digest: str | None = None,
                listing_validators: Mapping[str, Any] | None = None) -> RunResult:
    """Write one provider's listing into `result.load`. `connection` must be in autocommit mode; this opens its
    own transaction."""
    started = time.monotonic()
    load = result.load
    try:
        with connection.transaction(), connection.cursor() as cursor:
            provider_id = lock_provider(cursor, slug)
            sync_run_id = start_provider_run(cursor, run, provider_id, slug)
            params = {"provider_id": provider_id, "run_id": sync_run_id, "miss_threshold": options.miss_threshold}

            settled = settled_hashes(cursor, provider_id)
            cursor.execute("SELECT count(*) FROM models WHERE provider_id = %s AND is_active", (provider_id,))
            load.active_before = cursor.fetchone()[0]
            changed_rows = _settle_stage(cursor, slug, models, settled)

            shrunk = load.active_before > 0 and (not models or len(models) < load.active_before * options.shrink_ratio)
            if shrunk and not options.allow_shrink:
                raise SuspiciousShrink(slug, got=len(models), active=load.active_before)

            held = False
            if changed_rows:
                cursor.execute(KEEP_STORED_FIELDS_SQL, params)
                cursor.execute(KEEP_STORED_PRICES_SQL, params)
                jumps = _guard_price_jumps(cursor, slug, provider_id, sync_run_id, run, options, result)
                outliers = _guard_sibling_outliers(cursor, slug, provider_id, params, options, result)
                release_held(cursor, provider_id, jumps + [o.provider_model_id for o in outliers])
                held = bool(jumps or outliers)
                _guard_field_loss(cursor, slug, provider_id, options, result)
                cursor.execute(FIELD_CHANGES_SQL, params)
                load.changes.update(kind for (kind,) in cursor.fetchall())
                cursor.execute(REAPPEARED_SQL, params)
                load.changes.update(kind for (kind,) in cursor.fetchall())
                cursor.execute(UPSERT_SQL, params)
                load.inserted, load.updated, added = cursor.fetchone()
                if added:
                    load.changes["added"] += added
                if written := record_listed_outliers(cursor, provider_id, sync_run_id, outliers, _version(run)):
                    load.changes["price_held"] += written
                load.changes.update(_write_list_prices(cursor, params, stored_written=load.updated > 0))
            cursor.execute(ALIAS_LIMITS_SQL, params)
            load.changes.update(kind for (kind,) in cursor.fetchall())
            if load.active_before:  # none active before (a first listing): none can have gone missing
                cursor.execute(MISSES_SQL, params)
                load.missed, load.deactivated = cursor.fetchone()
            if load.deactivated:
                load.changes["removed"] += load.deactivated
            load.unchanged = len(models) - load.inserted - load.updated

            result.status = options.status
            if options.dry_run:
                raise _DryRunRollback
            if held:
                listing_digest = None  # a held price is checked again on the next listing, even an identical one
            cursor.execute(
                "UPDATE providers SET models_listed_at = now(), listing_digest = %s, listing_validators = %s "
                "WHERE id = %s",
                (listing_digest, as_jsonb(listing_validators if listing_digest else None), provider_id),
            )
            result.timings.load_seconds = time.monotonic() - started
            finish_provider_run(cursor, sync_run_id, result)
    except _DryRunRollback:
        result.timings.load_seconds = time.monotonic() - started
        record_provider_run_alone(connection, run, slug, result)
    return result


def _guard_field_loss(cursor, slug: str, provider_id: int, options: LoadOptions, result: RunResult) -> None:
    """Record every field the listing takes away; refuse the load when one goes from too many models at once."""
    losses = field_losses(cursor, provider_id)
    if not losses:
        return
    result.details["field_loss"] = [loss.as_dict() for loss in losses]
    refused = [loss for loss in losses if loss.refused(options.field_loss_ratio, options.field_loss_min_models)]
    if refused and not options.allow_field_loss:
        raise SuspiciousFieldLoss(slug, [loss.words() for loss in refused])


def _version(run: RunInfo) -> str:
    return f"listing of {run.dag_run_id or 'a sync'}"


def _guard_price_jumps(cursor, slug: str, provider_id: int, sync_run_id: int, run: RunInfo, options: LoadOptions,
                       result: RunResult) -> list[str]:
    """Hold list-API prices that jump 10x or more (unless the run accepts them); returns the held models' ids."""
    jumps = price_jumps(cursor, provider_id, slug)
    if jumps:
        key = "price_jumps_accepted" if options.accept_price_jumps else "price_jumps_held"
        result.details[key] = [jump.as_dict() for jump in jumps[:MAX_JUMPS_LISTED]]
        result.details[f"{key}_count"] = len(jumps)
    held = [] if options.accept_price_jumps else jumps
    written = hold_price_jumps(cursor, provider_id, sync_run_id, held, _version(run))
    if written:
        result.load.changes["price_held"] += written
    return [jump.provider_model_id for jump in held]


def _guard_sibling_outliers(cursor, slug: str, provider_id: int, params: Mapping[str, Any], options: LoadOptions,
                            result: RunResult) -> list:
    """Refuse listed prices 10x or more from every sibling that nothing stored vouches for (unless the run accepts
    held prices); a stored reference price of a refused model stays, as when the listing gives none."""
    outliers = listed_outliers(cursor, provider_id, slug)
    if outliers:
        key = "price_outliers_accepted" if options.accept_price_jumps else "price_outliers_held"
        result.details[key] = [outlier.as_dict() for outlier in outliers[:MAX_JUMPS_LISTED]]
        result.details[f"{key}_count"] = len(outliers)
    if options.accept_price_jumps or not outliers:
        return []
    refuse_listed_outliers(cursor, outliers)
    cursor.execute(KEEP_STORED_PRICES_SQL, params)
    return outliers


def _write_list_prices(cursor, params: Mapping[str, Any], stored_written: bool) -> list[str]:
    """The listing's price rows for every written model that keeps no stored price; returns the change kinds.

    Set-based for a large listing: a model the load just inserted gets its rows in one INSERT (an `added` row says
    it); only a model whose rows differ from the stored ones is diffed row by row, for its change rows. When the
    upsert updated no stored model (`stored_written` false), every model in scope is new and nothing is diffed."""
    cursor.execute(SCOPE_PRICES_SQL, params)
    cursor.execute(INSERT_NEW_PRICES_SQL)
    if not stored_written:
        return []
    cursor.execute(LISTED_PRICES_SQL)
    cursor.execute(PRICES_DIFFER_SQL)
    differing = [model_id for (model_id,) in cursor.fetchall()]
    if not differing:
        return []
    cursor.execute(
        """SELECT sc.model_id, sc.list_prices FROM scope_prices sc WHERE sc.model_id = ANY(%s)""", (differing,))
    writes = {model_id: SheetWrite(PriceSheet.from_rows(rows or ()), "list_api") for model_id, rows in cursor.fetchall()}
    result = write_price_sheets(cursor, writes)
    kinds = [change_kind(PRICE_CHANGED, change.key.slug(), change.old, change.new) for change in result.changes]
    if result.changes:
        ids = _provider_model_ids(cursor, [change.model_id for change in result.changes])
        with cursor.copy(
            "COPY model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value, "
            "sync_run_id, source) FROM STDIN"
        ) as copy:
            for change in result.changes:
                field = change.key.slug()
                copy.write(encode_row((params["provider_id"], change.model_id, ids[change.model_id],
                                       change_kind(PRICE_CHANGED, field, change.old, change.new), field,
                                       _text(change.old), _text(change.new), params["run_id"], "list_api")))
    return kinds


def _provider_model_ids(cursor, model_ids: list[int]) -> dict[int, str]:
    cursor.execute("SELECT id, provider_model_id FROM models WHERE id = ANY(%s)", (model_ids,))
    return dict(cursor.fetchall())


def _text(value) -> str | None:
    return None if value is None else str(value)


def _settle_stage(cursor, slug: str, models: StagedListing, settled: dict[str, str]) -> int:
    """Check the stage against the stored rows as this transaction sees them; returns how many rows are changed.

    The listing was staged against the hashes read before the fetch. A model staged as unchanged that is no longer
    stored so fails the load (a retry reloads it); one staged whole whose hash is now the stored one is unchanged.
    """
    changed_rows, now_unchanged = 0, []
    for model in models.models:
        changed = settled.get(model.provider_model_id) != model.content_hash
        if changed and not model.changed:
            raise CatalogUnavailable(
                slug, f"the stored models of {slug} changed while it was being synced; a retry reloads it"
            )
        if model.changed and not changed:
            now_unchanged.append(model.provider_model_id)
        changed_rows += changed
    if now_unchanged:
        cursor.execute("UPDATE stage_models SET changed = false WHERE provider_model_id = ANY(%s)", (now_unchanged,))
    if len(models) >= LARGE_STAGE:
        cursor.execute("CREATE INDEX ON stage_models (provider_model_id)")
        # Statistics only on what the load joins and filters the stage by: sampling the descriptions and raw
        # records of a large listing cost more than every statement that uses the statistics.
        cursor.execute("ANALYZE stage_models (provider_model_id, changed, content_hash)")
    return changed_rows
