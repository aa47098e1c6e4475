"""Read models over the catalog: the status table operators look at, catalog totals, recent changes, health."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUS_SQL = """
SELECT p.slug, p.name, p.is_active, p.disabled_by_operator, p.disabled_reason, p.has_list_api,
       COALESCE(c.active, 0), COALESCE(c.inactive, 0),
       latest.status, latest.started_at, latest.finished_at, latest.error,
       latest.fetched, latest.inserted, latest.updated, latest.unchanged, latest.deactivated, latest.rejected,
       latest.dag_run_id, success.finished_at
FROM providers p
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE m.is_active) AS active, count(*) FILTER (WHERE NOT m.is_active) AS inactive
    FROM models m WHERE m.provider_id = p.id
) c ON true
LEFT JOIN LATERAL (
    SELECT s.status, s.started_at, s.finished_at, s.error, s.fetched, s.inserted, s.updated, s.unchanged,
           s.deactivated, s.rejected, s.dag_run_id
    FROM sync_runs s WHERE s.provider_slug = p.slug AND s.status <> 'running' ORDER BY s.id DESC LIMIT 1
) latest ON true
LEFT JOIN LATERAL (
    SELECT s.finished_at FROM sync_runs s
    WHERE s.provider_slug = p.slug AND s.status = 'success' ORDER BY s.finished_at DESC LIMIT 1
) success ON true
WHERE (%(provider)s::text IS NULL OR p.slug = %(provider)s)
ORDER BY p.slug
LIMIT %(limit)s OFFSET %(offset)s
"""


@dataclass
class ProviderStatus:
    slug: str
    name: str
    active: bool
    disabled_by_operator: bool
    disabled_reason: str | None
    has_list_api: bool
    active_models: int
    inactive_models: int
    last_attempt: dict[str, Any] | None
    last_success_at: Any
    age_hours: float | None
    stale: bool
    state: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.name,
            "active": self.active,
            "disabled_by_operator": self.disabled_by_operator,
            "disabled_reason": self.disabled_reason,
            "has_list_api": self.has_list_api,
            "active_models": self.active_models,
            "inactive_models": self.inactive_models,
            "last_attempt": self.last_attempt,
            "last_success_at": _iso(self.last_success_at),
            "age_hours": self.age_hours,
            "stale": self.stale,
            "state": self.state,
        }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _state(active: bool, disabled: bool, has_list_api: bool, latest_status: str | None, stale: bool) -> str:
    """One word an operator reads at a glance: fresh, stale, failed, skipped, disabled, inactive, never, no-api."""
    if not active:
        return "inactive"
    if disabled:
        return "disabled"
    if not has_list_api:
        return "no-api"
    if latest_status == "failed":
        return "failed"
    if latest_status == "skipped":
        return "skipped"
    if latest_status is None:
        return "never"
    return "stale" if stale else "fresh"


def provider_statuses(
    connection, *, stale_hours: float, now, provider: str | None = None, limit: int = 100, offset: int = 0
) -> list[ProviderStatus]:
    with connection.cursor() as cursor:
        cursor.execute(STATUS_SQL, {"provider": provider, "limit": limit, "offset": offset})
        rows = cursor.fetchall()
    statuses = []
    for row in rows:
        (slug, name, active, disabled, disabled_reason, has_list_api, active_models, inactive_models,
         status, started_at, finished_at, error, fetched, inserted, updated, unchanged, deactivated, rejected,
         dag_run_id, last_success_at) = row
        age_hours = None if last_success_at is None else round((now - last_success_at).total_seconds() / 3600, 2)
        tracked = active and not disabled and has_list_api and status != "skipped"
        stale = tracked and (age_hours is None or age_hours > stale_hours)
        last_attempt = None
        if status is not None:
            last_attempt = {
                "status": status,
                "started_at": _iso(started_at),
                "finished_at": _iso(finished_at),
                "error": error,
                "dag_run_id": dag_run_id,
                "counts": {
                    "fetched": fetched,
                    "inserted": inserted,
                    "updated": updated,
                    "unchanged": unchanged,
                    "deactivated": deactivated,
                    "rejected": rejected,
                },
            }
        statuses.append(
            ProviderStatus(
                slug=slug,
                name=name,
                active=active,
                disabled_by_operator=disabled,
                disabled_reason=disabled_reason,
                has_list_api=has_list_api,
                active_models=active_models,
                inactive_models=inactive_models,
                last_attempt=last_attempt,
                last_success_at=last_success_at,
                age_hours=age_hours,
                stale=stale,
                state=_state(active, disabled, has_list_api, status, stale),
            )
        )
    return statuses


def catalog_totals(connection) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT (SELECT count(*) FROM providers),
                      (SELECT count(*) FROM providers WHERE is_active AND NOT disabled_by_operator),
                      (SELECT count(*) FROM models WHERE is_active),
                      (SELECT count(*) FROM models WHERE NOT is_active),
                      (SELECT count(*) FROM model_changes WHERE detected_at > now() - interval '24 hours')"""
        )
        providers, enabled, active_models, inactive_models, changes_24h = cursor.fetchone()
    return {
        "providers": providers,
        "enabled_providers": enabled,
        "active_models": active_models,
        "inactive_models": inactive_models,
        "changes_last_24h": changes_24h,
    }


def recent_changes(
    connection, *, since=None, provider: str | None = None, kind: str | None = None, limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.id, p.slug, c.provider_model_id, c.kind, c.field, c.old_value, c.new_value, c.detected_at,
                      c.sync_run_id, c.source, c.model_id
               FROM model_changes c JOIN providers p ON p.id = c.provider_id
               WHERE (%(since)s::timestamptz IS NULL OR c.detected_at >= %(since)s)
                 AND (%(provider)s::text IS NULL OR p.slug = %(provider)s)
                 AND (%(kind)s::text IS NULL OR c.kind = %(kind)s)
                 AND (%(before)s::bigint IS NULL OR c.id < %(before)s)
               ORDER BY c.id DESC LIMIT %(limit)s""",
            {"since": since, "provider": provider, "kind": kind, "before": before_id, "limit": limit},
        )
        rows = cursor.fetchall()
    return [
        {
            "id": row[0],
            "provider": row[1],
            "model": row[2],
            "kind": row[3],
            "field": row[4],
            "old_value": row[5],
            "new_value": row[6],
            "detected_at": _iso(row[7]),
            "sync_run_id": row[8],
            "source": row[9],
            "model_id": row[10],
        }
        for row in rows
    ]


def health(statuses: list[ProviderStatus]) -> tuple[bool, list[dict[str, Any]]]:
    """Healthy when every tracked provider (active, enabled, with a list API and credentials) is fresh."""
    unhealthy = [
        {"slug": s.slug, "state": s.state, "age_hours": s.age_hours,
         "error": (s.last_attempt or {}).get("error")}
        for s in statuses
        if s.stale
    ]
    return not unhealthy, unhealthy
