"""A normalized model as the stage table's row: a compact COPY line waiting to be loaded.

Holding 22,000 normalized models as Python objects cost ~9 KB each; as a COPY line a model costs the size of
its data. A record recognized as unchanged (its content hash equals the stored row's) is staged as its id and
hash only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog.records import CAPABILITY_COLUMNS, NormalizedModel, dumps_json
from .copy_text import encode_row
from .model_sql import STAGE_COLUMNS

_UNCHANGED_MIDDLE = b"\tf\t" + b"\\N\t" * (len(STAGE_COLUMNS) - 3)


def row_values(model: NormalizedModel) -> tuple:
    """The stage table's columns for one model (see STAGE_COLUMNS), as Python values."""
    prices = model.prices
    return (
        model.provider_model_id,
        True,
        model.name,
        model.description,
        model.context_length,
        model.max_output_tokens,
        model.max_input_tokens,
        None if model.input_modalities is None else list(model.input_modalities),
        None if model.output_modalities is None else list(model.output_modalities),
        *prices.columns().values(),
        "list_api" if prices else None,
        model.price_is_variable,
        None if model.raw_pricing is None else dumps_json(model.raw_pricing, sort_keys=True).decode(),
        *(model.capabilities.get(name) for name in CAPABILITY_COLUMNS),
        model.is_free,
        model.deprecation_date,
        model.shutdown_date,
        model.replacement_model,
        model.raw_json.decode(),
        model.kind,
        model.alias_of,
        model.price_unknown_reason,
        dumps_json(model.field_sources()).decode(),
        dumps_json(prices.rows()).decode() if prices else None,
        model.content_hash,
    )


@dataclass(slots=True)
class StagedModel:
    """A model waiting to be loaded: its id, its hash and its full stage row as one COPY line.

    `copy_line` is None for a record recognized as unchanged (its hash equals the stored row's).
    """

    provider_model_id: str
    content_hash: str
    copy_line: bytes | None

    @classmethod
    def of(cls, model: NormalizedModel) -> StagedModel:
        return cls(model.provider_model_id, model.content_hash, encode_row(row_values(model)))

    @classmethod
    def unchanged(cls, provider_model_id: str, content_hash: str) -> StagedModel:
        return cls(provider_model_id, content_hash, None)

    def unchanged_line(self) -> bytes:
        return encode_row((self.provider_model_id,))[:-1] + _UNCHANGED_MIDDLE + self.content_hash.encode() + b"\n"
