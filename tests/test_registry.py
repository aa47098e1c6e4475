"""The registry holds the gateway's 28 providers exactly as the provider table has them, and rejects bad specs."""

from __future__ import annotations

import dataclasses

import pytest

from include.gatewayz_sync.sources.auth import Bearer, Header, Query, Scheme
from include.gatewayz_sync.sources.paging import SinglePage
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY, get_provider
from include.gatewayz_sync.sources.specs import (
    FieldMap,
    ListApiSpec,
    PriceUnit,
    Priority,
    Provider,
    RegistryError,
    validate_registry,
)

# slug, name, priority, color, site_url (the provider table of shared/docs/PROVIDERS.md)
PROVIDER_TABLE = """
openai | OpenAI | fast | bg-emerald-600 | https://openai.com
anthropic | Anthropic | fast | bg-amber-700 | https://anthropic.com
openrouter | OpenRouter | fast | bg-blue-500 | https://openrouter.ai
groq | Groq | fast | bg-orange-500 | https://groq.com
together | Together | fast | bg-indigo-500 | https://together.ai
fireworks | Fireworks | fast | bg-red-500 | https://fireworks.ai
vercel-ai-gateway | Vercel AI | fast | bg-slate-900 | https://vercel.com/ai
featherless | Featherless | slow | bg-green-500 | https://featherless.ai
chutes | Chutes | slow | bg-yellow-500 | https://chutes.ai
deepinfra | DeepInfra | slow | bg-cyan-500 | https://deepinfra.com
google-vertex | Google | slow | bg-blue-600 | https://cloud.google.com/vertex-ai
cerebras | Cerebras | slow | bg-amber-600 | https://cerebras.ai
nebius | Nebius | slow | bg-slate-600 | https://nebius.ai
xai | xAI | slow | bg-black | https://x.ai
novita | Novita | slow | bg-violet-600 | https://novita.ai
huggingface | Hugging Face | slow | bg-yellow-600 | https://huggingface.co
aimo | AiMo | slow | bg-pink-600 | https://aimo.network
near | NEAR | slow | bg-teal-600 | https://near.ai
fal | Fal | slow | bg-emerald-600 | https://fal.ai
helicone | Helicone | slow | bg-indigo-600 | https://helicone.ai
alpaca | Alpaca Network | slow | bg-green-700 | https://alpaca.network
alibaba | Alibaba | slow | bg-orange-700 | https://dashscope.aliyun.com
clarifai | Clarifai | slow | bg-purple-600 | https://clarifai.com
onerouter | OneRouter | slow | bg-emerald-500 | https://onerouter.pro
simplismart | SimpliSmart | slow | bg-sky-500 | https://simplismart.ai
aihubmix | AiHubMix | slow | bg-rose-500 | https://aihubmix.com
anannas | Anannas | slow | bg-lime-600 | https://anannas.ai
cloudflare-workers-ai | Cloudflare Workers AI | slow | bg-orange-500 | https://developers.cloudflare.com/workers-ai
"""
TABLE = [tuple(cell.strip() for cell in line.split("|")) for line in PROVIDER_TABLE.strip().splitlines()]


def test_the_28_providers_of_the_table_are_all_there():
    assert len(TABLE) == 28
    assert {row[0] for row in TABLE} <= set(GATEWAY_REGISTRY)


@pytest.mark.parametrize(("slug", "name", "priority", "color", "site_url"), TABLE, ids=[row[0] for row in TABLE])
def test_provider_display_fields_match_the_table(slug, name, priority, color, site_url):
    provider = GATEWAY_REGISTRY[slug]
    assert (provider.name, provider.priority.value, provider.color, provider.site_url) == (
        name,
        priority,
        color,
        site_url,
    )


def test_extras_from_the_table():
    assert GATEWAY_REGISTRY["groq"].icon == "zap"
    assert GATEWAY_REGISTRY["google-vertex"].aliases == ("google",)
    assert GATEWAY_REGISTRY["huggingface"].aliases == ("hug",)
    assert GATEWAY_REGISTRY["fal"].supports_streaming is False
    assert GATEWAY_REGISTRY["alpaca"].list_api is None
    assert GATEWAY_REGISTRY["simplismart"].list_api is None


def test_mistral_cohere_and_deepseek_are_added_with_list_apis():
    for slug in ("mistral", "cohere", "deepseek"):
        assert GATEWAY_REGISTRY[slug].list_api is not None
    assert len(GATEWAY_REGISTRY) == 31


def test_key_env_and_connection_ids_follow_the_convention():
    assert GATEWAY_REGISTRY["openrouter"].api_key_env == "OPENROUTER_API_KEY"
    assert GATEWAY_REGISTRY["google-vertex"].api_key_env == "GOOGLE_VERTEX_API_KEY"
    assert GATEWAY_REGISTRY["google-vertex"].connection_id == "gatewayz_google_vertex"
    assert GATEWAY_REGISTRY["cloudflare-workers-ai"].api_key_env == "CLOUDFLARE_API_TOKEN"


def test_unknown_slug_lookup_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown provider 'nope'.*openai"):
        get_provider("nope")


def _valid(**changes) -> Provider:
    base = Provider(
        slug="example",
        name="Example",
        color="bg-blue-500",
        priority=Priority.FAST,
        site_url="https://example.com",
        list_api=ListApiSpec(base_url="https://api.example.com/v1", path="/models", auth=Bearer(), records_path="data"),
    )
    return dataclasses.replace(base, **changes)


def _spec(**changes) -> ListApiSpec:
    return dataclasses.replace(_valid().list_api, **changes)


INVALID = [
    (_valid(slug="Bad Slug"), r"provider 'Bad Slug': slug: must be lower-case"),
    (_valid(name=" "), r"provider 'example': name: must not be empty"),
    (_valid(color="blue"), r"provider 'example': color: must be a Tailwind background class"),
    (_valid(priority="urgent"), r"provider 'example': priority: must be one of \['fast', 'slow'\]"),
    (_valid(site_url="http://example.com"), r"provider 'example': site_url: must be an https URL"),
    (_valid(list_api=None), r"provider 'example': list_api: missing; set no_list_reason"),
    (_valid(list_api=_spec(base_url="ftp://x")), r"provider 'example': list_api.base_url: must be an https URL"),
    (_valid(list_api=_spec(path="models")), r"provider 'example': list_api.path: must start with '/'"),
    (_valid(list_api=_spec(auth="magic")), r"provider 'example': list_api.auth: must be Bearer\(\), Header\(name\).*'magic'"),
    (_valid(list_api=_spec(auth=Header(""))), r"provider 'example': list_api.auth: header name must not be blank"),
    (_valid(list_api=_spec(auth=Query(" key"))), r"provider 'example': list_api.auth: query parameter must not be blank"),
    (_valid(list_api=_spec(auth=Scheme("Key Two"))), r"provider 'example': list_api.auth: scheme must be one word"),
    (_valid(list_api=_spec(auth=None)), r"provider 'example': list_api.key_required: an API that takes no key"),
    (_valid(list_api=_spec(price_unit="per_gallon")), r"provider 'example': list_api.price_unit: unknown price unit 'per_gallon'"),
    (_valid(list_api=_spec(paginator="scroll")), r"provider 'example': list_api.paginator: unknown paging style 'scroll'"),
    (
        _valid(list_api=_spec(fields=FieldMap(token_prices={"input": "pricing.in"}))),
        r"provider 'example': list_api.price_unit: token prices are mapped but no price unit",
    ),
    (
        _valid(list_api=_spec(price_unit=PriceUnit.USD_PER_TOKEN, fields=FieldMap(token_prices={"inp": "p"}))),
        r"provider 'example': list_api.fields.token_prices: unknown meter 'inp'",
    ),
    (_valid(list_api=_spec(quirk="nope")), r"provider 'example': list_api.quirk: unknown quirk 'nope'"),
    (_valid(list_api=_spec(path="/accounts/{account}/models")), r"list_api.path_params: no env var declared.*account"),
]


@pytest.mark.parametrize(("provider", "message"), INVALID, ids=[m[:60] for _, m in INVALID])
def test_invalid_specs_fail_with_a_message_naming_slug_and_field(provider, message):
    with pytest.raises(RegistryError, match=message):
        validate_registry((provider,))


def test_duplicate_slugs_and_colliding_aliases_are_refused():
    with pytest.raises(RegistryError, match="provider 'example': slug: duplicated"):
        validate_registry((_valid(), _valid()))
    with pytest.raises(RegistryError, match=r"aliases collide.*'example'"):
        validate_registry((_valid(), _valid(slug="other", aliases=("example",))))


def test_every_list_api_is_https_and_paged_by_a_known_strategy():
    for provider in GATEWAY_REGISTRY.values():
        if provider.list_api is not None:
            assert provider.list_api.base_url.startswith("https://")
            assert provider.list_api.paginator is not None
    assert isinstance(GATEWAY_REGISTRY["openai"].list_api.paginator, SinglePage)
