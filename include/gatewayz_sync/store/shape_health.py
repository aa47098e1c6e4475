"""Each provider's listing shape, for `/status` and the Model catalog page, read from `sync_runs.details`.

Per provider: the normalizer's reasons and counts (rejected records, nulled fields) for its last attempts that
parsed a listing, and the keys the latest parsed listing carried against the previous successful one: present
(with how many records carry each), absent (carried before, not now), new (never carried before), and the drift
that attempt named.
"""

from __future__ import annotations

from typing import Any

from ..catalog.shape import ListingShape, lost_keys

RUNS_SQL = """
SELECT p.slug, w.id, w.started_at, w.status, w.details -> 'normalize'
FROM providers p
CROSS JOIN LATERAL (
    SELECT s.id, s.started_at, s.status, s.details FROM sync_runs s
    WHERE s.provider_slug = p.slug AND s.status <> 'running' AND s.details ? 'normalize'
    ORDER BY s.id DESC LIMIT %(runs)s
) w
WHERE p.slug = ANY(%(slugs)s)
ORDER BY p.slug, w.id DESC
"""

LISTINGS_SQL = """
SELECT p.slug, latest.id, latest.status, latest.details -> 'shape', latest.details -> 'drift',
       previous.id, previous.details -> 'shape'
FROM providers p
JOIN LATERAL (
    SELECT s.id, s.status, s.details FROM sync_runs s
    WHERE s.provider_slug = p.slug AND s.status <> 'running' AND s.details ? 'shape'
    ORDER BY s.id DESC LIMIT 1
) latest ON true
LEFT JOIN LATERAL (
    SELECT s.id, s.details FROM sync_runs s
    WHERE s.provider_slug = p.slug AND s.status = 'success' AND s.details ? 'shape' AND s.id < latest.id
    ORDER BY s.id DESC LIMIT 1
) previous ON true
WHERE p.slug = ANY(%(slugs)s)
"""


def _run(sync_run_id: int, started_at, status: str, report: dict[str, Any] | None) -> dict[str, Any]:
    report = report or {}
    return {"sync_run_id": sync_run_id, "started_at": started_at.isoformat(), "status": status,
            "records": report.get("records_seen"), "accepted": report.get("accepted"),
            "rejected": report.get("rejected") or {}, "nulled": report.get("nulled") or {}}


def _listing(sync_run_id: int, status: str, shape: ListingShape, drift: list[str] | None, previous_id: int | None,
             previous: ListingShape | None) -> dict[str, Any]:
    before = previous.keys if previous else {}
    return {
        "sync_run_id": sync_run_id,
        "status": status,
        "records": shape.records,
        "compared_with": previous_id,
        "present": shape.keys,
        "absent": sorted(key for key in before if key not in shape.keys),
        "fewer": [{"key": key, "lacking": lacking} for key, lacking in lost_keys(previous, shape)
                  if key in shape.keys] if previous else [],
        "new": sorted(key for key in shape.keys if previous and key not in before),
        "drift": list(drift or []),
    }


def shape_health(connection, slugs: list[str], runs: int = 5) -> dict[str, dict[str, Any]]:
    """slug -> {"runs": the normalizer's counts of the last `runs` parsed listings (newest first), "listing": the
    latest parsed listing's keys against the previous successful one (None before any)}."""
    health: dict[str, dict[str, Any]] = {slug: {"runs": [], "listing": None} for slug in slugs}
    with connection.cursor() as cursor:
        cursor.execute(RUNS_SQL, {"slugs": list(slugs), "runs": runs})
        for slug, sync_run_id, started_at, status, report in cursor.fetchall():
            health[slug]["runs"].append(_run(sync_run_id, started_at, status, report))
        cursor.execute(LISTINGS_SQL, {"slugs": list(slugs)})
        for slug, latest_id, status, shape, drift, previous_id, previous in cursor.fetchall():
            latest = ListingShape.from_dict(shape)
            if latest is not None:
                health[slug]["listing"] = _listing(latest_id, status, latest, drift, previous_id,
                                                   ListingShape.from_dict(previous))
    return health
