"""What the catalog holds of one provider's listing before its sync, and the sync's options.

The part of a provider's sync every run needs, even one whose listing is unchanged: the settled rows' hashes and
the last listing's digest (`listing_state`), the provider's lock, and the confirmation of an unchanged listing
without parsing it. Loading a listing that changed (`load.py`, with its guards) builds on these.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from ..config import SyncSettings
from ..errors import ProviderSkipped
from .model_sql import PENDING_MISSES, PREVIOUS_SHAPE_SQL, SETTLED_SQL
from .providers import catalog_skip_reason
from .runs import DRY_RUN, SUCCESS, RunInfo, RunResult, last_success_counts, record_provider_run


@dataclass(frozen=True)
class LoadOptions:
    miss_threshold: int
    shrink_ratio: float
    allow_shrink: bool = False
    dry_run: bool = False
    field_loss_ratio: float = SyncSettings.field_loss_ratio
    field_loss_min_models: int = SyncSettings.field_loss_min_models
    allow_field_loss: bool = False
    accept_price_jumps: bool = False

    @classmethod
    def from_settings(cls, settings: SyncSettings, *, allow_shrink: bool = False, dry_run: bool = False,
                      allow_field_loss: bool = False, accept_price_jumps: bool = False) -> LoadOptions:
        return cls(settings.miss_threshold, settings.shrink_guard_ratio, allow_shrink, dry_run,
                   settings.field_loss_ratio, settings.field_loss_min_models, allow_field_loss, accept_price_jumps)

    @property
    def status(self) -> str:
        return DRY_RUN if self.dry_run else SUCCESS


@dataclass(frozen=True)
class ListingState:
    """What the last successful load left: settled rows' hashes, the listing digest (with the validators the
    provider sent with it) when nothing is pending, and the shape and normalizer counts of the last successful
    listing that was parsed (what a new listing's drift is measured against)."""

    known_hashes: dict[str, str]
    listing_digest: str | None
    listing_validators: Mapping[str, Any] | None = None
    previous_shape: Mapping[str, Any] | None = None
    previous_report: Mapping[str, Any] | None = None


def settled_hashes(cursor, provider_id: int) -> dict[str, str]:
    cursor.execute(SETTLED_SQL, (provider_id,))
    return dict(cursor.fetchall())


def listing_state(connection, slug: str) -> ListingState:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id, p.listing_digest, p.listing_validators, {PENDING_MISSES} FROM providers p WHERE p.slug = %s",
            (slug,),
        )
        row = cursor.fetchone()
        if row is None:
            return ListingState({}, None)
        provider_id, digest, validators, pending_misses = row
        cursor.execute(PREVIOUS_SHAPE_SQL, (slug,))
        previous_shape, previous_report = cursor.fetchone() or (None, None)
        if pending_misses:
            digest, validators = None, None
        return ListingState(settled_hashes(cursor, provider_id), digest, validators, previous_shape, previous_report)


MODELS_LOCK_PREFIX = "gatewayz.models."


def lock_provider(cursor, slug: str) -> int:
    """Serialize writers of one provider's models and pin the provider row against concurrent deactivation."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s || %s, 0))", (MODELS_LOCK_PREFIX, slug))
    cursor.execute(
        "SELECT id, is_active, disabled_by_operator FROM providers WHERE slug = %s FOR NO KEY UPDATE", (slug,)
    )
    row = cursor.fetchone()
    reason = catalog_skip_reason(row and row[1:])
    if reason is not None:
        raise ProviderSkipped(slug, reason)
    return row[0]


def confirm_unchanged_listing(connection, slug: str, run: RunInfo, digest: str, options: LoadOptions,
                              result: RunResult, validators: Mapping[str, Any] | None = None,
                              not_modified: bool = False) -> bool:
    """Record a listing identical to the last one loaded (the same bytes, or a 304 for them) without parsing it;
    False if the catalog moved meanwhile. The provider's current validators replace the stored ones."""
    started = time.monotonic()
    with connection.transaction(), connection.cursor() as cursor:
        provider_id = lock_provider(cursor, slug)
        cursor.execute(
            f"""SELECT p.listing_digest, {PENDING_MISSES},
                       (SELECT count(*) FROM models m WHERE m.provider_id = p.id AND m.is_active)
                FROM providers p WHERE p.id = %s""",
            (provider_id,),
        )
        stored, pending, active = cursor.fetchone()
        if stored != digest or pending:
            return False
        result.fetch = last_success_counts(cursor, slug) or result.fetch
        result.load.unchanged = result.load.active_before = active
        if not options.dry_run:
            cursor.execute(
                "UPDATE providers SET models_listed_at = now(), listing_validators = %s WHERE id = %s",
                (as_jsonb(validators), provider_id),
            )
        result.status = options.status
        result.details["listing"] = (
            "not modified (HTTP 304 to a conditional request); not re-fetched" if not_modified
            else "byte-identical to the last loaded listing; not re-parsed"
        )
        result.timings.load_seconds = time.monotonic() - started
        record_provider_run(cursor, run, slug, result)
        return True


def as_jsonb(value: Mapping[str, Any] | None) -> Jsonb | None:
    return None if value is None else Jsonb(dict(value))

