"""Precedence (operator > list API > reference), the unit-error guard and confidence, on plain price sets."""

from __future__ import annotations

from decimal import Decimal

from include.gatewayz_sync.prices.price_set import PriceSet, agrees, unit_error
from include.gatewayz_sync.prices.resolve import Candidate, resolve

D = Decimal
ORDER = ("genai-prices", "models.dev", "litellm")


def p(i: str, o: str, **more) -> PriceSet:
    return PriceSet(input=D(i), output=D(o), **{k: D(v) for k, v in more.items()})


def c(source: str, prices: PriceSet) -> Candidate:
    return Candidate(source, prices, f"{source}@v1")


def test_agreement_is_within_one_percent_on_input_and_output():
    assert agrees(p("2.5", "10"), p("2.52", "10.05"))
    assert not agrees(p("2.5", "10"), p("2.6", "10"))
    assert not agrees(PriceSet(input=D(1)), PriceSet(output=D(1))), "nothing in common to agree on"


def test_a_unit_error_is_ten_times_or_more_on_any_comparable_price():
    assert unit_error(p("0.3", "2.5"), p("0.3", "30")) == (D(12), "output")
    assert unit_error(p("1", "1", cache_read="0.1"), p("1", "1", cache_read="1")) == (D(10), "cache_read")
    assert unit_error(p("1", "9.99"), p("1", "1")) is None
    assert unit_error(p("0.1", "0"), p("0.1", "0.1")) is None, "a zero next to a price measures no unit error"


def test_operator_price_comes_first():
    result = resolve([c("models.dev", p("2.5", "10"))], list_api=p("3", "12"), operator=p("2", "8"),
                     operator_version="operator_prices (ops, 2026-11-27 00:00 UTC)", order=ORDER)
    assert (result.prices, result.source, result.source_version) == (
        p("2", "8"), "operator", "operator_prices (ops, 2026-11-27 00:00 UTC)")
    assert result.candidate_status["models.dev"][0] == "differs"


def test_a_reference_never_replaces_a_list_api_price():
    result = resolve([c("genai-prices", p("2.5", "10")), c("litellm", p("2.5", "10"))], list_api=p("3", "12"),
                     order=ORDER)
    assert (result.prices, result.source, result.confidence) == (p("3", "12"), "list_api", "single")


def test_a_list_api_price_a_reference_agrees_with_is_confirmed():
    result = resolve([c("models.dev", p("0.59", "0.79"))], list_api=p("0.59", "0.79"), order=ORDER)
    assert (result.source, result.confidence) == ("list_api", "confirmed")
    assert result.candidate_status == {"models.dev": ("agrees", None)}


def test_a_candidate_ten_times_from_the_list_api_price_is_kept_disputed_and_flags_the_model():
    result = resolve([c("litellm", p("590", "790"))], list_api=p("0.59", "0.79"), order=ORDER)
    assert (result.prices, result.source, result.confidence) == (p("0.59", "0.79"), "list_api", "disputed")
    status, reason = result.candidate_status["litellm"]
    assert status == "disputed" and "1000x away from the stored list_api price" in reason
    assert result.dispute.startswith("litellm: ")


def test_references_only_first_source_in_order_when_alone_or_all_disagreeing():
    result = resolve([c("litellm", p("1", "2")), c("models.dev", p("1.5", "3"))], order=ORDER)
    assert (result.source, result.confidence) == ("models.dev", "single")
    assert result.candidate_status == {"litellm": ("differs", None), "models.dev": ("stored", None)}
    alone = resolve([c("litellm", p("1", "2"))], order=ORDER)
    assert (alone.source, alone.confidence, alone.source_version) == ("litellm", "single", "litellm@v1")


def test_two_agreeing_references_win_over_the_preferred_one_and_confirm_each_other():
    result = resolve([c("genai-prices", p("1.5", "7.5")), c("models.dev", p("0.4", "2")), c("litellm", p("0.4", "2"))],
                     order=ORDER)
    assert (result.source, result.prices, result.confidence) == ("models.dev", p("0.4", "2"), "confirmed")
    assert result.candidate_status["genai-prices"] == ("differs", None)
    assert result.candidate_status["litellm"] == ("agrees", None)


def test_guard_two_references_ten_times_apart_store_neither():
    result = resolve([c("genai-prices", p("0.3", "2.5")), c("models.dev", p("0.3", "30"))], order=ORDER)
    assert (result.prices, result.source, result.confidence) == (None, None, "disputed")
    assert {status for status, _ in result.candidate_status.values()} == {"disputed"}
    assert "output 12.0x away from models.dev" in result.candidate_status["genai-prices"][1]


def test_guard_an_outlier_is_never_stored_even_from_the_preferred_source():
    result = resolve([c("genai-prices", p("2", "120")), c("models.dev", p("2", "12")), c("litellm", p("2", "12"))],
                     order=ORDER)
    assert (result.source, result.prices, result.confidence) == ("models.dev", p("2", "12"), "disputed")
    assert result.candidate_status["genai-prices"][0] == "disputed"
    assert result.candidate_status["litellm"] == ("agrees", None)


def test_guard_prefers_the_candidate_nobody_calls_a_unit_error():
    # A is 10x from C, B is within 10x of both: B is stored, and nothing stored is 10x from a candidate
    result = resolve([c("genai-prices", p("1", "1")), c("models.dev", p("3", "3")), c("litellm", p("10", "10"))],
                     order=ORDER)
    assert (result.source, result.confidence) == ("models.dev", "single")


def test_no_price_anywhere_stores_nothing_without_a_flag():
    result = resolve([], order=ORDER)
    assert (result.prices, result.source, result.confidence, result.dispute) == (None, None, None, None)
