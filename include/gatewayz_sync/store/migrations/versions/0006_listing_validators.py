"""providers.listing_validators: the ETag / Last-Modified sent with the last loaded listing, and its digest.

The next sync sends them back (`If-None-Match` / `If-Modified-Since`); a 304 stands for the listing whose
bytes had `body_digest`, and is confirmed like a byte-identical listing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("providers", sa.Column("listing_validators", postgresql.JSONB))


def downgrade() -> None:
    op.drop_column("providers", "listing_validators")
