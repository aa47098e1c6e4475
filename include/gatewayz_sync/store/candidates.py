"""One reference source's candidates, kept as `model_price_candidates` rows that change only when their value does.

Per source, in one transaction: COPY the matched candidates into a temp stage, insert the new ones, update
those whose content (every price in `meters`, matched id, rule, checked date, fields not understood) changed,
delete those no longer matched. An unchanged snapshot rewrites nothing: `source_version`, `as_of` and
`fetched_at` name the document a value came from and move only with the value. The flat price columns are the
projection of `meters` (`catalog/meters.py`). Every attempt leaves a `reference_runs` row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..catalog.meters import FLAT_COLUMNS, PriceSheet
from ..catalog.records import dumps_json
from .copy_text import encode_row
from .runs import RunInfo

CONTENT_COLUMNS = ("source_model_id", "match_rule", *FLAT_COLUMNS, "checked_at", "meters", "unread", "no_price")
STAGE_COLUMNS = ("model_id", *CONTENT_COLUMNS, "source_version", "as_of", "content_hash")


@dataclass(frozen=True)
class CandidateRow:
    model_id: int
    source_model_id: str
    match_rule: str
    prices: PriceSheet
    source_version: str
    checked_at: date | None = None
    unread: tuple[str, ...] = ()
    as_of: date | None = None
    # why the entry gives no price (an empty `prices`), in words
    no_price: str | None = None

    def copy_line(self) -> bytes:
        checked = self.checked_at.isoformat() if self.checked_at else None
        meters = dumps_json([{k: v for k, v in row.items() if k != "source"} for row in self.prices.rows()]).decode()
        unread = dumps_json(list(self.unread)).decode() if self.unread else None
        content = (self.source_model_id, self.match_rule, *self.prices.columns().values(), checked, meters, unread,
                   self.no_price)
        digest = hashlib.sha256(dumps_json([None if v is None else str(v) for v in content])).hexdigest()
        as_of = self.as_of.isoformat() if self.as_of else None
        return encode_row((self.model_id, *content, self.source_version, as_of, digest))


@dataclass
class CandidateWrites:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


def reference_targets(connection, slugs: Sequence[str]) -> list[tuple[int, str, str]]:
    """(model row id, provider slug, provider's model id) of every active model of the given providers."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT m.id, p.slug, m.provider_model_id FROM models m JOIN providers p ON p.id = m.provider_id
               WHERE m.is_active AND p.slug = ANY(%s) ORDER BY m.id""",
            (list(slugs),),
        )
        return cursor.fetchall()


def store_candidates(connection, source: str, rows: Sequence[CandidateRow]) -> CandidateWrites:
    """Make the source's candidates equal `rows`, writing only the differences. `connection` is autocommit."""
    writes = CandidateWrites()
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('gatewayz.candidates.' || %s, 0))", (source,))
        cursor.execute(
            "CREATE TEMP TABLE stage_candidates ON COMMIT DROP AS "
            f"SELECT {', '.join(STAGE_COLUMNS)} FROM model_price_candidates WITH NO DATA"
        )
        with cursor.copy(f"COPY stage_candidates ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write(row.copy_line())
        cursor.execute(
            f"""WITH written AS (
                    INSERT INTO model_price_candidates (source, {", ".join(STAGE_COLUMNS)}, fetched_at)
                    SELECT %(source)s, {", ".join(STAGE_COLUMNS)}, now() FROM stage_candidates
                    ON CONFLICT (model_id, source) DO UPDATE SET
                        {", ".join(f"{c} = EXCLUDED.{c}" for c in STAGE_COLUMNS[1:])}, detail = NULL,
                        fetched_at = now()
                    WHERE model_price_candidates.content_hash IS DISTINCT FROM EXCLUDED.content_hash
                    RETURNING (xmax = 0) AS inserted
                )
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written""",
            {"source": source},
        )
        writes.inserted, writes.updated = cursor.fetchone()
        cursor.execute(
            """DELETE FROM model_price_candidates c WHERE c.source = %s
               AND NOT EXISTS (SELECT 1 FROM stage_candidates s WHERE s.model_id = c.model_id)""",
            (source,),
        )
        writes.deleted = cursor.rowcount
    return writes


@dataclass
class ReferenceRunResult:
    """One reference source attempt; becomes its `reference_runs` row."""

    status: str
    digest: str | None = None
    source_version: str | None = None
    matched: int = 0
    writes: CandidateWrites = field(default_factory=CandidateWrites)
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def record_reference_run(connection, run: RunInfo, source: str, result: ReferenceRunResult) -> int:
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO reference_runs (dag_id, dag_run_id, try_number, source, started_at, finished_at, status,
                                           document_digest, source_version, matched, inserted, updated, deleted,
                                           error, details)
               VALUES (%s, %s, %s, %s, %s, clock_timestamp(), %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (run.dag_id, run.dag_run_id, run.try_number, source, run.started_at, result.status, result.digest,
             result.source_version, result.matched, result.writes.inserted, result.writes.updated,
             result.writes.deleted, result.error, dumps_json(result.details).decode() if result.details else None),
        )
        return cursor.fetchone()[0]


def reference_outcome(connection, dag_run_id: str) -> dict[str, tuple[str, str | None]]:
    """Each source's latest attempt in one DAG run: source -> (status, error)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT DISTINCT ON (source) source, status, error FROM reference_runs WHERE dag_run_id = %s
               ORDER BY source, id DESC""",
            (dag_run_id,),
        )
        return {source: (status, error) for source, status, error in cursor.fetchall()}
