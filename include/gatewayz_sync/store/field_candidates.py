"""Routing fields as the catalog keeps them: each reference's values (`model_field_candidates`), the operator's
(`operator_fields`), and the decided values with their sources (`models` columns and `field_sources`).

A source's candidates change only when a value does, as price candidates (`candidates.py`): `source_version` and
`as_of` name the document a value came from and move only with the value, so an unchanged snapshot rewrites
nothing. The resolver writes only the models, statuses and `model_changes` rows whose decision differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..catalog.records import dumps_json
from ..catalog.routing import CHANGE_KINDS, ROUTING_FIELDS, column_value, json_value
from ..prices.field_resolve import FieldCandidate
from .candidates import CandidateWrites
from .copy_text import encode_row

STAGE_COLUMNS = ("model_id", "field", "value", "source_model_id", "source_version", "as_of", "checked_at")


@dataclass(frozen=True)
class FieldCandidateRow:
    model_id: int
    field: str
    value: Any
    source_model_id: str
    source_version: str
    as_of: date | None = None
    checked_at: date | None = None

    def copy_line(self) -> bytes:
        return encode_row((self.model_id, self.field, dumps_json(self.value).decode(), self.source_model_id,
                           self.source_version, self.as_of and self.as_of.isoformat(),
                           self.checked_at and self.checked_at.isoformat()))


def store_field_candidates(connection, source: str, rows: Sequence[FieldCandidateRow]) -> CandidateWrites:
    """Make the source's field candidates equal `rows`, writing only the differences. `connection` is autocommit."""
    writes = CandidateWrites()
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended('gatewayz.field_candidates.' || %s, 0))",
                       (source,))
        cursor.execute("CREATE TEMP TABLE stage_field_candidates ON COMMIT DROP AS "
                       f"SELECT {', '.join(STAGE_COLUMNS)} FROM model_field_candidates WITH NO DATA")
        with cursor.copy(f"COPY stage_field_candidates ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write(row.copy_line())
        cursor.execute(
            f"""WITH written AS (
                    INSERT INTO model_field_candidates (source, {", ".join(STAGE_COLUMNS)})
                    SELECT %(source)s, {", ".join(STAGE_COLUMNS)} FROM stage_field_candidates
                    ON CONFLICT (model_id, source, field) DO UPDATE SET
                        {", ".join(f"{c} = EXCLUDED.{c}" for c in STAGE_COLUMNS[2:])}, fetched_at = now()
                    WHERE (model_field_candidates.value, model_field_candidates.source_model_id,
                           model_field_candidates.checked_at)
                          IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.source_model_id, EXCLUDED.checked_at)
                    RETURNING (xmax = 0) AS inserted
                )
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written""",
            {"source": source},
        )
        writes.inserted, writes.updated = cursor.fetchone()
        cursor.execute(
            """DELETE FROM model_field_candidates c WHERE c.source = %s AND NOT EXISTS (
                   SELECT 1 FROM stage_field_candidates s WHERE s.model_id = c.model_id AND s.field = c.field)""",
            (source,),
        )
        writes.deleted = cursor.rowcount
    return writes


def chat_models_with_repository(cursor) -> list[tuple[int, str | None]]:
    """(model id, the Hugging Face repository its listing declares: OpenRouter's `hugging_face_id`) of every active
    chat model."""
    cursor.execute("""SELECT id, raw ->> 'hugging_face_id' FROM models WHERE is_active AND kind = 'chat'""")
    return cursor.fetchall()


def stored_candidate_values(connection, source: str, name: str) -> dict[int, Any]:
    """model id -> the value `source` gives for field `name`, as stored."""
    return dict(connection.execute(
        "SELECT model_id, value FROM model_field_candidates WHERE source = %s AND field = %s", (source, name)).fetchall())


@dataclass(frozen=True)
class StoredFieldCandidate(FieldCandidate):
    status: str | None = None
    status_reason: str | None = None


@dataclass
class FieldState:
    """One active model's routing fields as stored (JSON values), their sources, and every reference's values."""

    model_id: int
    provider_id: int
    slug: str
    provider_model_id: str
    alias_of: str | None
    values: dict[str, Any]
    sources: dict[str, dict[str, Any]]
    candidates: dict[str, list[StoredFieldCandidate]] = field(default_factory=dict)

    def source_of(self, name: str) -> str | None:
        return (self.sources.get(name) or {}).get("source")


def load_field_state(cursor) -> list[FieldState]:
    cursor.execute(
        f"""SELECT m.id, m.provider_id, p.slug, m.provider_model_id, m.alias_of, m.field_sources,
                   {", ".join(f"m.{name}" for name in ROUTING_FIELDS)}
            FROM models m JOIN providers p ON p.id = m.provider_id WHERE m.is_active ORDER BY m.id"""
    )
    states = {}
    for model_id, provider_id, slug, provider_model_id, alias_of, sources, *values in cursor.fetchall():
        states[model_id] = FieldState(
            model_id, provider_id, slug, provider_model_id, alias_of,
            {name: json_value(name, value) for name, value in zip(ROUTING_FIELDS, values, strict=True)},
            dict(sources or {}))
    cursor.execute(
        """SELECT c.model_id, c.field, c.source, c.value, c.source_version, c.source_model_id, c.as_of, c.checked_at,
                  c.status, c.status_reason
           FROM model_field_candidates c JOIN models m ON m.id = c.model_id WHERE m.is_active
           ORDER BY c.model_id, c.field, c.source"""
    )
    for model_id, name, source, value, version, entry, as_of, checked, status, reason in cursor.fetchall():
        state = states.get(model_id)
        if state is not None:
            state.candidates.setdefault(name, []).append(
                StoredFieldCandidate(source, value, version, entry, as_of, checked, status, reason))
    return list(states.values())


def operator_field_values(cursor) -> dict[tuple[str, str], dict[str, tuple[Any, str]]]:
    """(provider slug, provider model id) -> field -> (value, version naming who set it and when)."""
    cursor.execute("""SELECT provider_slug, provider_model_id, field, value, updated_by, updated_at
                      FROM operator_fields ORDER BY provider_slug, provider_model_id, field""")
    found: dict[tuple[str, str], dict[str, tuple[Any, str]]] = {}
    for slug, model_id, name, value, updated_by, updated_at in cursor.fetchall():
        version = f"operator_fields ({updated_by or 'operator'}, {updated_at:%Y-%m-%d %H:%M} UTC)"
        found.setdefault((slug, model_id), {})[name] = (json_value(name, value), version)
    return found


@dataclass
class FieldWrites:
    models: int = 0
    changes: int = 0
    statuses: int = 0


def write_field_decisions(cursor, rows: Sequence[tuple[int, dict[str, Any], dict[str, Any]]],
                          changes: Sequence[tuple[FieldState, str, Any, Any, str | None]],
                          statuses: Sequence[tuple[int, str, str, str, str | None]]) -> FieldWrites:
    """rows: (model id, field -> JSON value, field_sources); changes: (state, field, old, new, source);
    statuses: (model id, field, source, status, reason)."""
    writes = FieldWrites()
    if rows:
        columns = ", ".join(f"{name} = s.{name}" for name in ROUTING_FIELDS)
        cursor.execute(
            "CREATE TEMP TABLE stage_field_values ON COMMIT DROP AS "
            f"SELECT id AS model_id, {', '.join(ROUTING_FIELDS)}, field_sources FROM models WITH NO DATA")
        with cursor.copy(f"COPY stage_field_values (model_id, {', '.join(ROUTING_FIELDS)}, field_sources) FROM STDIN"
                         ) as copy:
            for model_id, values, sources in rows:
                copy.write(encode_row((model_id, *(column_value(n, values.get(n)) for n in ROUTING_FIELDS),
                                       dumps_json(sources).decode())))
        cursor.execute(f"""UPDATE models m SET {columns}, field_sources = s.field_sources, updated_at = now()
                           FROM stage_field_values s WHERE s.model_id = m.id""")
        writes.models = cursor.rowcount
        cursor.execute("DROP TABLE stage_field_values")
    if changes:
        with cursor.copy("COPY model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, "
                         "new_value, source) FROM STDIN") as copy:
            for state, name, old, new, source in changes:
                kind = CHANGE_KINDS[ROUTING_FIELDS[name]] if new is not None else "field_removed"
                copy.write(encode_row((state.provider_id, state.model_id, state.provider_model_id, kind, name,
                                       _text(name, old), _text(name, new), source)))
        writes.changes = len(changes)
    if statuses:
        cursor.execute("CREATE TEMP TABLE stage_field_status (model_id bigint, field text, source text, status text, "
                       "reason text) ON COMMIT DROP")
        with cursor.copy("COPY stage_field_status (model_id, field, source, status, reason) FROM STDIN") as copy:
            for row in statuses:
                copy.write(encode_row(row))
        cursor.execute("""UPDATE model_field_candidates c SET status = s.status, status_reason = s.reason
                          FROM stage_field_status s
                          WHERE c.model_id = s.model_id AND c.field = s.field AND c.source = s.source""")
        cursor.execute("DROP TABLE stage_field_status")
        writes.statuses = len(statuses)
    return writes


def _text(name: str, value: Any) -> str | None:
    """A value as `model_changes` writes it (`changes.py`): a date as the timestamp the column holds."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(column_value(name, value))
