"""Precedence (operator > list API > reference), the unit-error guard, recency and confidence, on plain price sheets."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from include.gatewayz_sync.catalog.meters import PriceKey, PriceSheet
from include.gatewayz_sync.prices.price_set import agrees, unit_error
from include.gatewayz_sync.prices.resolve import Candidate, resolve, sibling_outlier

D = Decimal
ORDER = ("genai-prices", "models.dev", "litellm", "openrouter")


def p(i: str, o: str, **more: str) -> PriceSheet:
    return PriceSheet({PriceKey("input"): D(i), PriceKey("output"): D(o), **{PriceKey(k): D(v) for k, v in more.items()}})


def c(source: str, prices: PriceSheet, **dates) -> Candidate:
    return Candidate(source, prices, f"{source}@v1", reseller=source == "openrouter", **dates)


def test_agreement_is_within_one_percent_on_input_and_output():
    assert agrees(p("2.5", "10"), p("2.52", "10.05"))
    assert not agrees(p("2.5", "10"), p("2.6", "10"))
    only_in = PriceSheet({PriceKey("input"): D(1)})
    only_out = PriceSheet({PriceKey("output"): D(1)})
    assert not agrees(only_in, only_out), "nothing in common to agree on"


def test_a_unit_error_is_ten_times_or_more_on_any_comparable_price():
    assert unit_error(p("0.3", "2.5"), p("0.3", "30")) == (D(12), PriceKey("output"))
    assert unit_error(p("1", "1", cache_read="0.1"), p("1", "1", cache_read="1")) == (D(10), PriceKey("cache_read"))
    assert unit_error(p("1", "9.99"), p("1", "1")) is None
    per_character = PriceSheet({PriceKey("input", "character"): D(65)})
    assert unit_error(per_character, p("0.065", "1")) is None, "a per-character price never compares with a per-token one"


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


def test_disagreeing_references_of_comparable_age_fall_back_to_the_declared_order():
    result = resolve([c("litellm", p("1", "2")), c("models.dev", p("1.5", "3"))], order=ORDER)
    assert (result.source, result.confidence) == ("models.dev", "preferred")
    assert result.candidate_status == {"litellm": ("differs", None), "models.dev": ("stored", None)}
    alone = resolve([c("litellm", p("1", "2"))], order=ORDER)
    assert (alone.source, alone.confidence, alone.source_version) == ("litellm", "single", "litellm@v1")


def test_two_agreeing_references_of_comparable_age_outvote_the_preferred_one():
    result = resolve([c("genai-prices", p("1.5", "7.5")), c("models.dev", p("0.4", "2")), c("litellm", p("0.4", "2"))],
                     order=ORDER)
    assert (result.source, result.prices, result.confidence) == ("models.dev", p("0.4", "2"), "majority")
    assert result.candidate_status["genai-prices"] == ("differs", None)
    assert result.candidate_status["litellm"] == ("agrees", None)


def test_dated_evidence_beats_an_older_majority():
    """mistral-medium-latest (table row 5): genai-prices dates 1.5 / 7.5 after the other two documents were made;
    their older agreement does not count."""
    genai = c("genai-prices", p("1.5", "7.5"), checked_at=date(2026, 4, 29), as_of=date(2026, 11, 10))
    models_dev = c("models.dev", p("0.4", "2"), checked_at=date(2025, 8, 12), as_of=date(2026, 2, 1))
    litellm = c("litellm", p("0.4", "2"), as_of=date(2026, 2, 21))
    result = resolve([models_dev, litellm, genai], order=ORDER)
    assert (result.source, result.prices, result.confidence) == ("genai-prices", p("1.5", "7.5"), "newest")
    assert result.candidate_status["litellm"][0] == "superseded"
    assert "2026-04-29" in result.candidate_status["models.dev"][1]


def test_undated_evidence_never_supersedes_and_a_document_newer_than_a_dated_price_is_comparable():
    models_dev = c("models.dev", p("0.3", "0.9"), checked_at=date(2025, 1, 4), as_of=date(2026, 7, 2))
    litellm = c("litellm", p("1", "3"), as_of=date(2026, 2, 21))
    result = resolve([models_dev, litellm], order=ORDER)
    assert (result.source, result.confidence) == ("models.dev", "preferred")
    assert result.candidate_status["litellm"] == ("differs", None)


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
    assert (result.source, result.confidence) == ("models.dev", "preferred")


def test_a_mislabelled_meter_accuses_the_source_that_mislabels_it():
    """models.dev files Gemini's image-output token price under `output`: genai-prices, which has both, is stored."""
    genai = PriceSheet({PriceKey("input"): D("0.5"), PriceKey("output"): D("3"), PriceKey("output_image"): D("60")})
    result = resolve([c("genai-prices", genai), c("models.dev", p("0.5", "60"))], order=ORDER)
    assert (result.source, result.prices, result.confidence) == ("genai-prices", genai, "disputed")
    status, reason = result.candidate_status["models.dev"]
    assert status == "disputed" and "output_image price under output" in reason


def test_agreeing_sources_add_the_meters_the_stored_one_lacks_each_with_its_source():
    tiered = p("3", "15", cache_read="0.3")
    tiered = tiered.merged(PriceSheet({PriceKey("input", above_input_tokens=200000): D(6)}), "x")
    result = resolve([c("models.dev", p("3", "15")), c("litellm", tiered)], order=ORDER)
    assert result.source == "models.dev" and result.confidence == "confirmed"
    assert result.prices[PriceKey("input", above_input_tokens=200000)] == D(6)
    assert result.prices.source_of(PriceKey("input", above_input_tokens=200000)) == "litellm"
    assert result.prices.source_of(PriceKey("input")) == "models.dev"


def test_a_reseller_prices_alone_cross_checks_otherwise_and_never_disputes():
    alone = resolve([c("openrouter", p("0.26", "0.78"))], order=ORDER)
    assert (alone.source, alone.confidence) == ("openrouter", "reseller")
    with_first_party = resolve([c("models.dev", p("0.4", "1.2")), c("openrouter", p("0.26", "0.78"))], order=ORDER)
    assert (with_first_party.source, with_first_party.confidence) == ("models.dev", "single")
    status, reason = with_first_party.candidate_status["openrouter"]
    assert status == "differs" and "0.65x" in reason and "not averaged" in reason
    far = resolve([c("models.dev", p("0.7", "2.8")), c("openrouter", p("0.08", "0.28"))], order=ORDER)
    assert (far.source, far.confidence) == ("models.dev", "single"), "another host's price is no unit error of ours"
    assert far.candidate_status["openrouter"][0] == "differs"


def test_a_resellers_price_for_an_open_weight_model_is_shown_never_stored():
    """OpenRouter's price for an open-weight model is another host's as often as the author's (`docs/prices.md`):
    alone it stores nothing and says why; beside a first party's price it is compared, as any reseller's."""
    why = "open-weight model (Qwen/Qwen3-30B-A3B-Instruct-2507); OpenRouter's price is a third-party host's"
    open_weights = Candidate("openrouter", p("0.04815", "0.19305"), "openrouter@v1", reseller=True, no_price=why)
    alone = resolve([open_weights], order=ORDER)
    assert (alone.prices, alone.source, alone.confidence, alone.dispute) == (None, None, None, None)
    assert alone.candidate_status["openrouter"] == ("differs", why)
    beside = resolve([c("models.dev", p("0.7", "2.8")), replace(open_weights, prices=p("0.08", "0.28"))], order=ORDER)
    assert (beside.source, beside.confidence) == ("models.dev", "single")
    status, reason = beside.candidate_status["openrouter"]
    assert status == "differs" and "(0.10x): open-weight model (Qwen/" in reason and "not averaged" in reason
    same = resolve([c("genai-prices", p("0.1", "0.1")), replace(open_weights, prices=p("0.1", "0.1"))], order=ORDER)
    assert (same.confidence, same.candidate_status["openrouter"]) == ("single", ("agrees", None)), (
        "Mistral's open-weight ministral-3b-2512: the author is OpenRouter's host there, and nothing says so")


def test_a_single_price_ten_times_from_every_sibling_is_an_outlier():
    embed = PriceSheet({PriceKey("input"): D("100")})
    siblings = [(name, PriceSheet({PriceKey("input"): D(v)})) for name, v in (("a", "0.1"), ("b", "0.12"))]
    assert "1000x" in sibling_outlier(embed, siblings)
    assert sibling_outlier(embed, siblings[:1]) is None, "with one sibling there is no telling which is odd"
    assert sibling_outlier(PriceSheet({PriceKey("input"): D("0.5")}), siblings) is None


def test_no_price_anywhere_stores_nothing_without_a_flag():
    result = resolve([], order=ORDER)
    assert (result.prices, result.source, result.confidence, result.dispute) == (None, None, None, None)


def _sibling_outliers_model_by_model(sheets, judged, what, ratio):
    """The definition `sibling_outliers` implements: a name is refused when no other model within `ratio` on its
    anchor price agrees with it and `sibling_outlier` against every other model refuses it."""
    from include.gatewayz_sync.prices.price_set import gap_rank, widest_gap

    refused = {}
    for name in judged:
        sheet = sheets[name]
        anchor = next((key for key in sorted(sheet, key=gap_rank) if sheet[key] > 0), None)
        if anchor is None:
            continue
        amount = sheet[anchor]
        near = [other for other, s in sheets.items() if other != name and s.get(anchor, D(0)) > 0
                and amount / ratio < s[anchor] < amount * ratio]
        if any((gap := widest_gap(sheet, sheets[other])) is None or gap[0] < ratio for other in near):
            continue
        reason = sibling_outlier(sheet, [(other, s) for other, s in sheets.items() if other != name], what, ratio)
        if reason is not None:
            refused[name] = reason
    return refused


def test_sibling_outliers_over_shared_sheets_judges_every_model_as_alone():
    """A listing's models share one sheet object per distinct price list; the result is the model-by-model one,
    whether a price list is held by one model, by several through one object, or by equal copies."""
    import random

    from include.gatewayz_sync.prices.resolve import sibling_outliers

    rng = random.Random(23)
    amounts = ["0", "0.1", "0.5", "1", "2", "10", "50", "100", "1000"]
    lists = [p(rng.choice(amounts), rng.choice(amounts), **({"cache_read": rng.choice(amounts)} if rng.random() < .3
                                                            else {})) for _ in range(40)]
    for trial in range(30):
        sheets = {}
        for index in range(rng.randint(1, 60)):
            shared = rng.choice(lists)
            sheets[f"m{index:02d}"] = shared if rng.random() < .7 else PriceSheet(dict(shared.items()))
        judged = sorted(rng.sample(sorted(sheets), rng.randint(0, len(sheets))))
        for ratio in (D(10), D(100)):
            assert sibling_outliers(sheets, judged, "listed", ratio) == _sibling_outliers_model_by_model(
                sheets, judged, "listed", ratio), (trial, ratio)
