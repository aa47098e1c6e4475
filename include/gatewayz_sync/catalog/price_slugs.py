"""A price's name in `model_changes.field` read back as its key: a flat column of `models` (`price_input_usd_per_mtok`)
or a price row's slug (`input/token>200000`, `output/token;batch`; `PriceKey.slug`)."""

from __future__ import annotations

import re

from .meters import BASE_COLUMNS, SERVICE_COLUMNS, PriceKey

COLUMN_KEYS = {column: key for key, column in (*BASE_COLUMNS.items(), *SERVICE_COLUMNS.items())}
_SLUG = re.compile(r"^(?P<meter>[a-z0-9_]+)/(?P<unit>[a-z]+)(?:>(?P<above>\d+))?(?:;(?P<tier>[a-z0-9_]+))?"
                   r"(?:@(?P<window>\d\d:\d\d-\d\d:\d\d))?(?:\[(?P<option>.*)\])?$")


def key_of_slug(slug: str) -> PriceKey | None:
    """The price key a `model_changes.field` slug names (`input/token>200000`, `output/token;batch`), or None."""
    match = _SLUG.match(slug)
    if match is None:
        return None
    try:
        return PriceKey(match["meter"], match["unit"], int(match["above"] or 0), match["tier"] or "standard",
                        match["window"] or "", match["option"] or "")
    except ValueError:
        return None


def key_of_field(name: str) -> PriceKey | None:
    """The price a change's field names, when the field alone says it (a flat base or service-tier column, a slug);
    a long-context column names the lowest tier, whose threshold is a field of its own."""
    if name in COLUMN_KEYS:
        return COLUMN_KEYS[name]
    return key_of_slug(name) if "/" in name else None
