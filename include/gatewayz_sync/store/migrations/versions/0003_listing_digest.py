"""providers.listing_digest: the digest of the last successfully loaded single-page listing.

A later listing with the same bytes (and the same spec and normalizer) needs no parsing, normalizing or
loading: the sync only confirms it and moves the provider's listing time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("providers", sa.Column("listing_digest", sa.Text))


def downgrade() -> None:
    op.drop_column("providers", "listing_digest")
