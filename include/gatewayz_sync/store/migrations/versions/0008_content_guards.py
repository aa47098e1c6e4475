"""Guards on content and alerting that shows when it fails.

- `model_changes.kind` gains `field_removed` (a price, limit, modality or capability going from a value to NULL,
  with the old value) and `price_held` (a list-API price 10x or more away from the stored one, not applied).
- `model_price_candidates.source` may be `list_api`: a held price jump, kept as a disputed candidate until an
  operator accepts it.
- `alert_outcomes`: per DAG, the outcome of its last alerting attempt; `failing_since` and `last_error` are set
  while alerting fails and cleared by the next successful send, so `/health` and the Model catalog page can say
  "alerting broken since ...".

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KINDS_0001 = ("added", "removed", "reappeared", "price_changed", "limits_changed", "capabilities_changed",
              "deprecated")
KINDS = (*KINDS_0001, "field_removed", "price_held")
REFERENCE_SOURCES = ("genai-prices", "models.dev", "litellm")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(table: str, name: str, condition: str) -> None:
    op.drop_constraint(name, table, type_="check")
    op.create_check_constraint(name, table, condition)


def upgrade() -> None:
    _replace_check("model_changes", "model_changes_kind_known", _in("kind", KINDS))
    _replace_check("model_price_candidates", "model_price_candidates_source_known",
                   _in("source", (*REFERENCE_SOURCES, "list_api")))
    op.create_table(
        "alert_outcomes",
        sa.Column("dag_id", sa.Text, primary_key=True),
        sa.Column("last_attempt_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("last_dag_run_id", sa.Text),
        sa.Column("last_sent_at", sa.TIMESTAMP(timezone=True)),
        sa.Column("failing_since", sa.TIMESTAMP(timezone=True)),
        sa.Column("failed_dag_run_id", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.CheckConstraint("(failing_since IS NULL) = (last_error IS NULL)", name="alert_outcomes_error_with_time"),
    )


def downgrade() -> None:
    op.drop_table("alert_outcomes")
    op.execute("DELETE FROM model_price_candidates WHERE source = 'list_api'")
    _replace_check("model_price_candidates", "model_price_candidates_source_known", _in("source", REFERENCE_SOURCES))
    op.execute("DELETE FROM model_changes WHERE kind IN ('field_removed', 'price_held')")
    _replace_check("model_changes", "model_changes_kind_known", _in("kind", KINDS_0001))
