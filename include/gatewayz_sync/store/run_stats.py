"""Provider API health over time, read from `sync_runs`: latency, error rate, last error, model count, prices moved.

The window is each provider's last N finished attempts, optionally only those of the last D days. Latency is the
listing's fetch time (`details.timings.fetch_seconds`), which only an attempt that fetched the whole listing
records. The model count of a run is the models its listing held (fetched minus rejected minus duplicates), so a
failed run has none. Prices moved counts the `price_changed` rows the provider's syncs wrote in the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

OUTCOMES = ("success", "failed", "skipped", "dry_run")

WINDOW_SQL = """
SELECT p.slug, w.id, w.started_at, w.status, w.error,
       (w.details -> 'timings' ->> 'fetch_seconds')::float8,
       CASE WHEN w.status IN ('success', 'dry_run') THEN w.fetched - w.rejected - w.duplicates END,
       COALESCE((w.details -> 'changes' ->> 'price_changed')::int, 0)
FROM providers p
CROSS JOIN LATERAL (
    SELECT s.id, s.started_at, s.status, s.error, s.details, s.fetched, s.rejected, s.duplicates
    FROM sync_runs s
    WHERE s.provider_slug = p.slug AND s.status <> 'running'
      AND (%(days)s::int IS NULL OR s.started_at >= now() - make_interval(days => %(days)s::int))
    ORDER BY s.id DESC LIMIT %(runs)s
) w
WHERE %(slugs)s::text[] IS NULL OR p.slug = ANY(%(slugs)s::text[])
ORDER BY p.slug, w.id
"""

OUTCOMES_SQL = """
SELECT (started_at AT TIME ZONE 'UTC')::date AS day, status, count(*)
FROM sync_runs
WHERE started_at >= %(since)s AND status <> 'running'
GROUP BY 1, 2
"""


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass
class RunPoint:
    """One finished attempt, as the charts plot it."""

    sync_run_id: int
    started_at: datetime
    status: str
    fetch_seconds: float | None
    models: int | None


@dataclass
class ProviderApiHealth:
    slug: str
    points: list[RunPoint] = field(default_factory=list)
    last_error: str | None = None
    last_error_at: datetime | None = None
    prices_moved: int = 0

    def count(self, status: str) -> int:
        return sum(1 for point in self.points if point.status == status)

    @property
    def error_rate(self) -> float | None:
        """Failed attempts over attempts that reached the provider (skipped ones did not)."""
        reached = len(self.points) - self.count("skipped")
        return round(self.count("failed") / reached, 4) if reached else None

    def series(self, attribute: str) -> list[tuple[str, float]]:
        """`[started_at, value]` of every attempt that has the value, oldest first."""
        return [(point.started_at.isoformat(), getattr(point, attribute)) for point in self.points
                if getattr(point, attribute) is not None]

    def as_dict(self) -> dict[str, Any]:
        latencies = self.series("fetch_seconds")
        counts = self.series("models")
        seconds = [value for _, value in latencies]
        return {
            "attempts": len(self.points),
            **{status: self.count(status) for status in OUTCOMES},
            "since": self.points[0].started_at.isoformat() if self.points else None,
            "error_rate": self.error_rate,
            "fetch_seconds": {
                "p50": _rounded(percentile(seconds, 0.5)),
                "p95": _rounded(percentile(seconds, 0.95)),
                "series": latencies,
            },
            "last_error": None if self.last_error is None else {
                "at": self.last_error_at.isoformat(), "error": self.last_error,
            },
            "models": {"latest": counts[-1][1] if counts else None, "series": counts},
            "prices_moved": self.prices_moved,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def provider_api_health(
    connection, *, runs: int = 20, days: int | None = None, slugs: list[str] | None = None
) -> dict[str, ProviderApiHealth]:
    """Each provider's last `runs` finished attempts (within `days` when given), oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(WINDOW_SQL, {"runs": runs, "days": days, "slugs": slugs})
        rows = cursor.fetchall()
    health: dict[str, ProviderApiHealth] = {slug: ProviderApiHealth(slug) for slug in slugs or ()}
    for slug, run_id, started_at, status, error, fetch_seconds, models, price_moves in rows:
        entry = health.setdefault(slug, ProviderApiHealth(slug))
        entry.points.append(RunPoint(run_id, started_at, status, fetch_seconds, models))
        entry.prices_moved += price_moves
        if status == "failed":
            entry.last_error, entry.last_error_at = error, started_at
    return health


def run_outcomes_per_day(connection, *, days: int, today: date) -> list[dict[str, Any]]:
    """Every provider attempt of the last `days` days (UTC, today included) counted by outcome; empty days too."""
    first = today - timedelta(days=days - 1)
    with connection.cursor() as cursor:
        cursor.execute(OUTCOMES_SQL, {"since": datetime.combine(first, time.min, tzinfo=UTC)})
        rows = cursor.fetchall()
    per_day = {first + timedelta(days=n): dict.fromkeys(OUTCOMES, 0) for n in range(days)}
    for day, status, count in rows:
        if day in per_day:
            per_day[day][status] = count
    return [{"day": day.isoformat(), **counts} for day, counts in per_day.items()]
