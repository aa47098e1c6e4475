"""Catalog schema: providers, models, sync_runs, model_changes, model_sync_runs and the models_current view.

Prices are NUMERIC without a fixed scale (exact, never float) in USD per 1M tokens for token meters and USD
per unit for request/image/search meters. `models.last_seen_at` is only written together with the row; the
view derives the live value from the provider's last successful listing so unchanged rows are never
rewritten just to move a timestamp.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=NOW),
    ]


def upgrade() -> None:
    op.create_table(
        "providers",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("slug", sa.Text, nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("color", sa.Text, nullable=False),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("site_url", sa.Text, nullable=False),
        sa.Column("icon", sa.Text),
        sa.Column("aliases", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("api_base_url", sa.Text),
        sa.Column("api_docs_url", sa.Text),
        sa.Column("api_key_env", sa.Text),
        sa.Column("has_list_api", sa.Boolean, nullable=False),
        sa.Column("supports_streaming", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("disabled_by_operator", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("deactivated_at", sa.TIMESTAMP(timezone=True)),
        sa.Column("models_listed_at", sa.TIMESTAMP(timezone=True)),
        sa.Column("registry_fingerprint", sa.Text, nullable=False),
        *_timestamps(),
        sa.CheckConstraint("priority IN ('fast', 'slow')", name="providers_priority_known"),
    )

    price_columns = [
        sa.Column(name, sa.Numeric, sa.CheckConstraint(f"{name} >= 0", name=f"models_{name}_not_negative"))
        for name in (
            "price_input_usd_per_mtok",
            "price_output_usd_per_mtok",
            "price_cache_read_usd_per_mtok",
            "price_cache_write_usd_per_mtok",
            "price_reasoning_usd_per_mtok",
            "price_request_usd",
            "price_image_usd",
            "price_web_search_usd",
        )
    ]
    op.create_table(
        "models",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("provider_id", sa.Integer, sa.ForeignKey("providers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("provider_model_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("context_length", sa.Integer, sa.CheckConstraint("context_length > 0", name="models_context_positive")),
        sa.Column("max_output_tokens", sa.Integer, sa.CheckConstraint("max_output_tokens > 0", name="models_output_positive")),
        sa.Column("input_modalities", ARRAY(sa.Text)),
        sa.Column("output_modalities", ARRAY(sa.Text)),
        *price_columns,
        sa.Column("price_is_variable", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("raw_pricing", JSONB),
        sa.Column("supports_tools", sa.Boolean),
        sa.Column("supports_vision", sa.Boolean),
        sa.Column("supports_reasoning", sa.Boolean),
        sa.Column("supports_structured_output", sa.Boolean),
        sa.Column("is_free", sa.Boolean),
        sa.Column("deprecation_date", sa.TIMESTAMP(timezone=True)),
        sa.Column("shutdown_date", sa.TIMESTAMP(timezone=True)),
        sa.Column("raw", JSONB, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("first_seen_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=NOW),
        sa.Column("last_seen_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=NOW),
        sa.Column("missing_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("deactivated_at", sa.TIMESTAMP(timezone=True)),
        *_timestamps(),
        sa.UniqueConstraint("provider_id", "provider_model_id", name="models_provider_model_unique"),
        sa.CheckConstraint(
            "max_output_tokens IS NULL OR context_length IS NULL OR max_output_tokens <= context_length",
            name="models_output_within_context",
        ),
    )
    op.create_index("models_provider_active", "models", ["provider_id", "is_active"])

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("dag_id", sa.Text),
        sa.Column("dag_run_id", sa.Text),
        sa.Column("try_number", sa.Integer),
        sa.Column("provider_id", sa.Integer, sa.ForeignKey("providers.id", ondelete="SET NULL")),
        sa.Column("provider_slug", sa.Text, nullable=False),
        sa.Column("started_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("finished_at", sa.TIMESTAMP(timezone=True)),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("fetched", sa.Integer, nullable=False, server_default="0"),
        sa.Column("inserted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("unchanged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("missed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("deactivated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
        sa.Column("changes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("details", JSONB),
        sa.CheckConstraint(
            "status IN ('running', 'success', 'failed', 'skipped', 'dry_run')", name="sync_runs_status_known"
        ),
    )
    op.create_index("sync_runs_provider_started", "sync_runs", ["provider_slug", sa.text("started_at DESC")])
    op.create_index("sync_runs_dag_run", "sync_runs", ["dag_run_id"])

    op.create_table(
        "model_changes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("provider_id", sa.Integer, sa.ForeignKey("providers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model_id", sa.BigInteger, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("provider_model_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("field", sa.Text),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("detected_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=NOW),
        sa.Column("sync_run_id", sa.BigInteger, sa.ForeignKey("sync_runs.id", ondelete="SET NULL")),
        sa.CheckConstraint(
            "kind IN ('added', 'removed', 'reappeared', 'price_changed', 'limits_changed', "
            "'capabilities_changed', 'deprecated')",
            name="model_changes_kind_known",
        ),
    )
    op.create_index("model_changes_detected", "model_changes", [sa.text("detected_at DESC")])
    op.create_index("model_changes_provider_detected", "model_changes", ["provider_id", sa.text("detected_at DESC")])

    op.create_table(
        "model_sync_runs",
        sa.Column("dag_run_id", sa.Text, primary_key=True),
        sa.Column("dag_id", sa.Text, nullable=False),
        sa.Column("finished_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=NOW),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("ok", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("active_models", sa.Integer, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("details", JSONB),
    )

    op.execute(
        """
        CREATE VIEW models_current AS
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
               m.missing_count, m.is_active, m.deactivated_at, m.created_at, m.updated_at
        FROM models m JOIN providers p ON p.id = m.provider_id
        """
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS models_current")
    for table in ("model_sync_runs", "model_changes", "sync_runs", "models", "providers"):
        op.drop_table(table)
