"""Indexes for the status API: each provider's latest attempt and latest success without scanning history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("sync_runs_provider_latest", "sync_runs", ["provider_slug", sa.text("id DESC")])
    op.create_index(
        "sync_runs_provider_last_success",
        "sync_runs",
        ["provider_slug", sa.text("finished_at DESC")],
        postgresql_where=sa.text("status = 'success'"),
    )


def downgrade() -> None:
    op.drop_index("sync_runs_provider_last_success", table_name="sync_runs")
    op.drop_index("sync_runs_provider_latest", table_name="sync_runs")
