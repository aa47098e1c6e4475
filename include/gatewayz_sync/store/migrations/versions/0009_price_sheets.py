"""A price is a row: `model_prices`, one row per price a model is billed by, each in its own unit and condition.

Why a child table, and why the flat `models.price_*` columns stay:

- A model has as many prices as its provider has meters: input, output, cache reads and writes, audio and image
  tokens, web searches, requests, characters (text-to-speech), minutes (transcription), megapixels (images),
  each possibly in long-context tiers, service tiers (batch, flex, priority) and daily time windows (DeepSeek's
  peak hours). Columns cannot hold that without dropping some, and every dropped meter is a bill that is wrong.
  `model_prices` holds every one: `(model_id, meter, unit, above_input_tokens, service_tier, time_window,
  option)` is unique; `amount_usd` is USD per `per_units` units (1,000,000 for tokens and characters, 1 for
  every other unit); `source`, `source_model_id` (the source's entry), `source_version` and `checked_at` say
  where each price comes from.
- The flat columns of `models` are kept, written by the same writer in the same transaction as a projection of
  the rows (base token prices, per request / input image / web search, the lowest long-context tier, batch and
  flex input/output). They are not a view over `model_prices` because the model sync's diff, its change rows,
  the browser's filters and sorts (indexed), the alerts' digest, the monitoring queries in the README and every
  existing reader read them from `models`; a pivot view would have to be joined into each of those and could not
  carry their indexes. A price that has no flat column (a tier above the lowest, a per-character or per-minute
  price, a time window) exists only in `model_prices`, and a price that is not per token never lands in a
  per-token column.
- `model_prices_current` joins the rows to the provider and model id for readers and exports.

Also:

- `models.kind` (chat, embedding, rerank, moderation, image, video, tts, stt, audio, ocr; `catalog/kinds.py`),
  `models.alias_of` (the id this one stands for, where the provider's listing declares aliases: one model, one
  price, one set of limits), `models.price_unknown_reason` (why an active model has no price, in words).
- A listed 0 is not a price unless the model is an explicit free variant: zero flat prices of models that are
  not `is_free` become NULL here, and `is_free` is false wherever a price above 0 is stored.
- Confidence names the rule that decided: `confirmed`, `single`, `newest`, `majority`, `preferred`, `reseller`,
  `disputed`. Candidates gain `meters` (every price of the source's entry, exact strings), `as_of` (the date
  of the document the value was read from), `unread` (price fields of the entry that were not understood), the
  status `superseded` and the source `openrouter` (OpenRouter's own listing, for first-party models).
- Every provider's listing digest and validators are cleared so the next model sync re-normalizes every model
  (normalizer version 3) instead of confirming an unchanged listing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UNITS = ("token", "character", "second", "minute", "hour", "image", "megapixel", "page", "request")
CONFIDENCES = ("confirmed", "single", "newest", "majority", "preferred", "reseller", "disputed")
OLD_CONFIDENCES = ("confirmed", "single", "disputed")
PRICE_SOURCES = ("list_api", "operator", "genai-prices", "models.dev", "litellm", "openrouter")
OLD_PRICE_SOURCES = ("list_api", "operator", "genai-prices", "models.dev", "litellm")
# `list_api`: a list-API price the model sync's jump guard holds (migration 0008)
CANDIDATE_SOURCES = ("genai-prices", "models.dev", "litellm", "openrouter", "list_api")
OLD_CANDIDATE_SOURCES = ("genai-prices", "models.dev", "litellm", "list_api")
STATUSES = ("stored", "agrees", "differs", "disputed", "superseded")
OLD_STATUSES = ("stored", "agrees", "differs", "disputed")
# (meter, unit, above, service tier, flat column): the rows the flat columns stand for (backfill)
FLAT = (
    ("input", "token", 0, "standard", "price_input_usd_per_mtok"),
    ("output", "token", 0, "standard", "price_output_usd_per_mtok"),
    ("cache_read", "token", 0, "standard", "price_cache_read_usd_per_mtok"),
    ("cache_write", "token", 0, "standard", "price_cache_write_usd_per_mtok"),
    ("reasoning", "token", 0, "standard", "price_reasoning_usd_per_mtok"),
    ("request", "request", 0, "standard", "price_request_usd"),
    ("input_image", "image", 0, "standard", "price_image_usd"),
    ("web_search", "request", 0, "standard", "price_web_search_usd"),
    ("input", "token", 0, "batch", "price_input_batch_usd_per_mtok"),
    ("output", "token", 0, "batch", "price_output_batch_usd_per_mtok"),
    ("input", "token", 0, "flex", "price_input_flex_usd_per_mtok"),
    ("output", "token", 0, "flex", "price_output_flex_usd_per_mtok"),
    ("input", "token", None, "standard", "price_input_long_context_usd_per_mtok"),
    ("output", "token", None, "standard", "price_output_long_context_usd_per_mtok"),
    ("cache_read", "token", None, "standard", "price_cache_read_long_context_usd_per_mtok"),
)
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
       CASE WHEN m.shutdown_date <= catalog_now() THEN 'retired'
            WHEN m.deprecation_date IS NOT NULL OR m.shutdown_date IS NOT NULL THEN 'deprecated'
            ELSE 'active' END AS lifecycle{extra}
FROM models m JOIN providers p ON p.id = m.provider_id"""
PRICES_VIEW = """CREATE VIEW model_prices_current AS
SELECT mp.id, mp.model_id, p.slug AS provider_slug, m.provider_model_id, m.is_active, m.kind, m.alias_of,
       mp.meter, mp.unit, mp.per_units, mp.above_input_tokens, mp.service_tier, mp.time_window, mp.option,
       mp.amount_usd, mp.source, mp.source_model_id, mp.source_version, mp.checked_at, mp.updated_at
FROM model_prices mp JOIN models m ON m.id = mp.model_id JOIN providers p ON p.id = m.provider_id"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(name: str, table: str, condition: str) -> None:
    op.drop_constraint(name, table, type_="check")
    op.create_check_constraint(name, table, condition)


def upgrade() -> None:
    op.add_column("models", sa.Column("kind", sa.Text))
    op.add_column("models", sa.Column("alias_of", sa.Text))
    op.add_column("models", sa.Column("price_unknown_reason", sa.Text))
    _replace_check("models_price_confidence_known", "models", _in("price_confidence", CONFIDENCES))
    _replace_check("models_price_source_known", "models", _in("price_source", PRICE_SOURCES))

    op.add_column("model_price_candidates", sa.Column("meters", JSONB))
    op.add_column("model_price_candidates", sa.Column("as_of", sa.Date))
    op.add_column("model_price_candidates", sa.Column("unread", JSONB))
    _replace_check("model_price_candidates_source_known", "model_price_candidates", _in("source", CANDIDATE_SOURCES))
    _replace_check("model_price_candidates_status_known", "model_price_candidates", _in("status", STATUSES))

    op.create_table(
        "model_prices",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("model_id", sa.BigInteger, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("meter", sa.Text, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("above_input_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("service_tier", sa.Text, nullable=False, server_default="standard"),
        sa.Column("time_window", sa.Text, nullable=False, server_default=""),
        sa.Column("option", sa.Text, nullable=False, server_default=""),
        sa.Column("amount_usd", sa.Numeric, nullable=False),
        sa.Column("per_units", sa.Integer, sa.Computed("CASE WHEN unit IN ('token', 'character') THEN 1000000 ELSE 1 END",
                                                      persisted=True), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_model_id", sa.Text),
        sa.Column("source_version", sa.Text),
        sa.Column("checked_at", sa.Date),
        sa.Column("updated_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.UniqueConstraint("model_id", "meter", "unit", "above_input_tokens", "service_tier", "time_window", "option",
                            name="model_prices_key"),
        sa.CheckConstraint(_in("unit", UNITS), name="model_prices_unit_known"),
        sa.CheckConstraint(_in("source", PRICE_SOURCES), name="model_prices_source_known"),
        sa.CheckConstraint("amount_usd >= 0", name="model_prices_amount_not_negative"),
        sa.CheckConstraint("above_input_tokens >= 0", name="model_prices_threshold_not_negative"),
        sa.CheckConstraint("time_window = '' OR time_window ~ '^[0-2][0-9]:[0-5][0-9]-[0-2][0-9]:[0-5][0-9]$'",
                           name="model_prices_window_format"),
    )
    op.create_index("model_prices_source", "model_prices", ["source"])

    zero_prices = " OR ".join(f"{column} = 0" for *_, column in FLAT)
    op.execute(f"""UPDATE models SET {", ".join(f"{c} = NULLIF({c}, 0)" for *_, c in FLAT)}
                   WHERE is_free IS NOT TRUE AND ({zero_prices})""")
    for meter, unit, above, tier, column in FLAT:
        threshold = "m.price_long_context_threshold_tokens" if above is None else str(above)
        op.execute(
            f"""INSERT INTO model_prices (model_id, meter, unit, above_input_tokens, service_tier, amount_usd, source,
                                          source_version, checked_at)
                SELECT m.id, '{meter}', '{unit}', {threshold}, '{tier}', m.{column}, m.price_source,
                       m.price_source_version, m.price_checked_at
                FROM models m WHERE m.{column} IS NOT NULL AND m.price_source IS NOT NULL
                  AND {threshold} IS NOT NULL"""
        )
    op.execute("""UPDATE models m SET is_free = false
                  WHERE m.is_free IS NULL AND EXISTS (SELECT 1 FROM model_prices p WHERE p.model_id = m.id
                                                      AND p.amount_usd > 0)""")
    op.execute("""UPDATE models m SET price_source = NULL, price_confidence = NULL,
                         price_unknown_reason = 'only zero prices were stored; a listed 0 is not a price'
                  WHERE m.price_source IS NOT NULL AND m.is_free IS NOT TRUE
                    AND NOT EXISTS (SELECT 1 FROM model_prices p WHERE p.model_id = m.id)""")
    op.execute("UPDATE providers SET listing_digest = NULL, listing_validators = NULL")
    op.execute(VIEW.format(extra=",\n       m.kind, m.alias_of, m.price_unknown_reason"))
    op.execute(PRICES_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW model_prices_current")
    op.execute("DROP VIEW models_current")
    op.execute(VIEW.format(extra="").replace("CREATE OR REPLACE VIEW", "CREATE VIEW"))
    op.drop_table("model_prices")
    op.execute("UPDATE models SET price_confidence = 'single' WHERE price_confidence NOT IN ('confirmed', 'disputed')")
    op.execute(f"UPDATE models SET price_source = NULL WHERE NOT {_in('price_source', OLD_PRICE_SOURCES)}")
    op.execute(f"DELETE FROM model_price_candidates WHERE NOT {_in('source', OLD_CANDIDATE_SOURCES)}")
    op.execute("UPDATE model_price_candidates SET status = 'differs' WHERE status = 'superseded'")
    _replace_check("model_price_candidates_status_known", "model_price_candidates", _in("status", OLD_STATUSES))
    _replace_check("model_price_candidates_source_known", "model_price_candidates", _in("source", OLD_CANDIDATE_SOURCES))
    for column in ("unread", "as_of", "meters"):
        op.drop_column("model_price_candidates", column)
    _replace_check("models_price_source_known", "models", _in("price_source", OLD_PRICE_SOURCES))
    _replace_check("models_price_confidence_known", "models", _in("price_confidence", OLD_CONFIDENCES))
    for column in ("price_unknown_reason", "alias_of", "kind"):
        op.drop_column("models", column)
