"""`catalog_now()`: the catalog's clock, which `models_current.lifecycle` reads instead of `now()`.

It is `now()` unless the session setting `gatewayz.now` pins it (`GATEWAYZ_NOW`, see `clock.py`), so a model's
lifecycle can be read as of a fixed day: tests count retired models against a pinned day, not the calendar.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CLOCK = """CREATE OR REPLACE FUNCTION catalog_now() RETURNS timestamptz LANGUAGE sql STABLE AS
$$ SELECT COALESCE(NULLIF(current_setting('gatewayz.now', true), '')::timestamptz, now()) $$"""
# models_current as migration 0004 left it, with the clock it compares the shutdown date to as a parameter.
VIEW = """CREATE OR REPLACE VIEW models_current AS
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
       CASE WHEN m.shutdown_date <= {clock} THEN 'retired'
            WHEN m.deprecation_date IS NOT NULL OR m.shutdown_date IS NOT NULL THEN 'deprecated'
            ELSE 'active' END AS lifecycle
FROM models m JOIN providers p ON p.id = m.provider_id"""


def upgrade() -> None:
    op.execute(CLOCK)
    op.execute(VIEW.format(clock="catalog_now()"))


def downgrade() -> None:
    op.execute(VIEW.format(clock="now()"))
    op.execute("DROP FUNCTION catalog_now()")
