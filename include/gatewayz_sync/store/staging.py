"""A normalized model as the stage table's row, sent to PostgreSQL by COPY as soon as it is made.

Holding 22,000 normalized models as Python objects cost ~9 KB each; instead each model's row goes straight into
the load's temp stage (`StagedListing`, psycopg's `write_row`, formatted in C), page by page, so PostgreSQL
stores one page's rows while the client parses and normalizes the next records, and what stays in memory per
model is its id and hash. A record recognized as unchanged (its content hash equals the stored row's) is staged
as its id and hash only.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

from psycopg.pq import TransactionStatus

from ..catalog.meters import PriceSheet
from ..catalog.records import CAPABILITY_COLUMNS, NormalizedModel, dumps_json
from .model_sql import DATA_COLUMNS, STAGE_COLUMNS

_UNCHANGED_MIDDLE = (None,) * (len(STAGE_COLUMNS) - 3)


def price_values(prices: PriceSheet) -> tuple:
    """The stage's columns of a price sheet: the flat price columns, the price source and the rows as JSON."""
    return (*prices.columns().values(), "list_api" if prices else None,
            dumps_json(prices.rows()).decode() if prices else None)


def raw_pricing_text(raw_pricing: dict | None) -> str | None:
    return None if raw_pricing is None else dumps_json(raw_pricing, sort_keys=True).decode()


def row_values(model: NormalizedModel, prices_of=price_values, raw_pricing_of=raw_pricing_text) -> tuple:
    """The stage table's columns for one model (see STAGE_COLUMNS), as Python values."""
    *price_columns, price_source, price_rows = prices_of(model.prices)
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
        *price_columns,
        price_source,
        model.price_is_variable,
        raw_pricing_of(model.raw_pricing),
        *map(model.capabilities.get, CAPABILITY_COLUMNS),
        model.is_free,
        model.deprecation_date,
        model.shutdown_date,
        model.replacement_model,
        model.raw_json.decode(),
        model.kind,
        model.alias_of,
        model.price_unknown_reason,
        dumps_json(model.field_sources()).decode(),
        price_rows,
        model.content_hash,
    )


class _ByIdentity:
    """A function's results for the objects it has seen, by identity: the models of a listing share one price
    sheet and one raw-pricing dict per distinct price list (`RecordNormalizer`), so each is encoded once. Holds
    each object it keys by, so an id is never reused while it is remembered."""

    def __init__(self, compute, limit: int = 4096):
        self._compute, self._limit = compute, limit
        self._seen: dict[int, tuple] = {}

    def __call__(self, value):
        seen = self._seen.get(id(value))
        if seen is None:
            if len(self._seen) >= self._limit:
                self._seen.clear()
            seen = self._seen[id(value)] = (value, self._compute(value))
        return seen[1]


@dataclass(slots=True)
class StagedModel:
    """A model staged for the load: its id, its hash, and whether its whole row was staged (False for a record
    recognized as unchanged, staged as its id and hash only)."""

    provider_model_id: str
    content_hash: str
    changed: bool

    def unchanged_row(self) -> tuple:
        return (self.provider_model_id, False, *_UNCHANGED_MIDDLE, self.content_hash)


CREATE_STAGE_SQL = (
    "CREATE TEMP TABLE stage_models AS "
    f"SELECT provider_model_id, true AS changed, {', '.join(DATA_COLUMNS)}, NULL::jsonb AS list_prices, "
    "false AS keeps_stored FROM models WITH NO DATA"
)


class StagedListing:
    """One listing's staged models in order: ids and hashes in memory, their rows in the session's temp table
    `stage_models`, sent by COPY as they are normalized, so PostgreSQL stores them while the next records parse.

    `connection` must be in autocommit mode: each page's COPY is a statement of its own that ends with the page
    (`end_page`), so no transaction stays open while the next page downloads; the load's transaction starts after
    the last page. The table lives until `close`.
    """

    def __init__(self, connection):
        self.models: list[StagedModel] = []
        self._connection = connection
        self._copy: ExitStack | None = None
        self._writer = None
        self._price_values = _ByIdentity(price_values)
        self._raw_pricing_text = _ByIdentity(raw_pricing_text)
        connection.execute("DROP TABLE IF EXISTS pg_temp.stage_models")
        connection.execute(CREATE_STAGE_SQL)
        connection.execute("ALTER TABLE stage_models ALTER COLUMN keeps_stored SET DEFAULT false")

    def add(self, model: NormalizedModel) -> None:
        self._copy_writer().write_row(row_values(model, self._price_values, self._raw_pricing_text))
        self.models.append(StagedModel(model.provider_model_id, model.content_hash, True))

    def add_unchanged(self, provider_model_id: str, content_hash: str) -> None:
        model = StagedModel(provider_model_id, content_hash, False)
        self._copy_writer().write_row(model.unchanged_row())
        self.models.append(model)

    def _copy_writer(self):
        """The page's COPY, opened by its first row; psycopg formats each row in C and sends 32 KB at a time."""
        if self._writer is None:
            self._copy = ExitStack()
            cursor = self._copy.enter_context(self._connection.cursor())
            self._writer = self._copy.enter_context(
                cursor.copy(f"COPY stage_models ({', '.join(STAGE_COLUMNS)}) FROM STDIN"))
        return self._writer

    def end_page(self) -> None:
        """End the page's COPY: returns once PostgreSQL has stored every row sent."""
        if self._copy is not None:
            copy, self._copy, self._writer = self._copy, None, None
            copy.close()

    def __len__(self) -> int:
        return len(self.models)

    def close(self) -> None:
        """Abandon a COPY still open (PostgreSQL discards its rows) and drop the stage."""
        if self._copy is not None:
            copy, self._copy, self._writer = self._copy, None, None
            copy.__exit__(StagingAbandoned, StagingAbandoned("the listing was not staged whole"), None)
        connection = self._connection
        if not connection.closed and connection.info.transaction_status == TransactionStatus.IDLE:
            connection.execute("DROP TABLE IF EXISTS pg_temp.stage_models")

    def __enter__(self) -> StagedListing:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class StagingAbandoned(Exception):
    """Ends a page's COPY that will not be completed: the listing failed before its last record."""
