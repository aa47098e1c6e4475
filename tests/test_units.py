"""Price units convert once, exactly, to USD per 1M tokens; unusable values are refused, never guessed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from include.gatewayz_sync.catalog.units import InvalidPrice, canonical, usd_each, usd_per_mtok
from include.gatewayz_sync.sources.specs import PriceUnit

D = Decimal


@pytest.mark.parametrize(
    ("raw", "unit", "expected"),
    [
        ("0.000003", PriceUnit.USD_PER_TOKEN, D("3")),  # OpenRouter: decimal strings per token
        ("0.00000045", PriceUnit.USD_PER_TOKEN, D("0.45")),
        ("0.0000000375", PriceUnit.USD_PER_TOKEN, D("0.0375")),
        (D("0.88"), PriceUnit.USD_PER_1M_TOKENS, D("0.88")),  # Together: per 1M
        (3900, PriceUnit.USD_0_0001_PER_1M_TOKENS, D("0.39")),  # Novita: 0.0001 USD per 1M
        (30000, PriceUnit.US_CENTS_PER_100M_TOKENS, D("3")),  # xAI: cents per 100M
        (150000, PriceUnit.US_CENTS_PER_100M_TOKENS, D("15")),
        (D("0.0015"), PriceUnit.USD_PER_1K_TOKENS, D("1.5")),  # per 1K x 1000
        (D("1.25"), PriceUnit.USD_PER_1K_TOKENS, D("1250")),
        ({"amount": 850, "scale": 9, "currency": "USD"}, PriceUnit.USD_SCALED_AMOUNT_PER_TOKEN, D("0.85")),
        ({"amount": D("1.05"), "scale": -6}, PriceUnit.USD_SCALED_AMOUNT_PER_TOKEN, D("1.05")),
        (0, PriceUnit.USD_PER_TOKEN, D("0")),
        ("0", PriceUnit.USD_PER_TOKEN, D("0")),
    ],
)
def test_pinned_conversions(raw, unit, expected):
    converted = usd_per_mtok(raw, unit)
    assert converted == expected
    assert str(converted) == str(expected)


def test_float_noise_from_binary_doubles_is_removed_but_exact_strings_are_kept():
    assert usd_per_mtok(D("2.5999999999999996"), PriceUnit.USD_PER_1M_TOKENS) == D("2.6")
    assert usd_per_mtok(D("0.010399999999999998"), PriceUnit.USD_PER_1M_TOKENS) == D("0.0104")
    assert usd_per_mtok("0.00000000012345678901234567", PriceUnit.USD_PER_TOKEN) == D("0.00012345678901234567")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", "price_not_numeric"),
        (None, "price_not_numeric"),
        (True, "price_not_numeric"),
        ("NaN", "price_not_numeric"),
        ("Infinity", "price_not_numeric"),
        ({"nested": 1}, "price_not_numeric"),
        (-5, "price_negative"),
        ("-0.000001", "price_negative"),
        ("0.5", "price_absurd"),  # $500,000 per 1M tokens: a misdeclared unit, not a price
    ],
)
def test_unusable_prices_are_refused_with_a_reason(raw, reason):
    with pytest.raises(InvalidPrice) as error:
        usd_per_mtok(raw, PriceUnit.USD_PER_TOKEN)
    assert error.value.reason == reason


def test_undeclared_unit_is_refused():
    with pytest.raises(InvalidPrice, match="price_unit_undeclared"):
        usd_per_mtok("1", PriceUnit.NONE)


def test_per_unit_prices_stay_in_usd():
    assert usd_each("0.04") == D("0.04")
    with pytest.raises(InvalidPrice):
        usd_each("-1")


def test_canonical_never_uses_exponent_notation():
    assert str(canonical(D("30.000"))) == "30"
    assert str(canonical(D("3E+1"))) == "30"
    assert str(canonical(D("0.4500000"))) == "0.45"
