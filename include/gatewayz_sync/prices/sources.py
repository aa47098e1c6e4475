"""REFERENCE_SOURCES: the public price datasets that price models whose provider publishes no list price, as data.

Each source is declared like a provider: where its document lives (a `ListApiSpec`, fetched by the same
machinery: timeouts, size cap, host allow-list, the replay server in demos and tests), the bundled snapshot
(`snapshots/`, with licence, commit and date), the document's format, and which of the source's own providers
hold each of our providers' models. Declaration order is the order of preference between sources that disagree
and have no majority.

Each source's document has a date (`snapshot_date`, the package's release date for genai-prices, or the day
a live document was fetched): the date up to which the source vouches for what it says, which the recency rule
of `resolve.py` compares. OpenRouter's own listing, already in the catalog, is a fourth source for first-party
models (the author prefix of its ids names the first party): a reseller's price, used only where no other
source prices the model, and otherwise a cross-check whose differences are flagged, never averaged. For an
open-weight model (its listing names the weights' `hugging_face_id`) the price is another host's as often as
the author's, so it is only ever a cross-check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import MappingProxyType

from ..sources.specs import SLUG_PATTERN, ListApiSpec, RegistryError, validate_list_api

SNAPSHOT_DIR = Path(__file__).with_name("snapshots")
FORMATS = ("genai-prices", "models.dev", "litellm", "catalog-listing")
# genai-prices releases -> the day the release was published on PyPI (the date of its data). A pin bumped
# without its date here leaves the source undated, so its prices never supersede another's; a test checks it.
GENAI_PRICES_RELEASES = {"0.2.3": date(2026, 11, 10)}


@dataclass(frozen=True)
class SourceProviders:
    """The source's provider ids that hold one of our providers' models; LiteLLM also keys them `<prefix>/<id>`,
    OpenRouter `<author>/<id>` (`prefix_rule` names the rule that finds them so). `elsewhere`: the source's
    providers that list the same ids at prices that are not ours (another region, a subscription plan), each with
    why; searched only to say so in an unpriced model's reason, their prices never used (`matching.py`, rule 6)."""

    providers: tuple[str, ...]
    key_prefixes: tuple[str, ...] = ()
    prefix_rule: str = "provider-prefix"
    elsewhere: tuple[tuple[str, str], ...] = ()
    # the source's context figure for these models is their input limit, not the total window
    # (`catalog/routing.py`): it fills `max_input_tokens`
    context_is_input: bool = False
    # routing fields the source's entries for these models give wrongly, never read (why: a comment where declared)
    unread_fields: tuple[str, ...] = ()
    # (our id, the source's id) for one model the source files under another id, each pair with its evidence where
    # declared; looked up by rules 1-3 as if it were ours (`matching.py`, rule `declared-id`). Never a pattern.
    declared_ids: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ReferenceSource:
    slug: str
    name: str
    document_format: str
    licence: str
    providers: Mapping[str, SourceProviders]
    list_api: ListApiSpec | None = None
    snapshot_file: str | None = None
    snapshot_version: str = ""
    snapshot_sha256: str | None = None
    snapshot_date: date | None = None
    no_list_reason: str | None = None
    # "catalog-listing" only: the provider whose stored listing is the document
    listing_provider: str | None = None
    # a reseller's listing: never decides against another source; alone it prices with confidence `reseller`
    reseller: bool = False
    # "catalog-listing" only: the listing's field that names an open-weight model's published weights (OpenRouter's
    # `hugging_face_id`). Other hosts serve such a model too and the reseller lists one of theirs (its cheapest), so
    # its price is kept as a candidate to be seen, never stored as the first party's (`docs/prices.md`)
    open_weights_field: str | None = None
    # the source's providers that hold our providers' models for their routing fields only (limits, capabilities,
    # dates: `catalog/routing.py`): hosts that publish their own prices, whose prices here are never read
    field_providers: Mapping[str, SourceProviders] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "providers", MappingProxyType(dict(self.providers)))
        object.__setattr__(self, "field_providers", MappingProxyType(dict(self.field_providers)))

    def fields_mapping(self, slug: str) -> SourceProviders | None:
        """Where the source holds the routing fields of our provider's models."""
        return self.providers.get(slug) or self.field_providers.get(slug)

    @property
    def connection_id(self) -> str:
        return f"gatewayz_ref_{self.slug.replace('-', '_')}"

    @property
    def api_key_env(self) -> str:
        return f"GATEWAYZ_REF_{self.slug.upper().replace('-', '_')}_KEY"

    @property
    def snapshot_path(self) -> Path | None:
        return SNAPSHOT_DIR / self.snapshot_file if self.snapshot_file else None


def _document(url: str, path: str) -> ListApiSpec:
    return ListApiSpec(base_url=url, path=path, auth=None, key_required=False, records_path=None)


def _same_names(*slugs: str) -> dict[str, SourceProviders]:
    """Our slug -> the source's provider of the same name."""
    return {slug: SourceProviders((slug,)) for slug in slugs}


# Fireworks serves partners' models from the partner's account (its listing: `accounts/sentientfoundation/models/...`,
# kind HF_BASE_MODEL, context 131,072), while LiteLLM files every Fireworks model it prices, all 260 of its
# account-qualified keys, under `accounts/fireworks/models/` (@5390469c). Its two Dobby entries are these two models:
# same model names, same 131,072 context, and the prices of Fireworks' serverless size classes for an 8B and a 70B
# (0.2 and 0.9, LiteLLM's own `fireworks-ai-4.1b-to-16b` and `-above-16b`). Fireworks' listing has no model of either
# name under its own account. Other accounts' models are not mapped: a fine-tune (the listing's HF_PEFT_ADDON
# `debatecards-70b-...`) is not its base model.
FIREWORKS_PARTNER_MODELS_IN_LITELLM = (
    ("accounts/sentientfoundation-serverless/models/dobby-mini-unhinged-plus-llama-3-1-8b",
     "accounts/fireworks/models/dobby-mini-unhinged-plus-llama-3-1-8b"),
    ("accounts/sentientfoundation/models/dobby-unhinged-llama-3-3-70b-new",
     "accounts/fireworks/models/dobby-unhinged-llama-3-3-70b-new"),
)

# Our google-vertex list API is generativelanguage.googleapis.com (Gemini API / AI Studio), priced as
# "google" / "gemini", not Vertex AI. genai-prices' `huggingface_nebius` is Nebius's own price list as Hugging
# Face's router bills it (HF Inference Providers charge "the same rates as the provider", no markup): mapped. Its
# ids are Nebius's base flavours, but genai-prices itself declares each `-fast` flavour an `equals` alias at the
# base price (source-alias rule), so the `-fast` flavours take the base price on genai-prices' word (models.dev's
# own Nebius list shows most -fast flavours at the base price, not all). LiteLLM's `nebius/` keys (none in the
# bundled snapshot; newer maps carry them) are mapped too. fal prices per image or second: not mapped. groq and
# xai publish list prices; they are mapped so their references cross-check the provider's own price.
_REFERENCE_SOURCES = (
    ReferenceSource(
        slug="genai-prices",
        name="genai-prices",
        document_format="genai-prices",
        licence="MIT",
        snapshot_version="genai-prices 0.2.3 (PyPI)",
        no_list_reason="bundled in the pinned genai-prices package; updated by bumping the pin",
        providers={
            **_same_names("openai", "anthropic", "mistral", "cohere", "deepseek", "cerebras", "fireworks", "groq"),
            "google-vertex": SourceProviders(("google",)),
            "xai": SourceProviders(("x-ai",)),
            "nebius": SourceProviders(("huggingface_nebius",)),
        },
    ),
    ReferenceSource(
        slug="models-dev",
        name="models.dev",
        document_format="models.dev",
        licence="MIT",
        list_api=_document("https://models.dev", "/api.json"),
        snapshot_file="models.dev-api.json",
        snapshot_version="anomalyco/models.dev@f3fc6922 (2026-07-02)",
        snapshot_sha256="b18caca0b3e55ad2e9a362eb0176a096f0c8ed45e11ada0d02b0f77432bcb2f3",
        snapshot_date=date(2026, 7, 2),
        providers={
            **_same_names(
                "openai", "anthropic", "mistral", "cohere", "deepseek", "cerebras", "nebius", "helicone", "clarifai",
                "groq", "xai",
            ),
            # Our alibaba is the international endpoint (dashscope-intl). models.dev's `alibaba-cn` is the China
            # (Beijing) region's price list at dashscope.aliyuncs.com: other prices for the same ids (qwen3.5-flash
            # 0.172 / 1.72 there), never billed here. The plans are subscriptions whose 0s are quotas.
            "alibaba": SourceProviders(("alibaba",), elsewhere=(
                ("alibaba-cn", "the China-region price list (dashscope.aliyuncs.com), not the international endpoint's"),
                ("alibaba-token-plan", "a subscription plan's endpoint (listed at 0: a quota, not a price)"),
                ("alibaba-coding-plan", "a subscription plan's endpoint (listed at 0: a quota, not a price)"),
            )),
            "google-vertex": SourceProviders(("google",)),
            "fireworks": SourceProviders(("fireworks-ai",)),
            # Cohere documents the input limit as the context length (command-a: 256K), while its list API gives
            # the total window, input plus output (288,000): models.dev's `limit.context` is Cohere's input limit.
            "cohere": SourceProviders(("cohere",), context_is_input=True),
        },
        field_providers={
            "together": SourceProviders(("togetherai",)),
            "deepinfra": SourceProviders(("deepinfra",)),
            "cloudflare-workers-ai": SourceProviders(("cloudflare-workers-ai",)),
            "chutes": SourceProviders(("chutes",)),
            "novita": SourceProviders(("novita-ai",)),
            "huggingface": SourceProviders(("huggingface",)),
            "openrouter": SourceProviders(("openrouter",)),
            "aihubmix": SourceProviders(("aihubmix",)),
            "vercel-ai-gateway": SourceProviders(("vercel",)),
        },
    ),
    ReferenceSource(
        slug="litellm",
        name="litellm",
        document_format="litellm",
        licence="MIT",
        list_api=_document(
            "https://raw.githubusercontent.com/BerriAI/litellm/main", "/model_prices_and_context_window.json"
        ),
        snapshot_file="litellm-model_prices_and_context_window.json",
        snapshot_version="BerriAI/litellm@5390469c (2026-02-21)",
        snapshot_sha256="3768e09fcb4019df5a2e41e959e19f4d77e4bf495af291f80696963252a8d62a",
        snapshot_date=date(2026, 2, 21),
        providers={
            "openai": SourceProviders(("openai", "text-completion-openai"), ("openai/",)),
            "anthropic": SourceProviders(("anthropic",), ("anthropic/",)),
            "google-vertex": SourceProviders(("gemini",), ("gemini/",)),
            "mistral": SourceProviders(("mistral",), ("mistral/",)),
            "cohere": SourceProviders(("cohere", "cohere_chat"), ("cohere/", "cohere_chat/")),
            "deepseek": SourceProviders(("deepseek",), ("deepseek/",)),
            "cerebras": SourceProviders(("cerebras",), ("cerebras/",)),
            "alibaba": SourceProviders(("dashscope",), ("dashscope/",)),
            "fireworks": SourceProviders(("fireworks_ai",), ("fireworks_ai/",),
                                         declared_ids=FIREWORKS_PARTNER_MODELS_IN_LITELLM),
            "groq": SourceProviders(("groq",), ("groq/",)),
            "xai": SourceProviders(("xai",), ("xai/",)),
            "nebius": SourceProviders(("nebius",), ("nebius/",)),
        },
        field_providers={
            "together": SourceProviders(("together_ai",), ("together_ai/",)),
            # LiteLLM's DeepInfra entries copy DeepInfra's `max_tokens` as the output limit, which is the context
            # length (all 51 matched entries equal their window; see DeepInfra's flag in `docs/prices.md`)
            "deepinfra": SourceProviders(("deepinfra",), ("deepinfra/",), unread_fields=("max_output_tokens",)),
            "cloudflare-workers-ai": SourceProviders(("cloudflare",), ("cloudflare/",)),
            "novita": SourceProviders(("novita",), ("novita/",)),
            "openrouter": SourceProviders(("openrouter",), ("openrouter/",)),
            "vercel-ai-gateway": SourceProviders(("vercel_ai_gateway",), ("vercel_ai_gateway/",)),
        },
    ),
    ReferenceSource(
        slug="openrouter-listing",
        name="openrouter",
        document_format="catalog-listing",
        licence="the provider's own public listing",
        listing_provider="openrouter",
        reseller=True,
        open_weights_field="hugging_face_id",
        no_list_reason="read from the catalog: OpenRouter's models as the last model sync stored them",
        # OpenRouter's ids are `<author>/<model>`; the author is the first party, which serves the closed-weight
        # ones itself (no `hugging_face_id`: only the author has the weights).
        providers={
            slug: SourceProviders(("openrouter",), (f"{author}/",), prefix_rule="openrouter-author")
            for slug, author in (
                ("openai", "openai"), ("anthropic", "anthropic"), ("google-vertex", "google"), ("mistral", "mistralai"),
                ("cohere", "cohere"), ("deepseek", "deepseek"), ("alibaba", "qwen"), ("xai", "x-ai"),
            )
        },
    ),
)


def validate_sources(sources: tuple[ReferenceSource, ...], provider_slugs: set[str]) -> Mapping[str, ReferenceSource]:
    by_slug: dict[str, ReferenceSource] = {}
    for source in sources:
        where = f"reference source {source.slug!r}"
        if not SLUG_PATTERN.match(source.slug) or source.slug in provider_slugs or source.slug in by_slug:
            raise RegistryError(f"{where}: slug must be unique, lower-case and not a provider's slug")
        if source.document_format not in FORMATS:
            raise RegistryError(f"{where}: unknown format {source.document_format!r}; known: {list(FORMATS)}")
        if source.list_api is None and not source.no_list_reason:
            raise RegistryError(f"{where}: no list_api; set no_list_reason")
        if (source.document_format == "catalog-listing") != (source.listing_provider in provider_slugs):
            raise RegistryError(f"{where}: a catalog listing names the provider whose stored listing it reads")
        if source.open_weights_field and source.document_format != "catalog-listing":
            raise RegistryError(f"{where}: open_weights_field is read from a catalog listing's stored records only")
        if source.list_api is not None:
            validate_list_api(source.slug, source.list_api)
            if source.snapshot_path is None or not source.snapshot_path.is_file() or not source.snapshot_sha256:
                raise RegistryError(f"{where}: a fetched source needs a bundled snapshot file and its sha256")
        unknown = sorted((set(source.providers) | set(source.field_providers)) - provider_slugs)
        if unknown:
            raise RegistryError(f"{where}: maps unknown provider(s) {unknown}")
        by_slug[source.slug] = source
    return MappingProxyType(by_slug)


def _registry_slugs() -> set[str]:
    from ..sources.registry import GATEWAY_REGISTRY

    return set(GATEWAY_REGISTRY)


REFERENCE_SOURCES = validate_sources(_REFERENCE_SOURCES, _registry_slugs())
REFERENCE_NAMES = tuple(source.name for source in REFERENCE_SOURCES.values())
RESELLER_NAMES = tuple(source.name for source in REFERENCE_SOURCES.values() if source.reseller)


def genai_prices_date(version: str) -> date | None:
    """The date of the data of an installed genai-prices version (`genai-prices 0.2.3 (PyPI)` or `0.2.3`)."""
    number = version.removeprefix("genai-prices ").split(" ")[0]
    return GENAI_PRICES_RELEASES.get(number)


def get_source(slug: str) -> ReferenceSource:
    try:
        return REFERENCE_SOURCES[slug]
    except KeyError:
        raise KeyError(f"unknown reference source {slug!r}; known: {', '.join(REFERENCE_SOURCES)}") from None
