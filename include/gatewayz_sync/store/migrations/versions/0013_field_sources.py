"""Every routing field has a source: `models.field_sources`, `model_field_candidates`, `operator_fields`.

The routing fields (`catalog/routing.py`: context length, max input, max output, tool calling, vision, audio in and
out, reasoning, structured output, deprecation and shutdown dates) were kept only where a list API gave them.

- `models` gains `max_input_tokens` (the input limit where a source separates it from the window, which
  `context_length` is), `supports_audio_input`, `supports_audio_output`, and `field_sources`.
- `models.field_sources` (JSONB): field -> {source, source_version, source_model_id, checked_at, confidence} of
  each stored non-empty value, `source` being `list_api`, `operator` or a reference's name. A JSONB column on the
  row rather than a child table: it is the projection of a decision, read whole with the row it describes by every
  reader (`/models/{id}`, `/prices`, the publisher) and written in the same UPDATE as the values, so it can never
  name a source for a value that changed without it; the evidence, which is queried by field and status, is the
  child table below.
- `model_field_candidates`: each reference's value of each field of each model (one row per model, source and
  field), with the source's entry, version, document date (`as_of`), the date the source last updated the entry
  (`checked_at`), and its standing against the stored value (`status`: stored, agrees, differs, superseded,
  disputed; `status_reason` says the size of a difference: `256,000 against 288,000 (-11.1%)`), as
  `model_price_candidates` is for prices.
- `operator_fields`: an operator's value for any field of a model, named as `operator_prices` names it
  (`provider_slug`, `provider_model_id`); it wins over every source. Edited by hand; no sync writes it. `value` is
  JSON: a number of tokens, true/false, or an ISO date.
- Existing non-empty values all came from list APIs: their `field_sources` say so.

The `models_current` view is left as it is: readers that need the new columns join `models`.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# catalog/routing.py's fields as of this revision
FIELDS = (
    "context_length", "max_input_tokens", "max_output_tokens", "supports_tools", "supports_vision",
    "supports_audio_input", "supports_audio_output", "supports_reasoning", "supports_structured_output",
    "deprecation_date", "shutdown_date",
)
STATUSES = ("stored", "agrees", "differs", "superseded", "disputed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.add_column("models", sa.Column("max_input_tokens", sa.Integer))
    op.add_column("models", sa.Column("supports_audio_input", sa.Boolean))
    op.add_column("models", sa.Column("supports_audio_output", sa.Boolean))
    op.add_column("models", sa.Column("field_sources", JSONB))
    op.create_check_constraint("models_max_input_tokens_positive", "models", "max_input_tokens > 0")
    op.create_table(
        "model_field_candidates",
        sa.Column("model_id", sa.BigInteger, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("source_model_id", sa.Text),
        sa.Column("source_version", sa.Text),
        sa.Column("as_of", sa.Date),
        sa.Column("checked_at", sa.Date),
        sa.Column("status", sa.Text),
        sa.Column("status_reason", sa.Text),
        sa.Column("fetched_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("model_id", "source", "field", name="model_field_candidates_pkey"),
        sa.CheckConstraint(_in("field", FIELDS), name="model_field_candidates_field_known"),
        sa.CheckConstraint(f"status IS NULL OR {_in('status', STATUSES)}", name="model_field_candidates_status_known"),
    )
    op.create_index("model_field_candidates_source_field", "model_field_candidates", ["source", "field"])
    op.create_table(
        "operator_fields",
        sa.Column("provider_slug", sa.Text, nullable=False),
        sa.Column("provider_model_id", sa.Text, nullable=False),
        sa.Column("field", sa.Text, nullable=False),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("updated_by", sa.Text),
        sa.Column("updated_at", sa.TIMESTAMP(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("provider_slug", "provider_model_id", "field", name="operator_fields_pkey"),
        sa.CheckConstraint(_in("field", FIELDS), name="operator_fields_field_known"),
    )
    listed = ", ".join(f"'{f}', CASE WHEN {f} IS NOT NULL THEN '{{\"source\": \"list_api\"}}'::jsonb END"
                       for f in FIELDS if f not in ("max_input_tokens", "supports_audio_input", "supports_audio_output"))
    op.execute(f"UPDATE models SET field_sources = jsonb_strip_nulls(jsonb_build_object({listed}))")
    # the listings are read again so that the new columns are filled from them
    op.execute("UPDATE providers SET listing_digest = NULL, listing_validators = NULL")


def downgrade() -> None:
    op.drop_table("operator_fields")
    op.drop_table("model_field_candidates")
    op.drop_constraint("models_max_input_tokens_positive", "models", type_="check")
    for column in ("field_sources", "supports_audio_output", "supports_audio_input", "max_input_tokens"):
        op.drop_column("models", column)
