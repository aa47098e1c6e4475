"""A normalized model as the stage table's row: a COPY line waiting to be loaded, spooled out of memory.

Holding 22,000 normalized models as Python objects cost ~9 KB each; as a COPY line a model costs the size of
its data, and a listing's lines (several times the payload: the raw record travels with its columns) go to a
temporary file as they are made (`StagedListing`), so what stays in memory per model is its id and hash. A record
recognized as unchanged (its content hash equals the stored row's) is staged as its id and hash only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

from ..catalog.records import CAPABILITY_COLUMNS, NormalizedModel, dumps_json
from .copy_text import encode_row
from .model_sql import STAGE_COLUMNS

SPOOL_IN_MEMORY = 4 * 1024 * 1024
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


def copy_line(model: NormalizedModel) -> bytes:
    """The model's stage row as one COPY line."""
    return encode_row(row_values(model))


@dataclass(slots=True)
class StagedModel:
    """A model waiting to be loaded: its id, its hash, and the length of its COPY line in the listing's spool.

    `line_length` is None for a record recognized as unchanged (its hash equals the stored row's).
    """

    provider_model_id: str
    content_hash: str
    line_length: int | None

    def unchanged_line(self) -> bytes:
        return encode_row((self.provider_model_id,))[:-1] + _UNCHANGED_MIDDLE + self.content_hash.encode() + b"\n"


class StagedListing:
    """One listing's staged models in order: ids and hashes in memory, full COPY lines in a temporary file."""

    def __init__(self, spool_in_memory: int = SPOOL_IN_MEMORY):
        self.models: list[StagedModel] = []
        self._lines = tempfile.SpooledTemporaryFile(max_size=spool_in_memory)

    def add(self, model: NormalizedModel) -> None:
        line = copy_line(model)
        self._lines.write(line)
        self.models.append(StagedModel(model.provider_model_id, model.content_hash, len(line)))

    def add_unchanged(self, provider_model_id: str, content_hash: str) -> None:
        self.models.append(StagedModel(provider_model_id, content_hash, None))

    def __len__(self) -> int:
        return len(self.models)

    def rows(self) -> Iterator[tuple[StagedModel, bytes | None]]:
        """Each staged model with its COPY line (None for one staged as unchanged), in order."""
        self._lines.seek(0)
        read = self._lines.read
        for model in self.models:
            yield model, (None if model.line_length is None else read(model.line_length))

    def close(self) -> None:
        self._lines.close()

    def __enter__(self) -> StagedListing:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
