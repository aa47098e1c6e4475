"""Which reference entry prices one of our models: explicit rules, tried in order, never fuzzy.

For one (provider, model id, source), the first rule that finds a priced entry wins; failing that, the first entry
found that gives no price (listed at 0, or without a price: kept so the model's unknown-price reason can say so).
Only the source's providers mapped to ours (`sources.py`) are searched, so an id never borrows another provider's
price.

1. `exact`            the source lists our id verbatim (case-sensitive).
2. `source-alias`     genai-prices only: our id is one of the `equals` aliases the source declares for a model
                      (dated ids such as gpt-4o-2024-08-06), compared case-insensitively as genai-prices does.
3. `provider-prefix`  LiteLLM only: the source lists `<its prefix>/<our id>` (`mistral/`, `gemini/`, `dashscope/`).
   `openrouter-author`  OpenRouter's listing only: it lists `<the first party>/<our id>` (`openai/gpt-4o-2024-05-13`,
                      `qwen/qwen-plus`): the same id from the first party's own namespace, never a `:free` or
                      `~latest` variant (those are other ids). An open-weight model's entry (its `hugging_face_id`
                      set) is matched with its price and the reason that price is another host's: a cross-check,
                      never the model's price (`resolve.py`).
4. `stripped-prefix`  a documented prefix of our id is removed, then 1-3 on the rest: Fireworks
                      `accounts/fireworks/models/`, Google `models/` (the Gemini API's resource name).
   `declared-id`      the source files the model under another id, declared pair by pair with its evidence in
                      `sources.py` (`declared_ids`), then 1-3 on that id: LiteLLM's `accounts/fireworks/models/` keys
                      for Fireworks partners' models served from the partner's account. A declared pair, never a
                      pattern: nothing else about an id makes it another id.
5. `snapshot-alias`   Alibaba only: a dated snapshot `<alias>-YYYY-MM-DD` that the source does not list is
                      priced as `<alias>`, then 1-4 on the alias. Justification, from the data: the only source
                      that lists Alibaba snapshots at all is LiteLLM (Alibaba's own `dashscope` price list), and
                      each of its 10 dated snapshots there (qwen-plus-2025-01-25, -04-28, -07-14, -07-28,
                      -09-11, qwen-turbo-2024-11-01, -2025-04-28, qwen-flash-2025-07-28,
                      qwen3-coder-flash-2025-07-28, qwen3-coder-plus-2025-07-22; @5390469c) has its alias's
                      input and output price, and no field (cache, reasoning, long-context tier) that both give
                      differs; the same holds for OpenRouter's Alibaba-served qwen-plus-2025-07-28 in both
                      models.dev and genai-prices. It is not applied elsewhere because elsewhere it is false:
                      OpenAI's gpt-4o-2024-05-13 costs 5/15 where gpt-4o costs 2.5/10 (models.dev @f3fc6922).

6. `elsewhere`        where no mapped provider lists the id at all, the source's providers declared `elsewhere`
                      for ours (models.dev's `alibaba-cn`, the China-region price list, and Alibaba's subscription
                      plans for our international `alibaba`) are searched with 1-5, and a hit is kept **without its
                      prices**: it only lets the model's unknown-price reason say "listed only as alibaba-cn's
                      glm-5.1: China-region prices, not the international endpoint's". An international model is
                      never billed at a China-region price.

Never applied: case-folding outside genai-prices' aliases, the source's own `starts_with`/`contains`/regex
patterns (broader than an id: `gpt-4-0613` would take gpt-4's price), and dropping version suffixes such as
`-0324` or `-2507` (model versions, not snapshots: deepseek-v3-0324 is not deepseek-v3). Nor, from the
investigation of the chat models left unpriced on the recorded catalog (the README lists them by group):

- renamed Hugging Face repositories: Nebius serves `meta-llama/Meta-Llama-3.1-8B-Instruct` (and `-fast`) and
  `nvidia/Nemotron-Nano-V2-12b`, genai-prices' `huggingface_nebius` prices `meta-llama/Llama-3.1-8B-Instruct` and
  `nvidia/NVIDIA-Nemotron-Nano-12B-v2`. Likely the same weights, but no source we bundle says the ids are one
  model, and Nebius prices its base and `-fast` flavours apart where models.dev lists both (DeepSeek-V3.2
  0.3 / 0.45 against -fast 0.4 / 2): a renamed id could carry the wrong flavour's price.
- the same model at another host: GLM 5.2 on Mistral (`glm-5-2`), gpt-oss-20b, MiniMax-M2.1 and GLM-4.7 on
  Nebius, DeepSeek, GLM and Kimi models on Alibaba are priced by other providers (Z.ai, OpenRouter, Together,
  `alibaba-cn`...), never by the one that serves ours; OpenRouter's author rule covers first-party models only.
- size classes: LiteLLM's `fireworks-ai-up-to-4b` ... `-above-16b` price Fireworks models by parameter count,
  which the listing does not give for other accounts' models (the fine-tune `accounts/tvergho-87e44d/...`); read
  from a name it would be a guess. (Sentient's two Dobby models are priced by LiteLLM's own entries for them, a
  declared pair each, not by a size class.)
- a newer version's or a preview's price: gemini-robotics-er-1.6-preview is not -er-2-preview (genai-prices) nor
  -er-1.5-preview (LiteLLM); qwen3.7-max-preview is not qwen3.7-max; qwen3-235b-a22b-instruct-2507 is not
  qwen3-235b-a22b.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .documents import ReferenceEntry, ReferenceIndex
from .sources import SourceProviders

EXACT, SOURCE_ALIAS, PROVIDER_PREFIX = "exact", "source-alias", "provider-prefix"
STRIPPED_PREFIX, SNAPSHOT_ALIAS, ELSEWHERE = "stripped-prefix", "snapshot-alias", "elsewhere"
DECLARED_ID = "declared-id"

STRIPPED_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "fireworks": ("accounts/fireworks/models/",),
    "google-vertex": ("models/",),
}
SNAPSHOT_SUFFIXES: Mapping[str, re.Pattern] = {
    "alibaba": re.compile(r"^(?P<alias>.+)-\d{4}-\d{2}-\d{2}$"),
}


@dataclass(frozen=True)
class Match:
    entry: ReferenceEntry
    rule: str
    # `elsewhere` only: why the entry's provider is not ours (its prices are never used)
    elsewhere: str | None = None

    @property
    def priced(self) -> bool:
        return not self.entry.zero_only and self.no_price is None

    @property
    def no_price(self) -> str | None:
        """Why this match gives our model no price, in words (None when it does): the entry has none, or its price
        is not the first party's (an open-weight model in OpenRouter's listing)."""
        if self.elsewhere is not None:
            entry = self.entry
            return f"listed only as {entry.source_provider}'s {entry.source_model_id}: {self.elsewhere}"
        return self.entry.no_price


def _direct(index: ReferenceIndex, mapping: SourceProviders, model_id: str) -> Iterator[Match]:
    for provider in mapping.providers:
        if (entry := index.entries.get(provider, {}).get(model_id)) is not None:
            yield Match(entry, EXACT)
    for provider in mapping.providers:
        canonical = index.aliases.get(provider, {}).get(model_id.lower())
        if canonical is not None and (entry := index.entries.get(provider, {}).get(canonical)) is not None:
            yield Match(entry, SOURCE_ALIAS)
    for prefix in mapping.key_prefixes:
        for provider in mapping.providers:
            if (entry := index.entries.get(provider, {}).get(prefix + model_id)) is not None:
                yield Match(entry, mapping.prefix_rule)


def _id_forms(slug: str, model_id: str) -> Iterator[tuple[str, str]]:
    yield model_id, ""
    for prefix in STRIPPED_PREFIXES.get(slug, ()):
        if model_id.startswith(prefix) and len(model_id) > len(prefix):
            yield model_id[len(prefix):], f"{STRIPPED_PREFIX}+"


def _matches(index: ReferenceIndex, mapping: SourceProviders, slug: str, model_id: str) -> Iterator[Match]:
    """Every entry the rules find, in rule order: the id's forms first, then the id the source files it under (a
    declared pair), then its snapshot's alias (Alibaba)."""
    for form, via in _id_forms(slug, model_id):
        for found in _direct(index, mapping, form):
            yield Match(found.entry, via + found.rule)
    declared = dict(mapping.declared_ids).get(model_id)
    if declared is not None:
        for found in _direct(index, mapping, declared):
            yield Match(found.entry, f"{DECLARED_ID}+{found.rule}")
    pattern = SNAPSHOT_SUFFIXES.get(slug)
    dated = pattern.match(model_id) if pattern else None
    if dated:
        for form, via in _id_forms(slug, dated["alias"]):
            for found in _direct(index, mapping, form):
                yield Match(found.entry, f"{SNAPSHOT_ALIAS}+{via}{found.rule}")


def _first(matches: Iterator[Match]) -> Match | None:
    """The first priced match, else the first match."""
    first = None
    for found in matches:
        if found.priced:
            return found
        first = first or found
    return first


def match_model(index: ReferenceIndex, mapping: SourceProviders, slug: str, model_id: str) -> Match | None:
    """The entry that prices `model_id` of provider `slug` in this source, and the rule that found it; or, when
    none does, an entry that says why the source gives no price for it."""
    if (found := _first(_matches(index, mapping, slug, model_id))) is not None:
        return found
    for provider, why in mapping.elsewhere:
        there = SourceProviders((provider,), mapping.key_prefixes, mapping.prefix_rule)
        if (found := _first(_matches(index, there, slug, model_id))) is not None:
            return Match(found.entry, f"{ELSEWHERE}+{found.rule}", why)
    return None
