"""What the publish exports about one model: every active model as the store reads it (`store/export_reads.py`), the
only shape the format modules see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ..catalog.meters import PriceKey, PriceSheet


@dataclass(frozen=True)
class ExportPrice:
    """One stored price row: its key, exact amount and where it came from."""

    key: PriceKey
    amount_usd: Decimal
    source: str | None
    source_model_id: str | None
    source_version: str | None
    checked_at: date | None


@dataclass(frozen=True)
class ExportModel:
    id: int
    provider: str
    provider_name: str
    model_id: str
    name: str
    description: str | None
    kind: str | None
    alias_of: str | None
    context_length: int | None
    max_output_tokens: int | None
    input_modalities: tuple[str, ...] | None
    output_modalities: tuple[str, ...] | None
    capabilities: dict[str, bool | None]
    deprecation_date: datetime | None
    shutdown_date: datetime | None
    lifecycle: str
    is_free: bool | None
    first_seen_at: datetime
    last_seen_at: datetime
    price_source: str | None
    price_confidence: str | None
    price_source_version: str | None
    price_checked_at: date | None
    price_dispute: str | None
    price_unknown_reason: str | None
    price_is_variable: bool
    price_held: str | None = None
    prices: tuple[ExportPrice, ...] = ()
    # field -> the source of its value (`list_api`, `operator`, a reference's name), and all of its provenance
    field_sources: dict[str, str] = field(default_factory=dict)
    field_provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_input_tokens: int | None = None
    replacement_model: str | None = None

    @property
    def public_id(self) -> str:
        """`provider/model`: one id across providers (the OpenRouter-style list's `id`)."""
        return f"{self.provider}/{self.model_id}"

    @property
    def sheet(self) -> PriceSheet:
        return PriceSheet({p.key: p.amount_usd for p in self.prices}, {p.key: p.source for p in self.prices if p.source})

    @property
    def is_priced(self) -> bool:
        return bool(self.prices)
