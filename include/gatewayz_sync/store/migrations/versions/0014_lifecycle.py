"""Lifecycle from every source: `removed`, placeholder dates dropped, replacement models, retirement notices.

- `models_current.lifecycle` is `removed` for a model that is no longer active (it left its provider's listing
  for `miss_threshold` syncs in a row, or its provider left the registry); `deactivated_at` is when. Then, as
  before: `retired` once the shutdown date has passed, `deprecated` once a date is announced, else `active`.
- A deprecation or shutdown date more than 10 years after now is a placeholder for "no date" (OpenRouter's
  2098-12-31; `catalog/lifecycle.py`): stored ones are cleared. The normalizer drops them from now on.
- `models.replacement_model`: the model a provider names as the one to move to (Mistral's
  `deprecation_replacement_model`).
- `retirement_notices`: one row per notice the change digest delivered, 90, 30 and 7 days before a model's
  retirement date (its shutdown date, else its deprecation date), so a re-run never repeats one. A date that
  moves is a new date: its notices are due again.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

PLACEHOLDER_AFTER = "interval '10 years'"  # catalog/lifecycle.py PLACEHOLDER_AFTER_YEARS as of this revision
# models_current as migration 0009 left it; only the lifecycle gains `removed`.
OLD_VIEW = """CREATE OR REPLACE VIEW models_current AS
SELECT m.id, m.provider_id, p.slug AS provider_slug, m.provider_model_id, m.name, m.description,
       m.context_length, m.max_output_tokens, m.input_modalities, m.output_modalities,
       m.price_input_usd_per_mtok, m.price_output_usd_per_mtok, m.price_cache_read_usd_per_mtok,
       m.price_cache_write_usd_per_mtok, m.price_reasoning_usd_per_mtok, m.price_request_usd,
       m.price_image_usd, m.price_web_search_usd, m.price_is_variable, m.raw_pricing,
       m.supports_tools, m.supports_vision, m.supports_reasoning, m.supports_structured_output,
       m.is_free, m.deprecation_date, m.shutdown_date, m.raw, m.content_hash, m.first_seen_at,
       CASE WHEN m.is_active AND m.missing_count = 0 AND p.models_listed_at IS NOT NULL
            THEN GREATEST(m.last_seen_at, p.models_listed_at)
            ELSE m.last_seen_at END AS last_seen_at,
       m.missing_count, m.is_active, m.deactivated_at, m.created_at, m.updated_at,
       m.price_long_context_threshold_tokens, m.price_input_long_context_usd_per_mtok,
       m.price_output_long_context_usd_per_mtok, m.price_cache_read_long_context_usd_per_mtok,
       m.price_input_batch_usd_per_mtok, m.price_output_batch_usd_per_mtok, m.price_input_flex_usd_per_mtok,
       m.price_output_flex_usd_per_mtok,
       m.price_source, m.price_confidence, m.price_source_version, m.price_checked_at, m.price_dispute,
       CASE WHEN m.shutdown_date <= catalog_now() THEN 'retired'
            WHEN m.deprecation_date IS NOT NULL OR m.shutdown_date IS NOT NULL THEN 'deprecated'
            ELSE 'active' END AS lifecycle,
       m.kind, m.alias_of, m.price_unknown_reason
FROM models m JOIN providers p ON p.id = m.provider_id"""
VIEW = OLD_VIEW.replace("CASE WHEN m.shutdown_date <= catalog_now() THEN 'retired'",
                        "CASE WHEN NOT m.is_active THEN 'removed'\n            WHEN m.shutdown_date <= catalog_now() THEN 'retired'")


def upgrade() -> None:
    op.add_column("models", sa.Column("replacement_model", sa.Text))
    for column in ("deprecation_date", "shutdown_date"):
        op.execute(f"UPDATE models SET {column} = NULL WHERE {column} > catalog_now() + {PLACEHOLDER_AFTER}")
    op.create_table(
        "retirement_notices",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("model_id", sa.BigInteger, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("retires_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("date_field", sa.Text, nullable=False),
        sa.Column("days_before", sa.Integer, nullable=False),
        sa.Column("replacement_model", sa.Text),
        sa.Column("dag_run_id", sa.Text),
        sa.Column("sent_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.UniqueConstraint("model_id", "retires_at", "days_before", name="retirement_notices_once"),
        sa.CheckConstraint("date_field IN ('shutdown_date', 'deprecation_date')",
                           name="retirement_notices_date_field_known"),
        sa.CheckConstraint("days_before > 0", name="retirement_notices_days_positive"),
    )
    op.execute(VIEW)


def downgrade() -> None:
    op.execute(OLD_VIEW)
    op.drop_table("retirement_notices")
    op.drop_column("models", "replacement_model")
