"""The browser's query parameters: a blank form field means any, an unknown value is a 400 naming the accepted ones."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi import HTTPException
from starlette.datastructures import QueryParams

from include.gatewayz_sync.store.catalog_reads import ModelQuery
from include.gatewayz_sync.web.browse import model_query

SLUGS = {"openrouter", "xai"}


def test_a_submitted_form_with_blank_fields_is_the_default_listing():
    blank = ("q=&provider=&price_field=input&price_min=&price_max=&price_source=&lifecycle=&retiring_within=&sort=model"
             "&per_page=50")
    assert model_query(QueryParams(blank), SLUGS) == ModelQuery()


def test_every_filter_is_read():
    query = model_query(QueryParams(
        "q=+llama+&provider=xai&capability=tools&capability=vision&capability=tools&price_field=output&price_min=0.5"
        "&price_max=10&price_source=genai-prices&price_confidence=confirmed&lifecycle=deprecated&retiring_within=30"
        "&include_removed=1"
        "&sort=-context&per_page=25&page=3"
    ), SLUGS)
    assert query == ModelQuery(
        provider="xai", capabilities=("tools", "vision"), price_field="output", price_min=Decimal("0.5"),
        price_max=Decimal("10"), price_source="genai-prices", price_confidence="confirmed", lifecycle="deprecated",
        retiring_within=30, search="llama", include_removed=True, sort="-context", page=3, per_page=25,
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("provider=nope", "provider must be one of openrouter, xai; got 'nope'"),
        ("capability=telepathy", "capability must be among tools, vision, reasoning, structured_output"),
        ("price_min=-1", "price_min must be a price of zero or more"),
        ("price_max=cheap", "price_max must be a price of zero or more"),
        ("price_min=NaN", "price_min must be a price of zero or more"),
        ("sort=name;DROP", "sort must be one of model, price, -price, context, -context"),
        ("lifecycle=zombie", "lifecycle must be one of active, deprecated, retired, removed"),
        ("retiring_within=0", "retiring_within must be a whole number of days from 1 to 3650"),
        ("retiring_within=-7", "retiring_within must be a whole number of days from 1 to 3650"),
        ("price_source=guess", "price_source must be one of list_api, operator, genai-prices, models.dev, litellm, openrouter, none"),
        ("page=0", "page must be a whole number from 1"),
        ("per_page=100000", "per_page must be one of 25, 50, 100, 200"),
    ],
)
def test_unknown_values_are_refused_with_the_accepted_ones(params, message):
    with pytest.raises(HTTPException) as refused:
        model_query(QueryParams(params), SLUGS)
    assert refused.value.status_code == 400 and message in refused.value.detail
