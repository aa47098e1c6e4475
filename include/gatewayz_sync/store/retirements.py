"""Retirement notices and counts: which models retire soon, which notice each is due, and which were sent.

A model retires on its shutdown date, else its deprecation date (`catalog/lifecycle.py` `RETIRES_AT`), read
against the catalog's clock (`catalog_now()`). A notice is due 90, 30 and 7 days before that date, the latest
stage reached only (a model first seen 20 days ahead gets the 30-day notice, then the 7-day one), and only while
the model is active. `retirement_notices` keeps each notice once delivered, keyed by the date it counted down to,
so a re-run never repeats it and a moved date starts again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..catalog.lifecycle import NOTICE_DAYS, RETIRES_AT, notice_stage

CANDIDATES_SQL = f"""
SELECT m.id, p.slug, m.provider_model_id, {RETIRES_AT} AS retires_at,
       CASE WHEN m.shutdown_date IS NOT NULL THEN 'shutdown_date' ELSE 'deprecation_date' END AS date_field,
       m.replacement_model,
       EXTRACT(EPOCH FROM {RETIRES_AT} - catalog_now()) / 86400 AS days_left,
       ARRAY(SELECT n.days_before FROM retirement_notices n
             WHERE n.model_id = m.id AND n.retires_at = {RETIRES_AT}) AS sent
FROM models m JOIN providers p ON p.id = m.provider_id
WHERE m.is_active AND p.is_active
  AND {RETIRES_AT} > catalog_now() AND {RETIRES_AT} <= catalog_now() + make_interval(days => %(horizon)s)
ORDER BY {RETIRES_AT}, p.slug, m.provider_model_id
"""

RECORD_SQL = """
INSERT INTO retirement_notices (model_id, retires_at, date_field, days_before, replacement_model, dag_run_id)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT ON CONSTRAINT retirement_notices_once DO NOTHING
"""

RETIRING_SQL = f"""
SELECT p.slug, count(*) FROM models m JOIN providers p ON p.id = m.provider_id
WHERE m.is_active AND {RETIRES_AT} > catalog_now() AND {RETIRES_AT} <= catalog_now() + make_interval(days => %s)
GROUP BY p.slug
"""


@dataclass(frozen=True)
class RetirementNotice:
    """One model's notice: its retirement date (and which date that is), days to go, the stage (90, 30 or 7) and
    the replacement its provider names, if any."""

    model_id: int
    provider: str
    model: str
    retires_at: datetime
    date_field: str
    days_left: int
    days_before: int
    replacement_model: str | None = None


def due_notices(connection) -> list[RetirementNotice]:
    """Every notice due now and not yet sent, soonest retirement first."""
    with connection.cursor() as cursor:
        cursor.execute(CANDIDATES_SQL, {"horizon": max(NOTICE_DAYS)})
        rows = cursor.fetchall()
    due = []
    for model_id, slug, model, retires_at, date_field, replacement, days_left, sent in rows:
        stage = notice_stage(float(days_left))
        if stage is None or any(days <= stage for days in sent):
            continue
        due.append(RetirementNotice(model_id, slug, model, retires_at, date_field, int(days_left), stage, replacement))
    return due


def record_notices(connection, notices: list[RetirementNotice], dag_run_id: str | None) -> None:
    """Remember delivered notices (one transaction), so that no later run sends them again."""
    if not notices:
        return
    with connection.transaction(), connection.cursor() as cursor:
        cursor.executemany(RECORD_SQL, [(n.model_id, n.retires_at, n.date_field, n.days_before, n.replacement_model,
                                         dag_run_id) for n in notices])


def retiring_counts(connection, days: int) -> dict[str, int]:
    """Provider slug -> active models retiring within `days` days from now (providers with none are absent)."""
    with connection.cursor() as cursor:
        cursor.execute(RETIRING_SQL, (days,))
        return dict(cursor.fetchall())
