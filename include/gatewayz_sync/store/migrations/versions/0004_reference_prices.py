"""Reference prices: where a stored price comes from, the candidates behind it, operator prices, variants.

- `models`: `price_source` (list_api, operator, genai-prices, models.dev, litellm), `price_confidence`
  (confirmed, single, disputed), `price_source_version`, `price_checked_at`, `price_dispute` (why disputed),
  and the variant prices: the first long-context tier (threshold in input tokens; input, output, cache read
  above it), batch and flex input/output. Same unit as the other token prices: USD per 1M tokens.
- `model_price_candidates`: one row per model and reference source, the source's prices in the same columns,
  the source's id and the matching rule that found it, `source_version`, `checked_at`, `fetched_at`, and its
  standing against the stored price (`stored`, `agrees`, `differs`, `disputed` with the reason).
- `operator_prices`: negotiated rates an operator edits by hand; never overwritten by a sync.
- `reference_runs`: one row per reference source attempt (like `sync_runs`).
- `model_changes.source`: which source a price change came from.
- `models_current` gains the new columns and `lifecycle`: `retired` once the shutdown date has passed,
  `deprecated` once a deprecation or shutdown date is announced, else `active`; computed when read, so it
  turns on the day itself without a sync.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NOW = sa.text("now()")
# models_current's select list as migration 0001 created it: extended on upgrade, restored on downgrade.
VIEW_0001_COLUMNS = """SELECT m.id, m.provider_id, p.slug AS provider_slug, m.provider_model_id, m.name, m.description,
               m.context_length, m.max_output_tokens, m.input_modalities, m.output_modalities,
               m.price_input_usd_per_mtok, m.price_output_usd_per_mtok, m.price_cache_read_usd_per_mtok,
               m.price_cache_write_usd_per_mtok, m.price_reasoning_usd_per_mtok, m.price_request_usd,
               m.price_image_usd, m.price_web_search_usd, m.price_is_variable, m.raw_pricing,
               m.supports_tools, m.supports_vision, m.supports_reasoning, m.supports_structured_output,
               m.is_free, m.deprecation_date, m.shutdown_date, m.raw, m.content_hash, m.first_seen_at,
               CASE WHEN m.is_active AND m.missing_count = 0 AND p.models_listed_at IS NOT NULL
                    THEN GREATEST(m.last_seen_at, p.models_listed_at)
                    ELSE m.last_seen_at END AS last_seen_at,
               m.missing_count, m.is_active, m.deactivated_at, m.created_at, m.updated_at"""
PRICE_SOURCES = ("list_api", "operator", "genai-prices", "models.dev", "litellm")
REFERENCE_SOURCES = ("genai-prices", "models.dev", "litellm")
BASE_PRICES = (
    "price_input_usd_per_mtok",
    "price_output_usd_per_mtok",
    "price_cache_read_usd_per_mtok",
    "price_cache_write_usd_per_mtok",
    "price_reasoning_usd_per_mtok",
    "price_request_usd",
    "price_image_usd",
    "price_web_search_usd",
)
VARIANT_PRICES = (
    "price_input_long_context_usd_per_mtok",
    "price_output_long_context_usd_per_mtok",
    "price_cache_read_long_context_usd_per_mtok",
    "price_input_batch_usd_per_mtok",
    "price_output_batch_usd_per_mtok",
    "price_input_flex_usd_per_mtok",
    "price_output_flex_usd_per_mtok",
)
THRESHOLD = "price_long_context_threshold_tokens"
LIFECYCLE = """CASE WHEN m.shutdown_date <= now() THEN 'retired'
                    WHEN m.deprecation_date IS NOT NULL OR m.shutdown_date IS NOT NULL THEN 'deprecated'
                    ELSE 'active' END"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _price_columns(names: tuple[str, ...]) -> list[sa.Column]:
    # check constraint names need only be unique per table; with the table's name they would pass 63 bytes
    return [sa.Column(n, sa.Numeric, sa.CheckConstraint(f"{n} >= 0", name=f"{n}_not_negative")) for n in names]


def _threshold() -> sa.Column:
    return sa.Column(THRESHOLD, sa.Integer, sa.CheckConstraint(f"{THRESHOLD} > 0", name=f"{THRESHOLD}_positive"))


def upgrade() -> None:
    for column in (*_price_columns(VARIANT_PRICES), _threshold()):
        op.add_column("models", column)
    op.add_column("models", sa.Column("price_source", sa.Text))
    op.add_column("models", sa.Column("price_confidence", sa.Text))
    op.add_column("models", sa.Column("price_source_version", sa.Text))
    op.add_column("models", sa.Column("price_checked_at", sa.Date))
    op.add_column("models", sa.Column("price_dispute", sa.Text))
    op.create_check_constraint("models_price_source_known", "models", _in("price_source", PRICE_SOURCES))
    op.create_check_constraint(
        "models_price_confidence_known", "models", _in("price_confidence", ("confirmed", "single", "disputed"))
    )
    op.execute(f"UPDATE models SET price_source = 'list_api' WHERE num_nonnulls({', '.join(BASE_PRICES)}) > 0")
    op.add_column("model_changes", sa.Column("source", sa.Text))

    op.create_table(
        "model_price_candidates",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("model_id", sa.BigInteger, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_model_id", sa.Text, nullable=False),
        sa.Column("match_rule", sa.Text, nullable=False),
        *_price_columns(BASE_PRICES + VARIANT_PRICES),
        _threshold(),
        sa.Column("source_version", sa.Text, nullable=False),
        sa.Column("checked_at", sa.Date),
        sa.Column("fetched_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=NOW),
        sa.Column("status", sa.Text),
        sa.Column("status_reason", sa.Text),
        sa.Column("detail", JSONB),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.UniqueConstraint("model_id", "source", name="model_price_candidates_model_source_unique"),
        sa.CheckConstraint(_in("source", REFERENCE_SOURCES), name="model_price_candidates_source_known"),
        sa.CheckConstraint(
            _in("status", ("stored", "agrees", "differs", "disputed")), name="model_price_candidates_status_known"
        ),
    )
    op.create_index("model_price_candidates_source", "model_price_candidates", ["source"])

    op.create_table(
        "operator_prices",
        sa.Column("provider_slug", sa.Text, nullable=False),
        sa.Column("provider_model_id", sa.Text, nullable=False),
        *_price_columns(BASE_PRICES + VARIANT_PRICES),
        _threshold(),
        sa.Column("note", sa.Text),
        sa.Column("updated_by", sa.Text),
        sa.Column("updated_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("provider_slug", "provider_model_id", name="operator_prices_pkey"),
    )

    op.create_table(
        "reference_runs",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("dag_id", sa.Text),
        sa.Column("dag_run_id", sa.Text),
        sa.Column("try_number", sa.Integer),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("started_at", sa.TIMESTAMP(timezone=True), nullable=False),
        sa.Column("finished_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=NOW),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("document_digest", sa.Text),
        sa.Column("source_version", sa.Text),
        sa.Column("matched", sa.Integer, nullable=False, server_default="0"),
        sa.Column("inserted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("deleted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("details", JSONB),
        sa.CheckConstraint(_in("status", ("success", "failed")), name="reference_runs_status_known"),
    )
    op.create_index("reference_runs_source_latest", "reference_runs", ["source", sa.text("id DESC")])

    op.execute(
        f"""
        CREATE OR REPLACE VIEW models_current AS
        {VIEW_0001_COLUMNS},
               m.{THRESHOLD}, {", ".join(f"m.{c}" for c in VARIANT_PRICES)},
               m.price_source, m.price_confidence, m.price_source_version, m.price_checked_at, m.price_dispute,
               {LIFECYCLE} AS lifecycle
        FROM models m JOIN providers p ON p.id = m.provider_id
        """
    )


def downgrade() -> None:
    op.execute("DROP VIEW models_current")
    op.execute(
        f"""
        CREATE VIEW models_current AS
        {VIEW_0001_COLUMNS}
        FROM models m JOIN providers p ON p.id = m.provider_id
        """
    )
    for table in ("reference_runs", "operator_prices", "model_price_candidates"):
        op.drop_table(table)
    op.drop_column("model_changes", "source")
    for column in ("price_source", "price_confidence", "price_source_version", "price_checked_at", "price_dispute",
                   THRESHOLD, *VARIANT_PRICES):
        op.drop_column("models", column)
