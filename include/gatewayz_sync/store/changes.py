"""What `model_changes` holds: its kinds, and every field a writer records with the type of its values.

`old_value` and `new_value` are text whatever the field: a price is NUMERIC text, a price source a word
(`genai-prices`), a date an ISO timestamp, a flag `true`/`false`. A reader that compares values picks the
fields of one type from here and never casts the columns blindly (one `price_source` row in a query that cast
every `price_changed` value to numeric once silenced every alert).

Writers: the model load (`model_sql.py`: tracked fields, `reappeared`, `added`, `removed`), the price resolver
(`prices.py`: price columns and `price_source`) and the provider sync (`providers.py`: `removed` / `provider`).
"""

from __future__ import annotations

import re

from ..catalog.meters import FLAT_COLUMNS, THRESHOLD_COLUMN, UNITS
from ..catalog.records import CAPABILITY_COLUMNS

ADDED, REMOVED, REAPPEARED = "added", "removed", "reappeared"
PRICE_CHANGED, LIMITS_CHANGED, CAPABILITIES_CHANGED, DEPRECATED = (
    "price_changed", "limits_changed", "capabilities_changed", "deprecated")
FIELD_REMOVED, PRICE_HELD = "field_removed", "price_held"
KINDS = (ADDED, REMOVED, REAPPEARED, PRICE_CHANGED, LIMITS_CHANGED, CAPABILITIES_CHANGED, DEPRECATED, FIELD_REMOVED,
         PRICE_HELD)

NUMERIC, INTEGER, TEXT, BOOLEAN, TIMESTAMP, TEXT_ARRAY = "numeric", "integer", "text", "boolean", "timestamp", "text[]"

LONG_CONTEXT_THRESHOLD = THRESHOLD_COLUMN
PRICE_FIELDS = tuple(column for column in FLAT_COLUMNS if column != LONG_CONTEXT_THRESHOLD)
# A price without a flat column is recorded under its slug (`input/character`, `input/token>256000`;
# catalog/meters.py `PriceKey.slug`): NUMERIC values, removable like a flat price.
PRICE_SLUG = f"^[a-z_]+/({'|'.join(UNITS)})([>;@[]|$)"
_PRICE_SLUG = re.compile(PRICE_SLUG)
LIMIT_FIELDS = ("context_length", "max_input_tokens", "max_output_tokens")
MODALITY_FIELDS = ("input_modalities", "output_modalities")
LIFECYCLE_FIELDS = ("deprecation_date", "shutdown_date")

FIELD_TYPES: dict[str, str] = {
    **dict.fromkeys(PRICE_FIELDS, NUMERIC),
    LONG_CONTEXT_THRESHOLD: INTEGER,
    "price_source": TEXT,
    "price_is_variable": BOOLEAN,
    **dict.fromkeys(LIMIT_FIELDS, INTEGER),
    **dict.fromkeys(MODALITY_FIELDS, TEXT_ARRAY),
    **dict.fromkeys(CAPABILITY_COLUMNS.values(), BOOLEAN),
    **dict.fromkeys(LIFECYCLE_FIELDS, TIMESTAMP),
    "replacement_model": TEXT,
    "missing_count": INTEGER,
    "is_active": BOOLEAN,
    "provider": TEXT,
}

# What a listing can take away from a model: a `field_removed` row when one goes from a value to NULL.
REMOVABLE_FIELDS = (*PRICE_FIELDS, *LIMIT_FIELDS, *MODALITY_FIELDS, *CAPABILITY_COLUMNS.values())


def fields_of_type(kind: str) -> tuple[str, ...]:
    return tuple(name for name, value_type in FIELD_TYPES.items() if value_type == kind)


def is_price_slug(field: str) -> bool:
    return bool(_PRICE_SLUG.match(field))


def change_kind(usual_kind: str, field: str, old_value, new_value) -> str:
    """The kind a change is recorded as: `field_removed` when a removable field (or a price slug) loses its value."""
    if (field in REMOVABLE_FIELDS or is_price_slug(field)) and old_value is not None and new_value is None:
        return FIELD_REMOVED
    return usual_kind
