"""A candidate says why its entry gives no price: `model_price_candidates.no_price`.

A source's entry that gives no price is kept as a candidate without meters, so that a model left unpriced can say
what each source has for it. Until now every such entry read as "listed as 0". `no_price` names which, in words:
`listed as 0, which is not a price`, `listed without a price` (with genai-prices' own note when it has one),
`listed with only price fields not understood (...)`, or `listed only as alibaba-cn's glm-5.1: the China-region
price list ..., not the international endpoint's` (a mapped provider's `elsewhere`, `prices/matching.py`). NULL
for a candidate that gives prices. Existing candidates without meters were all zero-only: they are backfilled so.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_price_candidates", sa.Column("no_price", sa.Text))
    op.execute("""UPDATE model_price_candidates SET no_price = 'listed as 0, which is not a price'
                  WHERE source <> 'list_api' AND (meters IS NULL OR meters = '[]'::jsonb)""")


def downgrade() -> None:
    op.drop_column("model_price_candidates", "no_price")
