"""Indexes for the catalog browser and the API-health charts: one model's history, and attempts by day.

`model_changes.model_id` had no index, so a model's page scanned every change ever recorded; the outcomes-per-day
chart reads `sync_runs` by start time across providers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("model_changes_model", "model_changes", ["model_id", "id"])
    op.create_index("sync_runs_started", "sync_runs", ["started_at"])


def downgrade() -> None:
    op.drop_index("sync_runs_started", table_name="sync_runs")
    op.drop_index("model_changes_model", table_name="model_changes")
