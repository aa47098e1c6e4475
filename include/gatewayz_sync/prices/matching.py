"""Which reference entry prices one of our models: explicit rules, tried in order, never fuzzy.

For one (provider, model id, source), the first rule that finds a priced entry wins. Only the source's
providers mapped to ours (`sources.py`) are searched, so an id never borrows another provider's price.

1. `exact`            the source lists our id verbatim (case-sensitive).
2. `source-alias`     genai-prices only: our id is one of the `equals` aliases the source declares for a model
                      (dated ids such as gpt-4o-2024-08-06), compared case-insensitively as genai-prices does.
3. `provider-prefix`  LiteLLM only: the source lists `<its prefix>/<our id>` (`mistral/`, `gemini/`, `dashscope/`).
   `openrouter-author`  OpenRouter's listing only: it lists `<the first party>/<our id>` (`openai/gpt-4o-2024-05-13`,
                      `qwen/qwen-plus`): the same id from the first party's own namespace, never a `:free` or
                      `~latest` variant (those are other ids).
4. `stripped-prefix`  a documented prefix of our id is removed, then 1-3 on the rest: Fireworks
                      `accounts/fireworks/models/`, Google `models/` (the Gemini API's resource name).
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

Never applied: case-folding outside genai-prices' aliases, the source's own `starts_with`/`contains`/regex
patterns (broader than an id: `gpt-4-0613` would take gpt-4's price), and dropping version suffixes such as
`-0324` or `-2507` (model versions, not snapshots: deepseek-v3-0324 is not deepseek-v3).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .documents import ReferenceEntry, ReferenceIndex
from .sources import SourceProviders

EXACT, SOURCE_ALIAS, PROVIDER_PREFIX = "exact", "source-alias", "provider-prefix"
STRIPPED_PREFIX, SNAPSHOT_ALIAS = "stripped-prefix", "snapshot-alias"

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


def _direct(index: ReferenceIndex, mapping: SourceProviders, model_id: str) -> Match | None:
    for provider in mapping.providers:
        if (entry := index.entries.get(provider, {}).get(model_id)) is not None:
            return Match(entry, EXACT)
    for provider in mapping.providers:
        canonical = index.aliases.get(provider, {}).get(model_id.lower())
        if canonical is not None and (entry := index.entries.get(provider, {}).get(canonical)) is not None:
            return Match(entry, SOURCE_ALIAS)
    for prefix in mapping.key_prefixes:
        for provider in mapping.providers:
            if (entry := index.entries.get(provider, {}).get(prefix + model_id)) is not None:
                return Match(entry, mapping.prefix_rule)
    return None


def _id_forms(slug: str, model_id: str) -> Iterator[tuple[str, str]]:
    yield model_id, ""
    for prefix in STRIPPED_PREFIXES.get(slug, ()):
        if model_id.startswith(prefix) and len(model_id) > len(prefix):
            yield model_id[len(prefix):], f"{STRIPPED_PREFIX}+"


def _without_snapshot(slug: str, model_id: str, index: ReferenceIndex, mapping: SourceProviders) -> Match | None:
    for form, via in _id_forms(slug, model_id):
        if (found := _direct(index, mapping, form)) is not None:
            return Match(found.entry, via + found.rule)
    return None


def match_model(index: ReferenceIndex, mapping: SourceProviders, slug: str, model_id: str) -> Match | None:
    """The entry that prices `model_id` of provider `slug` in this source, and the rule that found it."""
    if (found := _without_snapshot(slug, model_id, index, mapping)) is not None:
        return found
    pattern = SNAPSHOT_SUFFIXES.get(slug)
    dated = pattern.match(model_id) if pattern else None
    if dated and (found := _without_snapshot(slug, dated["alias"], index, mapping)) is not None:
        return Match(found.entry, f"{SNAPSHOT_ALIAS}+{found.rule}")
    return None
