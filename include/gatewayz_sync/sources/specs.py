"""Declarative shapes of a provider and of its model-list API.

A provider is data: display fields plus a `ListApiSpec` saying where the list lives, how to authenticate,
how it pages, where the records are, which record fields mean what, and the unit its prices are quoted in.
Everything is validated when the registry is imported, so a typo fails the deploy, not the 3 a.m. sync.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import orjson

from .auth import KeyPlacement
from .paging import Paginator, SinglePage

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
COLOR_PATTERN = re.compile(r"^bg-[a-z]+(?:-\d{2,3})?$")


class RegistryError(ValueError):
    """A provider entry is malformed; the message names the slug and the field."""


class PriceUnit(StrEnum):
    """The unit a provider quotes token prices in. Converted once to USD per 1M tokens (catalog/units.py)."""

    USD_PER_TOKEN = "usd_per_token"
    USD_PER_1K_TOKENS = "usd_per_1k_tokens"
    USD_PER_1M_TOKENS = "usd_per_1m_tokens"
    USD_0_0001_PER_1M_TOKENS = "usd_0.0001_per_1m_tokens"
    US_CENTS_PER_100M_TOKENS = "us_cents_per_100m_tokens"
    USD_SCALED_AMOUNT_PER_TOKEN = "usd_scaled_amount_per_token"
    NONE = "none"


class Priority(StrEnum):
    FAST = "fast"
    SLOW = "slow"


TOKEN_METERS = ("input", "output", "cache_read", "cache_write", "reasoning")
# A price per one unit, USD as listed: the meter's default unit, or the one a `UnitPrice` names.
UNIT_METERS = {"request": "request", "input_image": "image", "web_search": "request", "input_audio": "minute",
               "output_image": "megapixel", "output_audio": "second", "output_video": "second"}
UNIT_PRICE_UNITS = ("second", "minute", "hour", "image", "megapixel", "page", "request")
CAPABILITIES = ("tools", "vision", "reasoning", "structured_output")
KINDS = ("chat", "embedding", "rerank", "moderation", "image", "video", "tts", "stt", "audio", "ocr")


@dataclass(frozen=True)
class Flag:
    """A capability read as the boolean at `path` (`capabilities.vision`, `supports_tools`)."""

    path: str


@dataclass(frozen=True)
class Member:
    """A capability that holds when any of `values` is in the list at `path`.

    The list being absent means unknown (NULL); present without the values means False.
    """

    path: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Value:
    """Holds when the scalar at `path` is one of `values` (`type` = "audio")."""

    path: str
    values: tuple[str, ...]


CapabilitySelector = Flag | Member
Selector = Flag | Member | Value


@dataclass(frozen=True)
class UnitPrice:
    """A price in USD per one `unit` (not per token) at `path`: Together's `pricing.transcribe.price_per_minute`."""

    path: str
    unit: str


@dataclass(frozen=True)
class AliasGroup:
    """The provider's own listing says which ids name one model: `members` is the list of the other ids of the
    group, `canonical` the id they all stand for (Mistral: `aliases` and `name`). A record whose canonical id is
    another member is an alias of it (`models.alias_of`)."""

    members: str
    canonical: str


@dataclass(frozen=True)
class FieldMap:
    """Where each normalized field lives in a (quirk-prepared) record: dotted paths, first non-null wins."""

    id: str = "id"
    name: tuple[str, ...] = ("name",)
    description: tuple[str, ...] = ("description",)
    context_length: tuple[str, ...] = ("context_length",)
    max_output_tokens: tuple[str, ...] = ()
    max_input_tokens: tuple[str, ...] = ()
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    deprecation_date: tuple[str, ...] = ()
    shutdown_date: tuple[str, ...] = ()
    # The model the provider names as the one to move to once this one is deprecated.
    replacement_model: tuple[str, ...] = ()
    token_prices: Mapping[str, str] = field(default_factory=dict)
    unit_prices_usd: Mapping[str, str | UnitPrice] = field(default_factory=dict)
    capabilities: Mapping[str, CapabilitySelector] = field(default_factory=dict)
    # When this holds, the listed input/output "token" prices are per character (text-to-speech).
    per_character: Selector | None = None
    # meter -> path of an {example_price, example_description} object: a price for one example size or length,
    # not a unit price; recorded in the reason a model stays unpriced, never stored as a price.
    example_prices: Mapping[str, str] = field(default_factory=dict)
    # (selector, kind) pairs, first that holds wins; then output modalities, then the id (catalog/kinds.py).
    kind: tuple[tuple[Selector, str], ...] = ()
    aliases: AliasGroup | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "token_prices", MappingProxyType(dict(self.token_prices)))
        object.__setattr__(self, "unit_prices_usd", MappingProxyType(dict(self.unit_prices_usd)))
        object.__setattr__(self, "capabilities", MappingProxyType(dict(self.capabilities)))
        object.__setattr__(self, "example_prices", MappingProxyType(dict(self.example_prices)))


@dataclass(frozen=True)
class ListApiSpec:
    """How to list one provider's models. `base_url` may carry a path prefix; `path` is appended."""

    base_url: str
    path: str
    auth: KeyPlacement | None
    records_path: str | None
    price_unit: PriceUnit = PriceUnit.NONE
    fields: FieldMap = field(default_factory=FieldMap)
    paginator: Paginator = field(default_factory=SinglePage)
    key_required: bool = True
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)
    quirk: str | None = None
    record_filter: str | None = None
    volatile_fields: tuple[str, ...] = ()
    variable_price_sentinel: str | None = None
    auth_error_markers: tuple[str, ...] = ()
    free_id_suffixes: tuple[str, ...] = ()
    free_ids: tuple[str, ...] = ()
    # What a listed 0 means at this provider (it is never a price unless the model is an explicit free variant).
    zero_price_means: str | None = None
    # Why the listing's prices are deliberately not read (a unit nobody documents), said as a model's unknown-price
    # reason instead of "publishes no prices".
    prices_unread_reason: str | None = None

    def __post_init__(self) -> None:
        for name in ("headers", "params", "path_params"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))


@dataclass(frozen=True)
class Provider:
    """One registry entry. `list_api` is None for providers with no public model list."""

    slug: str
    name: str
    color: str
    priority: Priority
    site_url: str
    list_api: ListApiSpec | None
    docs_url: str | None = None
    icon: str | None = None
    aliases: tuple[str, ...] = ()
    key_env: str | None = None
    supports_streaming: bool = True
    no_list_reason: str | None = None

    @property
    def api_key_env(self) -> str:
        return self.key_env or f"{self.slug.upper().replace('-', '_')}_API_KEY"

    @property
    def connection_id(self) -> str:
        return f"gatewayz_{self.slug.replace('-', '_')}"


def _fail(slug: str, field_name: str, problem: str) -> RegistryError:
    return RegistryError(f"provider {slug!r}: {field_name}: {problem}")


def _require_https(slug: str, field_name: str, url: str | None) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise _fail(slug, field_name, f"must be an https URL, got {url!r}")


def validate_provider(provider: Provider) -> None:
    slug = provider.slug
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug):
        raise _fail(str(slug), "slug", "must be lower-case letters, digits and single dashes")
    if not provider.name or not provider.name.strip():
        raise _fail(slug, "name", "must not be empty")
    if not COLOR_PATTERN.match(provider.color or ""):
        raise _fail(slug, "color", f"must be a Tailwind background class like 'bg-blue-500', got {provider.color!r}")
    if not isinstance(provider.priority, Priority):
        raise _fail(slug, "priority", f"must be one of {[p.value for p in Priority]}, got {provider.priority!r}")
    _require_https(slug, "site_url", provider.site_url)
    _require_https(slug, "docs_url", provider.docs_url)
    for alias in provider.aliases:
        if not SLUG_PATTERN.match(alias):
            raise _fail(slug, "aliases", f"alias {alias!r} is not a valid slug")
    spec = provider.list_api
    if spec is None:
        if not provider.no_list_reason:
            raise _fail(slug, "list_api", "missing; set no_list_reason when the provider has no public model list")
        return
    validate_list_api(slug, spec)


def validate_list_api(slug: str, spec: ListApiSpec) -> None:
    from . import quirks

    _require_https(slug, "list_api.base_url", spec.base_url)
    if not spec.path.startswith("/"):
        raise _fail(slug, "list_api.path", f"must start with '/', got {spec.path!r}")
    if spec.auth is not None and not isinstance(spec.auth, KeyPlacement):
        raise _fail(slug, "list_api.auth", f"must be Bearer(), Header(name), Query(param), Scheme(word) or None, got {spec.auth!r}")
    if spec.auth is not None and (problem := spec.auth.problem()):
        raise _fail(slug, "list_api.auth", problem)
    if spec.auth is None and spec.key_required:
        raise _fail(slug, "list_api.key_required", "an API that takes no key (auth=None) cannot require one")
    if not isinstance(spec.price_unit, PriceUnit):
        raise _fail(slug, "list_api.price_unit", f"unknown price unit {spec.price_unit!r}; known: {[u.value for u in PriceUnit]}")
    if not isinstance(spec.paginator, Paginator):
        raise _fail(slug, "list_api.paginator", f"unknown paging style {spec.paginator!r}")
    if spec.fields.token_prices and spec.price_unit is PriceUnit.NONE:
        raise _fail(slug, "list_api.price_unit", "token prices are mapped but no price unit is declared")
    for meter in spec.fields.token_prices:
        if meter not in TOKEN_METERS:
            raise _fail(slug, "list_api.fields.token_prices", f"unknown meter {meter!r}; known: {list(TOKEN_METERS)}")
    for meter, where in spec.fields.unit_prices_usd.items():
        if meter not in UNIT_METERS:
            raise _fail(slug, "list_api.fields.unit_prices_usd", f"unknown meter {meter!r}; known: {list(UNIT_METERS)}")
        if isinstance(where, UnitPrice) and where.unit not in UNIT_PRICE_UNITS:
            raise _fail(slug, "list_api.fields.unit_prices_usd",
                        f"{meter!r}: unknown unit {where.unit!r}; known: {list(UNIT_PRICE_UNITS)}")
    for selector, kind in spec.fields.kind:
        if kind not in KINDS or not isinstance(selector, (Flag, Member, Value)):
            raise _fail(slug, "list_api.fields.kind", f"needs (Flag | Member | Value, one of {list(KINDS)}), got {kind!r}")
    if spec.fields.per_character is not None and "input" not in spec.fields.token_prices:
        raise _fail(slug, "list_api.fields.per_character", "declared, but no input price is mapped")
    for capability, selector in spec.fields.capabilities.items():
        if capability not in CAPABILITIES:
            raise _fail(slug, "list_api.fields.capabilities", f"unknown capability {capability!r}; known: {list(CAPABILITIES)}")
        if not isinstance(selector, (Flag, Member)):
            raise _fail(slug, "list_api.fields.capabilities", f"{capability!r} needs a Flag or Member selector")
    if spec.quirk is not None and spec.quirk not in quirks.RECORD_QUIRKS:
        raise _fail(slug, "list_api.quirk", f"unknown quirk {spec.quirk!r}; known: {sorted(quirks.RECORD_QUIRKS)}")
    if spec.record_filter is not None and spec.record_filter not in quirks.RECORD_FILTERS:
        raise _fail(slug, "list_api.record_filter", f"unknown filter {spec.record_filter!r}; known: {sorted(quirks.RECORD_FILTERS)}")
    if any(not marker.strip() for marker in (*spec.free_id_suffixes, *spec.free_ids)):
        raise _fail(slug, "list_api.free_id_suffixes", "a free-variant marker must not be empty")
    placeholders = set(re.findall(r"\{(\w+)\}", spec.base_url + spec.path))
    missing = placeholders - set(spec.path_params)
    if missing:
        raise _fail(slug, "list_api.path_params", f"no env var declared for placeholder(s) {sorted(missing)}")


def validate_registry(providers: tuple[Provider, ...]) -> Mapping[str, Provider]:
    by_slug: dict[str, Provider] = {}
    for provider in providers:
        validate_provider(provider)
        if provider.slug in by_slug:
            raise _fail(provider.slug, "slug", "duplicated in the registry")
        by_slug[provider.slug] = provider
    names = [alias for p in providers for alias in p.aliases] + list(by_slug)
    duplicates = sorted({a for a in names if names.count(a) > 1})
    if duplicates:
        raise RegistryError(f"aliases collide with other slugs or aliases: {duplicates}")
    return MappingProxyType(by_slug)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value):
        return {"__type__": type(value).__name__, **{f.name: _plain(getattr(value, f.name)) for f in fields(value)}}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def registry_fingerprint(provider: Provider) -> str:
    """Changes whenever anything about the entry changes: the provider sync rewrites exactly those rows."""
    return hashlib.sha256(orjson.dumps(_plain(provider), option=orjson.OPT_SORT_KEYS)).hexdigest()


def spec_fingerprint(spec: ListApiSpec) -> str:
    """Part of every model's content hash: a spec change re-normalizes the provider's models."""
    return hashlib.sha256(orjson.dumps(_plain(spec), option=orjson.OPT_SORT_KEYS)).hexdigest()
