"""Publishing the catalog: `catalog_publications`, one row per attempt of the publish DAG.

Each attempt says where it published (`base_url`), which version it wrote (`version`, the folder under
`versions/`), the catalog's content hash, the manifest it wrote, and how it ended: `published`, `unchanged` (the
content hash equals the current manifest's, so nothing was written), or `failed` with the error. `/health` reads
the failures ("catalog publish failing since ..."), retention reads the published versions it may delete
(`removed_at` once their folder is gone), and the export endpoints read the current manifest.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_publications",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("dag_id", sa.Text),
        sa.Column("dag_run_id", sa.Text),
        sa.Column("base_url", sa.Text, nullable=False),
        sa.Column("started_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("finished_at", sa.TIMESTAMP(timezone=True)),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("version", sa.Text),
        sa.Column("content_hash", sa.Text),
        sa.Column("manifest", JSONB),
        sa.Column("error", sa.Text),
        sa.Column("removed_at", sa.TIMESTAMP(timezone=True)),
        sa.CheckConstraint("status IN ('running', 'published', 'unchanged', 'failed')",
                           name="catalog_publications_status_known"),
    )
    op.create_index("catalog_publications_latest", "catalog_publications", ["base_url", sa.text("id DESC")])


def downgrade() -> None:
    op.drop_table("catalog_publications")
