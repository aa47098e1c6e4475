"""Every provider's recorded list normalizes to exact prices, verbatim ids and validated fields."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from include.gatewayz_sync.catalog.meters import PriceKey
from include.gatewayz_sync.catalog.normalize import RecordNormalizer
from include.gatewayz_sync.dev.replay.catalogs import RECORDINGS_DIR, RecordedCatalog, load_json
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY

D = Decimal


def normalized(slug: str):
    spec = GATEWAY_REGISTRY[slug].list_api
    catalog = RecordedCatalog.from_file(slug, spec, RECORDINGS_DIR / f"{slug}.json")
    normalizer = RecordNormalizer(spec)
    models = {m.provider_model_id: m for m in normalizer.normalize_all(catalog.records)}
    return models, normalizer.report


EXPECTED_COUNTS = {
    "openrouter": 225, "openai": 130, "anthropic": 10, "google-vertex": 43, "groq": 13, "together": 244,
    "fireworks": 38, "deepinfra": 154, "featherless": 1, "chutes": 14, "cerebras": 3, "nebius": 46, "xai": 3,
    "novita": 3, "huggingface": 1, "alibaba": 159, "cloudflare-workers-ai": 63, "vercel-ai-gateway": 1,
    "helicone": 2, "anannas": 1, "clarifai": 4, "onerouter": 4, "aihubmix": 5, "aimo": 3, "near": 4, "fal": 1,
    "mistral": 55, "cohere": 31, "deepseek": 2,
}


def test_every_provider_with_a_list_api_has_a_recording_and_a_pinned_count():
    with_api = {slug for slug, p in GATEWAY_REGISTRY.items() if p.list_api is not None}
    assert with_api == set(EXPECTED_COUNTS)
    for slug in with_api:
        assert (RECORDINGS_DIR / f"{slug}.json").exists(), slug


@pytest.mark.parametrize("slug", sorted(EXPECTED_COUNTS))
def test_recorded_list_normalizes_without_rejections(slug):
    models, report = normalized(slug)
    assert len(models) == EXPECTED_COUNTS[slug]
    assert report.rejected_total == 0
    assert report.duplicates == 0
    for model in models.values():
        for price in model.prices.values():
            assert isinstance(price, Decimal) and (price > 0 or model.is_free), "a listed 0 is a price only when free"
        assert model.prices or model.is_free or model.price_unknown_reason, "an unpriced model says why"
        assert len(model.content_hash) == 64


# slug, model id, {field: expected}
PINS = [
    ("openrouter", "qwen/qwen3.8-27b", {"input": D("0.45"), "output": D("3.2"), "cache_read": D("0.05"),
                                         "context_length": 262144, "max_output_tokens": 131072, "tools": True,
                                         "vision": True}),
    ("openrouter", "openrouter/auto-beta", {"input": None, "output": None, "price_is_variable": True, "is_free": None}),
    ("openrouter", "liquid/lfm-2.5-2.6b:free", {"input": D("0"), "output": D("0"), "is_free": True}),
    ("together", "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo", {"input": D("0.88"), "output": D("0.88"), "is_free": False}),
    ("together", "moonshotai/Kimi-K3", {"input": D("3"), "output": D("15"), "cache_read": D("0.3"), "name": "Kimi K3"}),
    ("novita", "meta-llama/llama-3.3-70b-instruct", {"input": D("0.39"), "output": D("0.39"), "context_length": 131072}),
    ("xai", "grok-3", {"input": D("3"), "output": D("15"), "cache_read": D("0.75")}),
    ("deepinfra", "Qwen/Qwen3.5-27B", {"input": D("0.26"), "output": D("2.6"), "context_length": 262144,
                                       "vision": True, "reasoning": True}),
    ("groq", "openai/gpt-oss-120b", {"input": D("0.15"), "output": D("0.6"), "cache_read": D("0.075"), "tools": True,
                                     "structured_output": True}),
    ("groq", "canopylabs/orpheus-arabic-saudi", {"context_length": 4000, "max_output_tokens": None}),
    ("anthropic", "claude-opus-5", {"name": "Claude Opus 5", "context_length": 1000000, "max_output_tokens": 128000,
                                    "vision": True, "structured_output": True}),
    ("google-vertex", "gemini-2.5-flash", {"name": "Gemini 2.5 Flash", "context_length": 1048576,
                                           "max_output_tokens": 65536, "reasoning": True}),
    ("mistral", "mistral-medium-2505", {"context_length": 131072, "tools": True, "vision": True,
                                        "deprecation_date": datetime(2026, 8, 31, 12, tzinfo=UTC)}),
    ("openai", "gpt-4-0613", {"shutdown_date": datetime(2026, 10, 23, tzinfo=UTC), "name": "gpt-4-0613"}),
    ("cohere", "command-a-03-2025", {"context_length": 288000, "tools": True, "structured_output": True}),
    ("cloudflare-workers-ai", "@cf/openai/gpt-oss-120b", {"input": D("0.35"), "output": D("0.75"),
                                                          "context_length": 128000, "tools": True, "reasoning": True}),
    ("near", "zai-org/GLM-5.1-FP8", {"input": D("0.85"), "output": D("3.3"), "context_length": 202752}),
    ("aihubmix", "gpt-5", {"input": D("1.25"), "output": D("10"), "cache_read": D("0.125"), "tools": True,
                           "reasoning": True, "vision": True, "max_output_tokens": 128000}),
    ("chutes", "Qwen/Qwen3-32B-TEE", {"input": D("0.104"), "output": D("0.416"), "cache_read": D("0.0104")}),
    ("huggingface", "deepseek-ai/DeepSeek-V4-Pro", {"input": D("1.69"), "output": D("3.38"), "context_length": 1048576,
                                                    "tools": True, "structured_output": True}),
    ("vercel-ai-gateway", "alibaba/qwen-3-14b", {"input": D("0.12"), "output": D("0.24"), "context_length": 40960,
                                                 "reasoning": True, "tools": True}),
    ("onerouter", "deepseek/deepseek-v4-flash", {"input": D("0.14"), "output": D("0.28")}),
    ("anannas", "openai/gpt-5-mini", {"input": D("30"), "output": D("60"), "request": None}),
    ("fireworks", "accounts/fireworks/models/flux-kontext-max", {"vision": True, "tools": False}),
    ("fal", "fal-ai/flux/dev", {"name": "FLUX.1 [dev]"}),
    ("cohere", "c4ai-aya-vision-32b", {"vision": True, "tools": False}),
]


PRICE_KEYS = {"input": PriceKey("input"), "output": PriceKey("output"), "cache_read": PriceKey("cache_read"),
              "request": PriceKey("request", "request")}


def _value(model, field):
    if field in PRICE_KEYS:
        return model.prices.get(PRICE_KEYS[field])
    if field in model.capabilities:
        return model.capabilities[field]
    return getattr(model, field)


@pytest.mark.parametrize(("slug", "model_id", "expected"), PINS, ids=[f"{s}:{m}" for s, m, _ in PINS])
def test_pinned_values(slug, model_id, expected):
    models, _ = normalized(slug)
    model = models[model_id]
    for field, value in expected.items():
        actual = _value(model, field)
        assert actual == value, f"{slug} {model_id} {field}: {actual!r} != {value!r}"
        if isinstance(value, Decimal):
            assert str(actual) == str(value)


def test_only_explicit_free_variants_are_free():
    openrouter, _ = normalized("openrouter")
    free = sorted(m for m, model in openrouter.items() if model.is_free)
    assert all(m.endswith(":free") for m in free if m != "openrouter/free") and "openrouter/free" in free
    lyria = openrouter["google/lyria-3-pro-preview"]
    assert (dict(lyria.prices), lyria.is_free) == ({}, None), "priced per song: the listed 0/0 is not a price"
    assert lyria.price_unknown_reason.startswith("listed as 0 (input, output)")
    together, _ = normalized("together")
    assert not [m for m, model in together.items() if model.is_free], "0/0 on Together is dedicated-only or per unit"
    unknown = [model for model in together.values() if not model.prices]
    assert len(unknown) == 149 and {model.is_free for model in unknown} == {None}
    assert all(model.price_unknown_reason.startswith("listed as 0") for model in unknown)
    assert "dedicated endpoints" in unknown[0].price_unknown_reason
    onerouter, _ = normalized("onerouter")
    assert onerouter["openai/gpt-5-mini:free"].is_free is True


def test_a_declared_free_variant_with_a_price_above_zero_is_not_free():
    spec = GATEWAY_REGISTRY["openrouter"].list_api
    record = {"id": "vendor/model:free", "name": "x", "pricing": {"prompt": "0", "completion": "0.000001"}}
    assert RecordNormalizer(spec).normalize(record).is_free is False


def test_deepinfra_context_is_not_an_output_limit():
    deepinfra, _ = normalized("deepinfra")
    assert {model.max_output_tokens for model in deepinfra.values()} == {None}
    assert sum(model.context_length is not None for model in deepinfra.values()) == 88


def test_together_gives_an_output_limit_in_config_for_a_few_models():
    together, _ = normalized("together")
    limits = {model_id: model.max_output_tokens for model_id, model in together.items() if model.max_output_tokens}
    assert limits == {
        "deepseek-ai/DeepSeek-R1-Distill-Llama-70B": 32768, "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B": 32768,
        "Qwen/QwQ-32B": 32768, "deepcogito/cogito-v1-preview-llama-8B": 8192,
        "deepcogito/cogito-v1-preview-qwen-32B": 8192, "deepcogito/cogito-v1-preview-qwen-14B": 8192,
        "deepcogito/cogito-v1-preview-llama-70B": 8192, "deepseek-ai/DeepSeek-R1-0528": 12288,
        "deepseek-ai/DeepSeek-V3.1": 40000}
    assert all(limit <= together[model_id].context_length for model_id, limit in limits.items())


def test_deepinfras_unlisted_non_chat_models_are_not_counted_as_chat():
    """DeepInfra lists image, upscaling and embedding models without `metadata` (no window, no token price); their
    ids say what they are."""
    deepinfra, _ = normalized("deepinfra")
    chat = {model_id for model_id, model in deepinfra.items() if model.kind == "chat"}
    assert len(chat) == 86, "of the 88 listed with metadata, one is OCR, one moderation"
    assert all(deepinfra[model_id].context_length for model_id in chat), "every chat model has its window listed"
    kinds = {model_id: deepinfra[model_id].kind for model_id in (
        "Bria/erase", "ClarityAI/crystal", "Wan-AI/Wan2.6-T2I", "deepseek-ai/Janus-Pro-7B",
        "sentence-transformers/all-MiniLM-L6-v2", "intfloat/multilingual-e5-large",
        "sentence-transformers/clip-ViT-B-32", "shibing624/text2vec-base-chinese")}
    assert kinds == {"Bria/erase": "image", "ClarityAI/crystal": "image", "Wan-AI/Wan2.6-T2I": "image",
                     "deepseek-ai/Janus-Pro-7B": "image", "sentence-transformers/all-MiniLM-L6-v2": "embedding",
                     "intfloat/multilingual-e5-large": "embedding", "sentence-transformers/clip-ViT-B-32": "embedding",
                     "shibing624/text2vec-base-chinese": "embedding"}


@pytest.mark.parametrize("slug", ["groq", "fireworks", "openrouter", "together", "deepinfra"])
def test_provider_ids_are_kept_verbatim(slug):
    models, _ = normalized(slug)
    catalog = RecordedCatalog.from_file(slug, GATEWAY_REGISTRY[slug].list_api, RECORDINGS_DIR / f"{slug}.json")
    assert list(models) == [record["id"] for record in catalog.records]


def test_gemini_keeps_only_models_that_generate_content():
    models, report = normalized("google-vertex")
    assert report.filtered_out == 7
    assert "gemini-embedding-001" not in models


def test_raw_record_and_raw_prices_are_kept():
    models, _ = normalized("openrouter")
    model = models["qwen/qwen3.8-27b"]
    assert b'"canonical_slug":"qwen/qwen3.8-27b-20260814"' in model.raw_json
    assert model.raw_pricing["pricing.prompt"] == "0.00000045"


def _normalize_one(slug, record):
    normalizer = RecordNormalizer(GATEWAY_REGISTRY[slug].list_api)
    return normalizer.normalize(record), normalizer.report


def test_broken_fields_are_nulled_with_reasons_and_never_abort():
    record = {
        "id": "'; DROP TABLE models; --",
        "name": None,
        "description": "x" * 20_000,
        "context_length": 10**12,
        "pricing": {"prompt": "abc", "completion": "-5"},
        "top_provider": {"max_completion_tokens": 4096},
    }
    model, report = _normalize_one("openrouter", record)
    assert model.provider_model_id == "'; DROP TABLE models; --"
    assert model.name == "'; DROP TABLE models; --"
    assert model.description is None
    assert model.context_length is None
    assert not model.prices
    assert model.price_unknown_reason == "no usable price in the listing (input not_numeric, output negative)"
    assert dict(report.nulled) == {
        "description_too_long": 1,
        "context_length_absurd": 1,
        "input_price_not_numeric": 1,
        "output_price_negative": 1,
    }


def test_output_limit_above_context_is_nulled():
    model, report = _normalize_one(
        "openrouter", {"id": "m", "context_length": 1000, "top_provider": {"max_completion_tokens": 5000}}
    )
    assert model.context_length == 1000 and model.max_output_tokens is None
    assert report.nulled["max_output_tokens_above_context"] == 1


def test_odd_but_valid_text_is_stored_verbatim_and_terminal_or_bidi_controls_are_not():
    text = "Модель 🚀 نموذج عربي \u202eRTL\u202c — ok\x1b[2J\x9b1m"
    kept = "Модель 🚀 نموذج عربي RTL — ok[2J1m"
    model, report = _normalize_one("openrouter", {"id": "emoji/🚀", "name": text, "description": text,
                                                  "architecture": {"input_modalities": ["te\x1bxt", "\u2066image"]}})
    assert (model.provider_model_id, model.name, model.description) == ("emoji/🚀", kept, kept)
    assert model.input_modalities == ("text", "image")
    assert not report.nulled


@pytest.mark.parametrize(
    ("record", "reason"),
    [({"name": "no id"}, "id_missing"), ({"id": ""}, "id_missing"), ({"id": 42}, "id_missing"),
     ({"id": "a" * 600}, "id_too_long"), ({"id": "bad\x00id"}, "id_control_characters"),
     ({"id": "evil\u202eid"}, "id_control_characters"), ({"id": "csi\x9bid"}, "id_control_characters"),
     ("not a record", "record_not_object")],
)
def test_records_without_a_usable_id_are_rejected(record, reason):
    model, report = _normalize_one("openrouter", record)
    assert model is None and report.rejected[reason] == 1


def test_duplicate_ids_collapse_to_the_first_occurrence():
    normalizer = RecordNormalizer(GATEWAY_REGISTRY["openrouter"].list_api)
    records = [{"id": "a", "name": "first"}, {"id": "b"}, {"id": "a", "name": "second"}]
    models = list(normalizer.normalize_all(records))
    assert [(m.provider_model_id, m.name) for m in models] == [("a", "first"), ("b", "b")]
    assert normalizer.report.duplicates == 1


def test_content_hash_ignores_key_order_and_volatile_fields():
    first, _ = _normalize_one("nebius", {"id": "m", "created": 1, "owned_by": "x"})
    second, _ = _normalize_one("nebius", {"owned_by": "x", "created": 2, "id": "m"})
    assert first.content_hash == second.content_hash
    third, _ = _normalize_one("nebius", {"id": "m", "created": 1, "owned_by": "y"})
    assert third.content_hash != first.content_hash


def test_error_bodies_are_recorded_for_the_providers_that_document_them():
    errors = RECORDINGS_DIR / "errors"
    for slug in ("openai", "anthropic", "google-vertex", "cloudflare-workers-ai", "groq", "mistral", "cohere"):
        body = load_json(errors / f"{slug}_bad_key.json")
        assert body["status"] in (400, 401)


def test_the_readme_units_table_lists_every_list_price_providers_meters():
    """The table of each list API's meters and units (docs/prices.md) names every provider that lists prices, and
    each of the meters its spec reads, in its unit."""
    import re

    from include.gatewayz_sync.sources.specs import UNIT_METERS, UnitPrice
    from tests.readme import section

    table = section("Prices are rows").split("**Meters and units of each list API**", 1)[1]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("provider", "---"):
            for slug in cells[0].split(", "):
                rows[slug] = cells[2]
    listing = {slug: p.list_api for slug, p in GATEWAY_REGISTRY.items()
               if p.list_api is not None and (p.list_api.fields.token_prices or p.list_api.fields.unit_prices_usd)}
    assert set(rows) == set(listing)
    for slug, spec in listing.items():
        meters = {(m, "token") for m in spec.fields.token_prices}
        meters |= {(m, w.unit if isinstance(w, UnitPrice) else UNIT_METERS[m]) for m, w in spec.fields.unit_prices_usd.items()}
        if spec.fields.per_character is not None:
            meters.add(("input", "character"))
        for meter, unit in meters:
            groups = re.findall(r"([a-z_, ]+) /(\w+)", rows[slug].replace("*", ""))
            assert any(meter in [m.strip() for m in names.split(",")] and unit == each for names, each in groups), (
                slug, meter, unit)
