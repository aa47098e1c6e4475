"""`catalog_publications`: every attempt of the publish DAG, the only writer; and what `/health`, retention and the
export endpoints read from it.

An attempt is `running` until it ends `published` (a new version, whose manifest is kept here), `unchanged` (the
content hash equals the published one: nothing was written) or `failed` (with the error, and the version folder
it may have begun, so retention removes it too). Publishing that fails is a `/health` cause of its own, "catalog
publish failing since ...", until an attempt succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class BrokenPublishing:
    """Publishing that fails: since when (the first failed attempt after the last good one), and the latest error."""

    since: datetime
    dag_run_id: str | None
    base_url: str
    error: str
    attempts: int

    def sentence(self) -> str:
        return f"catalog publish failing since {self.since.isoformat()}: {self.error} ({self.attempts} attempt(s))"

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "dag_run_id": self.dag_run_id, "base_url": self.base_url,
                "error": self.error, "attempts": self.attempts}


@dataclass(frozen=True)
class Publication:
    """A published version: where, which, and its manifest."""

    id: int
    base_url: str
    version: str
    content_hash: str
    manifest: dict[str, Any]
    finished_at: datetime


def start_attempt(connection, base_url: str, dag_id: str | None, dag_run_id: str | None) -> int:
    row = connection.execute(
        """INSERT INTO catalog_publications (dag_id, dag_run_id, base_url, status) VALUES (%s, %s, %s, 'running')
           RETURNING id""",
        (dag_id, dag_run_id, base_url),
    ).fetchone()
    return row[0]


def record_published(connection, attempt: int, version: str, content_hash: str, manifest: dict[str, Any]) -> None:
    connection.execute(
        """UPDATE catalog_publications SET status = 'published', finished_at = now(), version = %s, content_hash = %s,
                  manifest = %s WHERE id = %s""",
        (version, content_hash, Jsonb(manifest), attempt),
    )


def record_unchanged(connection, attempt: int, version: str | None, content_hash: str) -> None:
    connection.execute(
        """UPDATE catalog_publications SET status = 'unchanged', finished_at = now(), version = %s, content_hash = %s
           WHERE id = %s""",
        (version, content_hash, attempt),
    )


def record_failed(connection, attempt: int, error: str, version: str | None = None) -> None:
    error = " ".join(error.split())[:MAX_ERROR_CHARS] or "unknown error"
    connection.execute(
        """UPDATE catalog_publications SET status = 'failed', finished_at = now(), version = %s, error = %s
           WHERE id = %s""",
        (version, error, attempt),
    )


def run_attempts(connection, dag_run_id: str) -> list[dict[str, Any]]:
    """This DAG run's attempts (its task retries), oldest first."""
    rows = connection.execute(
        """SELECT id, status, version, content_hash, error, base_url FROM catalog_publications WHERE dag_run_id = %s
           ORDER BY id""",
        (dag_run_id,),
    ).fetchall()
    return [dict(zip(("id", "status", "version", "content_hash", "error", "base_url"), row, strict=True))
            for row in rows]


def current_publication(connection, base_url: str | None = None) -> Publication | None:
    """The newest published version (at `base_url`, when given)."""
    where = "AND base_url = %s" if base_url else ""
    row = connection.execute(
        f"""SELECT id, base_url, version, content_hash, manifest, finished_at FROM catalog_publications
            WHERE status = 'published' {where} ORDER BY id DESC LIMIT 1""",
        (base_url,) if base_url else (),
    ).fetchone()
    return Publication(*row) if row else None


def broken_publishing(connection) -> BrokenPublishing | None:
    """Publishing that fails now: the newest finished attempt failed. None while it works (or never ran)."""
    row = connection.execute(
        """WITH last_good AS (SELECT coalesce(max(id), 0) AS id FROM catalog_publications
                              WHERE status IN ('published', 'unchanged')),
                failed AS (SELECT * FROM catalog_publications
                           WHERE status = 'failed' AND id > (SELECT id FROM last_good))
           SELECT (SELECT min(started_at) FROM failed),
                  (SELECT dag_run_id FROM failed ORDER BY id DESC LIMIT 1),
                  (SELECT base_url FROM failed ORDER BY id DESC LIMIT 1),
                  (SELECT error FROM failed ORDER BY id DESC LIMIT 1),
                  (SELECT count(*) FROM failed)"""
    ).fetchone()
    since, run, base_url, error, attempts = row
    return None if since is None else BrokenPublishing(since, run, base_url, error, attempts)


def expired_versions(connection, base_url: str, keep: int) -> list[str]:
    """The version folders at `base_url` beyond the newest `keep` published ones (failed attempts' partial folders
    included), never removed yet: what retention deletes."""
    rows = connection.execute(
        """WITH kept AS (SELECT version FROM catalog_publications
                         WHERE base_url = %(base)s AND status = 'published' AND removed_at IS NULL
                         GROUP BY version ORDER BY max(id) DESC LIMIT %(keep)s)
           SELECT version FROM catalog_publications
           WHERE base_url = %(base)s AND version IS NOT NULL AND removed_at IS NULL
             AND status IN ('published', 'failed') AND version NOT IN (SELECT version FROM kept)
           GROUP BY version ORDER BY min(id)""",
        {"base": base_url, "keep": keep},
    ).fetchall()
    return [version for (version,) in rows]


def record_removed(connection, base_url: str, versions: list[str]) -> None:
    if versions:
        connection.execute(
            "UPDATE catalog_publications SET removed_at = now() WHERE base_url = %s AND version = ANY(%s)",
            (base_url, versions),
        )
