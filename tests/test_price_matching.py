"""Reference documents and id matching: each reader converts exactly, each matching rule fires where it should and
nowhere else (synthetic documents in each source's real shape), and the bundled snapshots read as recorded."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, time
from decimal import Decimal

import pytest
from genai_prices import types as gp

from include.gatewayz_sync.catalog.meters import PriceKey, PriceSheet
from include.gatewayz_sync.prices import documents, matching
from include.gatewayz_sync.prices.sources import REFERENCE_SOURCES, SourceProviders

D = Decimal


def K(meter: str, unit: str = "token", above: int = 0, tier: str = "standard", window: str = "", option: str = "") -> PriceKey:
    return PriceKey(meter, unit, above, tier, window, option)


def sheet(**prices: str) -> PriceSheet:
    """`sheet(input="2.5", output="10")`: base per-token prices."""
    return PriceSheet({K(meter): D(value) for meter, value in prices.items()})


def loads(text: str):
    return json.loads(text, parse_float=Decimal)


MODELS_DEV = loads("""{
  "openai": {"id": "openai", "models": {
    "gpt-4o": {"id": "gpt-4o", "last_updated": "2025-06-17", "cost": {"input": 2.5, "output": 10, "cache_read": 1.25}},
    "gpt-5.4": {"id": "gpt-5.4", "cost": {"input": 2.5, "output": 15,
      "tiers": [{"input": 5, "output": 22.5, "tier": {"type": "context", "size": 272000}}]}},
    "text-moderation": {"id": "text-moderation"}}},
  "alibaba": {"id": "alibaba", "models": {"qwen-plus": {"id": "qwen-plus", "cost": {"input": 0.4, "output": 1.2}}}},
  "fireworks-ai": {"id": "fireworks-ai", "models": {
    "glm-5": {"id": "glm-5", "cost": {"input": 1, "output": 3.2}}}},
  "anthropic": {"id": "anthropic", "models": {
    "claude-x": {"id": "claude-x", "cost": {"input": 3, "output": 15}}}}
}""")

LITELLM = loads("""{
  "sample_spec": {"input_cost_per_token": 0.0, "litellm_provider": "one of https://docs.litellm.ai/docs/providers"},
  "gpt-4o": {"litellm_provider": "openai", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05,
             "cache_read_input_token_cost": 1.25e-06, "input_cost_per_token_batches": 1.25e-06,
             "output_cost_per_token_batches": 5e-06, "input_cost_per_token_flex": 1.25e-06},
  "mistral/mistral-small-latest": {"litellm_provider": "mistral", "input_cost_per_token": 1e-07,
                                   "output_cost_per_token": 3e-07},
  "gemini/gemini-2.5-pro": {"litellm_provider": "gemini", "input_cost_per_token": 1.25e-06,
                            "output_cost_per_token": 1e-05, "input_cost_per_token_above_200k_tokens": 2.5e-06,
                            "output_cost_per_token_above_200k_tokens": 1.5e-05},
  "dashscope/qwen-flash": {"litellm_provider": "dashscope", "tiered_pricing": [
      {"range": [0, 256000.0], "input_cost_per_token": 5e-08, "output_cost_per_token": 4e-07},
      {"range": [256000.0, 1000000.0], "input_cost_per_token": 2.5e-07, "output_cost_per_token": 2e-06}]},
  "claude-y": {"litellm_provider": "anthropic", "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05},
  "absurd": {"litellm_provider": "openai", "input_cost_per_token": 0.5, "output_cost_per_token": 1e-06}
}""")


def genai_providers() -> list:
    gpt4o = gp.ModelInfo(
        id="gpt-4o",
        match=gp.ClauseOr(or_=[gp.ClauseEquals(equals="gpt-4o"), gp.ClauseEquals(equals="gpt-4o-2024-08-06")]),
        prices=[
            gp.ConditionalPrice(prices=gp.ModelPrice(input_mtok=D("5"), output_mtok=D("15"))),
            gp.ConditionalPrice(constraint=gp.StartDateConstraint(start_date=date(2025, 1, 1)),
                                prices=gp.ModelPrice(input_mtok=D("2.5"), output_mtok=D("10"))),
            gp.ConditionalPrice(constraint=gp.StartDateConstraint(start_date=date(2099, 1, 1)),
                                prices=gp.ModelPrice(input_mtok=D("1"), output_mtok=D("4"))),
        ],
        price_variants=[gp.PriceVariant(when={"processing": "batch"},
                                        prices=gp.ModelPrice(input_mtok=D("1.25"), output_mtok=D("5")))],
    )
    gpt4 = gp.ModelInfo(id="gpt-4", match=gp.ClauseStartsWith(starts_with="gpt-4"),
                        prices=gp.ModelPrice(input_mtok=D("30"), output_mtok=D("60")))
    gemini = gp.ModelInfo(
        id="gemini-2.5-pro", match=gp.ClauseEquals(equals="gemini-2.5-pro"),
        prices=gp.ModelPrice(
            input_mtok=gp.TieredPrices(base=D("1.25"), tiers=[gp.Tier(start=200000, price=D("2.5"))]),
            output_mtok=gp.TieredPrices(base=D("10"), tiers=[gp.Tier(start=200000, price=D("15"))]),
        ),
    )
    deepseek = gp.ModelInfo(
        id="deepseek-chat", match=gp.ClauseEquals(equals="deepseek-chat"),
        prices=[
            gp.ConditionalPrice(prices=gp.ModelPrice(input_mtok=D("0.27"), output_mtok=D("1.1"))),
            gp.ConditionalPrice(constraint=gp.TimeOfDateConstraint(start_time=time(16, 30), end_time=time(0, 30)),
                                prices=gp.ModelPrice(input_mtok=D("0.135"), output_mtok=D("0.55"))),
        ],
    )
    return [
        gp.Provider(id="openai", name="OpenAI", api_pattern="x", models=[gpt4o, gpt4]),
        gp.Provider(id="google", name="Google", api_pattern="x", models=[gemini]),
        gp.Provider(id="deepseek", name="DeepSeek", api_pattern="x", models=[deepseek]),
    ]


MD = documents.read_models_dev(MODELS_DEV)
LL = documents.read_litellm(LITELLM)
GP = documents.read_genai_prices(genai_providers(), on=date(2026, 11, 27))


def test_models_dev_reads_prices_tiers_and_dates_exactly():
    gpt4o = MD.entries["openai"]["gpt-4o"]
    assert gpt4o.prices == sheet(input="2.5", output="10", cache_read="1.25")
    assert gpt4o.checked_at == date(2025, 6, 17)
    tiered = MD.entries["openai"]["gpt-5.4"].prices
    assert (tiered[K("input", above=272000)], tiered[K("output", above=272000)]) == (D("5"), D("22.5"))
    assert tiered.columns()["price_long_context_threshold_tokens"] == 272000
    moderation = MD.entries["openai"]["text-moderation"]
    assert (moderation.prices, moderation.zero_only, moderation.no_price) == (PriceSheet(), True, "listed without a price"), (
        "an entry without a price is kept (it never prices a model) so that an unpriced model's reason can name it")


def test_litellm_per_token_floats_become_exact_per_million_prices():
    gpt4o = LL.entries["openai"]["gpt-4o"].prices
    assert gpt4o == PriceSheet({K("input"): D("2.5"), K("output"): D("10"), K("cache_read"): D("1.25"),
                                K("input", tier="batch"): D("1.25"), K("output", tier="batch"): D("5"),
                                K("input", tier="flex"): D("1.25")})
    assert str(gpt4o[K("input")]) == "2.5"
    assert str(LL.entries["mistral"]["mistral/mistral-small-latest"].prices[K("input")]) == "0.1"
    gemini = LL.entries["gemini"]["gemini/gemini-2.5-pro"].prices
    assert (gemini[K("input", above=200000)], gemini[K("output", above=200000)]) == (D("2.5"), D("15"))
    flash = LL.entries["dashscope"]["dashscope/qwen-flash"].prices
    assert (flash[K("input")], flash[K("output")], flash[K("output", above=256000)]) == (D("0.05"), D("0.4"), D("2"))
    assert "sample_spec" not in str(LL.entries)
    assert K("input") not in LL.entries["openai"]["absurd"].prices and LL.dropped["price_absurd"] == 1


def test_genai_prices_current_price_tiers_variants_and_aliases():
    gpt4o = GP.entries["openai"]["gpt-4o"]
    assert (gpt4o.prices[K("input")], gpt4o.prices[K("output")]) == (D("2.5"), D("10")), "the price in force"
    assert gpt4o.checked_at == date(2025, 1, 1), "the date the price in force started"
    assert (gpt4o.prices[K("input", tier="batch")], gpt4o.prices[K("output", tier="batch")]) == (D("1.25"), D("5"))
    gemini = GP.entries["google"]["gemini-2.5-pro"].prices
    assert (gemini[K("input")], gemini[K("input", above=200000)]) == (D("1.25"), D("2.5"))
    deepseek = GP.entries["deepseek"]["deepseek-chat"].prices
    assert (deepseek[K("input")], deepseek[K("output")]) == (D("0.27"), D("1.1")), "outside the window"
    assert (deepseek[K("input", window="16:30-00:30")], deepseek[K("output", window="16:30-00:30")]) == (
        D("0.135"), D("0.55")), "the daily window is a price of its own"
    assert GP.aliases["openai"]["gpt-4o-2024-08-06"] == "gpt-4o"


OPENAI_GP = SourceProviders(("openai",))
OPENAI_MD = SourceProviders(("openai",))
OPENAI_LL = SourceProviders(("openai", "text-completion-openai"), ("openai/",))


def test_rule_exact_in_every_format():
    assert matching.match_model(GP, OPENAI_GP, "openai", "gpt-4o").rule == "exact"
    assert matching.match_model(MD, OPENAI_MD, "openai", "gpt-4o").rule == "exact"
    found = matching.match_model(LL, OPENAI_LL, "openai", "gpt-4o")
    assert (found.rule, found.entry.source_model_id) == ("exact", "gpt-4o")


def test_rule_exact_is_case_sensitive():
    assert matching.match_model(MD, OPENAI_MD, "openai", "GPT-4o") is None
    assert matching.match_model(LL, OPENAI_LL, "openai", "GPT-4o") is None


def test_rule_source_alias_is_genai_prices_own_equals_list_compared_as_it_compares():
    found = matching.match_model(GP, OPENAI_GP, "openai", "gpt-4o-2024-08-06")
    assert (found.rule, found.entry.source_model_id) == ("source-alias", "gpt-4o")
    assert matching.match_model(GP, OPENAI_GP, "openai", "GPT-4o-2024-08-06").rule == "source-alias"
    assert matching.match_model(MD, OPENAI_MD, "openai", "gpt-4o-2024-08-06") is None, "only declared aliases"
    assert matching.match_model(LL, OPENAI_LL, "openai", "gpt-4o-2024-08-06") is None


def test_source_patterns_are_never_used():
    # genai-prices' gpt-4 entry matches `starts_with: gpt-4`; as an id rule that would price gpt-4-0613 as gpt-4
    assert matching.match_model(GP, OPENAI_GP, "openai", "gpt-4-0613") is None


def test_rule_provider_prefix_is_litellms_key_prefix():
    found = matching.match_model(LL, SourceProviders(("mistral",), ("mistral/",)), "mistral", "mistral-small-latest")
    assert (found.rule, found.entry.source_model_id) == ("provider-prefix", "mistral/mistral-small-latest")
    assert matching.match_model(LL, SourceProviders(("mistral",)), "mistral", "mistral-small-latest") is None


def test_rule_stripped_prefix_for_fireworks_accounts_path_and_gemini_resource_names():
    fireworks = SourceProviders(("fireworks-ai",))
    found = matching.match_model(MD, fireworks, "fireworks", "accounts/fireworks/models/glm-5")
    assert (found.rule, found.entry.source_model_id) == ("stripped-prefix+exact", "glm-5")
    gemini = SourceProviders(("gemini",), ("gemini/",))
    found = matching.match_model(LL, gemini, "google-vertex", "models/gemini-2.5-pro")
    assert found.rule == "stripped-prefix+provider-prefix"
    assert matching.match_model(MD, SourceProviders(("fireworks-ai",)), "together", "accounts/fireworks/models/glm-5") is None


def test_rule_declared_id_prices_fireworks_partner_models_as_litellm_files_them_and_nothing_else():
    """Issue 19, row 7: Fireworks serves Sentient's Dobby models from Sentient's accounts; the bundled LiteLLM
    snapshot prices them under `accounts/fireworks/models/`, where it files every Fireworks model. Only the
    declared pairs are looked up so: another account's model (a fine-tune) is not priced as anything."""
    from include.gatewayz_sync.dev.replay import catalogs

    index = documents.read_litellm(loads(REFERENCE_SOURCES["litellm"].snapshot_path.read_text()))
    mapping = REFERENCE_SOURCES["litellm"].providers["fireworks"]
    recording = catalogs.RECORDINGS_DIR / "fireworks.json"
    listed = {record["id"] for record in json.loads(recording.read_text())["data"]}
    dobby = {"accounts/sentientfoundation-serverless/models/dobby-mini-unhinged-plus-llama-3-1-8b": "0.2",
             "accounts/sentientfoundation/models/dobby-unhinged-llama-3-3-70b-new": "0.9"}
    for ours, price in dobby.items():
        assert ours in listed and f"accounts/fireworks/models/{ours.rsplit('/', 1)[1]}" not in listed
        found = matching.match_model(index, mapping, "fireworks", ours)
        assert (found.rule, found.entry.source_model_id) == (
            "declared-id+provider-prefix", f"fireworks_ai/accounts/fireworks/models/{ours.rsplit('/', 1)[1]}")
        assert found.entry.prices == sheet(input=price, output=price)
        undeclared = SourceProviders(mapping.providers, mapping.key_prefixes)
        assert matching.match_model(index, undeclared, "fireworks", ours) is None, "never by the model name alone"
    fine_tune = "accounts/tvergho-87e44d/models/debatecards-70b-ft-3epoch-dpo-v2"
    assert fine_tune in listed and matching.match_model(index, mapping, "fireworks", fine_tune) is None


def test_rule_snapshot_alias_prices_a_dated_alibaba_snapshot_as_its_alias_and_nothing_else():
    alibaba_md = SourceProviders(("alibaba",))
    found = matching.match_model(MD, alibaba_md, "alibaba", "qwen-plus-2025-12-01")
    assert (found.rule, found.entry.source_model_id) == ("snapshot-alias+exact", "qwen-plus")
    alibaba_ll = SourceProviders(("dashscope",), ("dashscope/",))
    assert matching.match_model(LL, alibaba_ll, "alibaba", "qwen-flash-2026-01-01").rule == "snapshot-alias+provider-prefix"
    assert matching.match_model(MD, alibaba_md, "alibaba", "qwen-plus-2507") is None, "a version, not a snapshot date"
    assert matching.match_model(MD, OPENAI_MD, "openai", "gpt-4o-2024-05-13") is None, "dated OpenAI ids cost more"


def test_a_source_entry_of_another_provider_never_prices_our_model():
    assert matching.match_model(LL, OPENAI_LL, "openai", "claude-y") is None
    assert matching.match_model(MD, OPENAI_MD, "openai", "claude-x") is None


def test_the_sources_are_declared_with_snapshots_and_map_only_registry_providers():
    from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY

    assert [s.name for s in REFERENCE_SOURCES.values()] == ["genai-prices", "models.dev", "litellm", "openrouter"]
    for source in REFERENCE_SOURCES.values():
        assert set(source.providers) <= set(GATEWAY_REGISTRY) and source.slug not in GATEWAY_REGISTRY
        if source.list_api is not None:
            assert source.list_api.base_url.startswith("https://") and source.snapshot_path.is_file()
    assert "fal" not in REFERENCE_SOURCES["litellm"].providers, "fal prices per image or second, never per token"


def test_invalid_source_declarations_are_refused():
    from include.gatewayz_sync.prices.sources import ReferenceSource, validate_sources
    from include.gatewayz_sync.sources.specs import RegistryError

    good = REFERENCE_SOURCES["models-dev"]
    with pytest.raises(RegistryError, match="slug"):
        validate_sources((good, good), {"openai"} | set(good.providers) | set(good.field_providers))
    with pytest.raises(RegistryError, match="unknown provider"):
        validate_sources((good,), {"openai"})
    bad_format = ReferenceSource(slug="x-prices", name="x", document_format="yaml", licence="MIT", providers={})
    with pytest.raises(RegistryError, match="unknown format"):
        validate_sources((bad_format,), set())
    weights_in_a_document = replace(good, open_weights_field="hugging_face_id")
    with pytest.raises(RegistryError, match="open_weights_field"):
        validate_sources((weights_in_a_document,), set(good.providers) | set(good.field_providers))


@pytest.mark.parametrize("slug", ["models-dev", "litellm"])
def test_bundled_snapshots_match_their_recorded_digest(slug):
    import hashlib

    source = REFERENCE_SOURCES[slug]
    assert hashlib.sha256(source.snapshot_path.read_bytes()).hexdigest() == source.snapshot_sha256


def test_every_document_has_its_date_and_the_pinned_genai_prices_release_is_declared():
    """The recency rule compares document dates: a snapshot without its date, or a genai-prices pin bumped without
    its release date, would silently lose every comparison."""
    from importlib.metadata import version

    from include.gatewayz_sync.prices.sources import genai_prices_date

    assert genai_prices_date(f"genai-prices {version('genai-prices')} (PyPI)") == date(2026, 11, 10)
    for source in REFERENCE_SOURCES.values():
        if source.snapshot_file:
            assert source.snapshot_date is not None and source.snapshot_date.isoformat() in source.snapshot_version


def test_elsewhere_names_another_regions_entry_without_ever_taking_its_price_and_a_priced_entry_comes_first():
    """Issue 19, gap 1: models.dev's `alibaba-cn` (the China region) lists ids our international Alibaba serves at
    China-region prices. Where no mapped provider lists the id, the hit there is kept without its prices, named in
    words; a priced entry of a mapped provider, or an entry listed without a price by one, always comes first."""
    document = loads("""{
      "alibaba": {"models": {"qwen-plus": {"cost": {"input": 0.4, "output": 1.2}}, "qwen-mt-lite": {}}},
      "alibaba-cn": {"models": {"qwen3.5-flash": {"cost": {"input": 0.172, "output": 1.72}},
                                "qwen-plus": {"cost": {"input": 0.115, "output": 0.287}},
                                "qwen-mt-lite": {"cost": {"input": 0.1, "output": 0.2}}}}
    }""")
    index = documents.read_models_dev(document)
    mapping = REFERENCE_SOURCES["models-dev"].providers["alibaba"]
    china = matching.match_model(index, mapping, "alibaba", "qwen3.5-flash-2026-02-23")
    assert china.rule == "elsewhere+snapshot-alias+exact" and not china.priced
    assert china.no_price == ("listed only as alibaba-cn's qwen3.5-flash: the China-region price list "
                              "(dashscope.aliyuncs.com), not the international endpoint's")
    assert matching.match_model(index, mapping, "alibaba", "qwen-plus").entry.prices == sheet(input="0.4", output="1.2")
    priceless = matching.match_model(index, mapping, "alibaba", "qwen-mt-lite")
    assert (priceless.rule, priceless.no_price) == ("exact", "listed without a price"), "ours first, even priceless"
    assert matching.match_model(index, SourceProviders(("alibaba",)), "alibaba", "qwen3.5-flash") is None

    litellm = documents.read_litellm(loads("""{
      "qwen-turbo": {"litellm_provider": "dashscope", "mode": "chat"},
      "dashscope/qwen-turbo": {"litellm_provider": "dashscope", "input_cost_per_token": 5e-08,
                               "output_cost_per_token": 2e-07}}"""))
    found = matching.match_model(litellm, REFERENCE_SOURCES["litellm"].providers["alibaba"], "alibaba", "qwen-turbo")
    assert (found.rule, found.priced) == ("provider-prefix", True), "a priced entry beats an earlier rule's priceless one"


def test_genai_prices_entry_without_a_price_keeps_its_own_note_on_the_price():
    from genai_prices.data import providers

    index = documents.read_genai_prices(providers, date(2026, 11, 28))
    gemma = index.entries["google"]["gemma-4-26b-a4b-it"]
    assert gemma.zero_only and gemma.no_price == (
        "listed without a price (its note: Free of charge on the Gemini API with no paid tier)")
