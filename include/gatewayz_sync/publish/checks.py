"""The billing checks a model must pass to be published in a format that bills calls (the LiteLLM map, the
OpenRouter-style list): a tool that reads those prices charges with them, so a wrong price would spread.

A model that fails is left out of those formats (LiteLLM's own entry stays as it was) and named in the manifest
with the reason; it still appears in `catalog.json`, which carries the reasons and the sources with it. A model
with no price at all is not a failure: it is simply not priced there.
"""

from __future__ import annotations

from ..catalog.meters import METER_UNITS
from .records import ExportModel


def billing_problem(model: ExportModel) -> str | None:
    """Why this model's stored prices must not be billed by, or None."""
    if model.price_confidence == "disputed":
        detail = f": {model.price_dispute}" if model.price_dispute else ""
        return f"disputed price{detail}"
    if model.price_held:
        return f"disputed price: the provider's listing moved it 10x or more and the jump is held ({model.price_held})"
    zero = [price.key.slug() for price in model.prices if price.amount_usd == 0]
    if zero and model.is_free is not True:
        return f"$0 price on a model that is not free ({', '.join(zero)})"
    wrong = [price.key.slug() for price in model.prices
             if price.key.unit not in METER_UNITS.get(price.key.meter, ("token",))]
    if wrong:
        return f"price in a wrong unit for its meter ({', '.join(wrong)})"
    return None
