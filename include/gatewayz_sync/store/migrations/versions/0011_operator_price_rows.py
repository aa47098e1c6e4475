"""An operator can negotiate any price row: `operator_price_rows`, one row per negotiated price, like `model_prices`.

`operator_prices` (0004) holds flat columns only: per-token prices, their lowest long-context tier and batch/flex.
A rate per character, per minute, per image, a second long-context tier or a peak-hour price could not be set.
`operator_price_rows` holds any of them, keyed like `model_prices` by the model the operator names
(`provider_slug`, `provider_model_id`, as `operator_prices`) and the price's key (`meter`, `unit`,
`above_input_tokens`, `service_tier`, `time_window`, `option`), with `amount_usd` per `per_units` units.

- Edited by hand (`note`, `updated_by`, `updated_at`); no sync ever writes it, as `operator_prices`.
- A model's operator price is its `operator_prices` columns and its `operator_price_rows` together, a row winning
  over a column that stands for the same key; it wins over every other source, as before.
- The vocabulary is checked here (a meter, a unit, a service tier, a time window the catalog knows), so a typo is
  refused when it is typed rather than breaking the price run that reads it. A new meter needs a migration that
  widens `operator_price_rows_meter_known`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# catalog/meters.py's vocabulary as of this revision
METERS = (
    "input", "output", "cache_read", "cache_write", "cache_write_1h", "reasoning", "input_audio", "output_audio",
    "cache_read_audio", "cache_write_audio", "input_image", "output_image", "cache_read_image", "input_video",
    "output_video", "output_citation", "input_document", "input_annotated_document", "input_text_message",
    "web_search", "storage_search", "code_execution", "rerank", "request",
)
UNITS = ("token", "character", "second", "minute", "hour", "image", "megapixel", "page", "request")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "operator_price_rows",
        sa.Column("provider_slug", sa.Text, nullable=False),
        sa.Column("provider_model_id", sa.Text, nullable=False),
        sa.Column("meter", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("above_input_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("service_tier", sa.Text, nullable=False, server_default="standard"),
        sa.Column("time_window", sa.Text, nullable=False, server_default=""),
        sa.Column("option", sa.Text, nullable=False, server_default=""),
        sa.Column("amount_usd", sa.Numeric, nullable=False),
        sa.Column("per_units", sa.Integer, sa.Computed("CASE WHEN unit IN ('token', 'character') THEN 1000000 ELSE 1 END",
                                                      persisted=True), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("updated_by", sa.Text),
        sa.Column("updated_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("provider_slug", "provider_model_id", "meter", "unit", "above_input_tokens",
                                "service_tier", "time_window", "option", name="operator_price_rows_pkey"),
        sa.CheckConstraint(_in("meter", METERS), name="operator_price_rows_meter_known"),
        sa.CheckConstraint(_in("unit", UNITS), name="operator_price_rows_unit_known"),
        sa.CheckConstraint("amount_usd >= 0", name="operator_price_rows_amount_not_negative"),
        sa.CheckConstraint("above_input_tokens >= 0", name="operator_price_rows_threshold_not_negative"),
        sa.CheckConstraint("service_tier ~ '^[A-Za-z0-9_]+$'", name="operator_price_rows_service_tier_format"),
        sa.CheckConstraint("time_window = '' OR time_window ~ '^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$'",
                           name="operator_price_rows_window_format"),
    )


def downgrade() -> None:
    op.drop_table("operator_price_rows")
