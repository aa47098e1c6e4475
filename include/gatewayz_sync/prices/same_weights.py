"""Capabilities of open weights from the other hosts that serve the same weights: source `same-weights`.

Tool calling and image input are properties of a model's weights (its training and chat template), so where a host
says nothing about them, what the other hosts of the same weights say stands for it, with its own source and the
lowest precedence: the provider's list API, an operator and every reference that describes the host itself
(models.dev's `togetherai`, LiteLLM's `together_ai/`) come first (`field_resolve.FALLBACK_SOURCES`), and a
disagreement with them stays a candidate, `differs`, as any other. Only `WEIGHTS_FIELDS` are read so: a window and
an output limit belong to the host (Together lists Qwen2.5-72B-Instruct at 32,768 tokens and its -Turbo flavour at
131,072), so they are never taken from another host.

Which models are the same weights, explicitly, never by likeness of names:

- a host whose ids are Hugging Face repository ids (`HF_ID_HOSTS`) serves the repository its id names; two such ids
  name the same repository when they are equal ignoring case (the Hub resolves ids so);
- OpenRouter names the repository of each of its models (`hugging_face_id`); its own ids (`qwen/qwen-2.5-72b-instruct`)
  are not repository ids and are never compared;
- a quantized copy is the same weights (`QUANTIZATION_SUFFIXES`: `zai-org/GLM-4.7-FP8`), and so is a host's serving
  flavour that its id marks with a suffix (`HOST_SUFFIXES`: Together's `-Turbo` and `-tput`, Nebius' `-fast`,
  Chutes' `-TEE`). A suffix that names other weights (`-Lite`: DeepSeek-V2-Lite is another model; `-Instruct`,
  `-Base`, a date) is never removed.

The value is taken only where every other host of the weights that knows it agrees (a value stored from the host's
list API, an operator or a host reference; never one itself taken from the same weights); where they disagree, no
candidate is made. Only chat models are read and filled.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SAME_WEIGHTS = "same-weights"
SOURCE_VERSION = "the other hosts of the same weights, as stored"
WEIGHTS_FIELDS = ("supports_tools", "supports_vision")
HF_ID_HOSTS = ("together", "deepinfra", "nebius", "chutes", "near", "featherless", "huggingface")
HF_ID_DECLARED_BY = {"openrouter": "hugging_face_id"}
QUANTIZATION_SUFFIXES = ("-fp8", "-fp4", "-bf16")
HOST_SUFFIXES: Mapping[str, tuple[str, ...]] = {
    "together": ("-turbo", "-tput", "-free"),
    "deepinfra": ("-turbo",),
    "nebius": ("-fast",),
    "chutes": ("-tee",),
}
REPOSITORY_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
NAMED_EVIDENCE = 3


@dataclass(frozen=True)
class HostedModel:
    """One active chat model as the resolver decided it: its host, id, the repository it declares, and for each of
    `WEIGHTS_FIELDS` its value and the source of that value."""

    model_id: int
    slug: str
    provider_model_id: str
    declared_repository: str | None
    values: Mapping[str, tuple[Any, str | None]]


def weights_key(slug: str, provider_model_id: str, declared_repository: str | None) -> str | None:
    """The repository a model serves, lower-cased, without quantization and serving suffixes; None when unknown."""
    if slug in HF_ID_DECLARED_BY:
        repository, suffixes = declared_repository, ()
    elif slug in HF_ID_HOSTS:
        repository, suffixes = provider_model_id, HOST_SUFFIXES.get(slug, ())
    else:
        return None
    if not isinstance(repository, str) or not REPOSITORY_ID.match(repository):
        return None
    key = repository.lower()
    removable = (*suffixes, *QUANTIZATION_SUFFIXES)
    for _ in range(len(removable)):
        suffix = next((s for s in removable if key.endswith(s) and len(key) > len(s)), None)
        if suffix is None:
            break
        key = key[: -len(suffix)]
    return key


@dataclass(frozen=True)
class WeightsValue:
    model_id: int
    field: str
    value: Any
    evidence: str


def same_weights_values(models: Iterable[HostedModel]) -> list[WeightsValue]:
    """For each model and field of `WEIGHTS_FIELDS`: the value every other host of its weights agrees on."""
    by_key: dict[str, list[HostedModel]] = defaultdict(list)
    keyed = []
    for model in models:
        key = weights_key(model.slug, model.provider_model_id, model.declared_repository)
        if key is not None:
            by_key[key].append(model)
            keyed.append((key, model))
    found = []
    for key, model in keyed:
        for name in WEIGHTS_FIELDS:
            evidence = sorted((other.slug, other.provider_model_id, other.values[name][0]) for other in by_key[key]
                              if other.model_id != model.model_id and other.values[name][0] is not None
                              and other.values[name][1] != SAME_WEIGHTS)
            if not evidence or len({value for _, _, value in evidence}) != 1:
                continue
            named = ", ".join(f"{slug} {model_id}" for slug, model_id, _ in evidence[:NAMED_EVIDENCE])
            more = f" and {len(evidence) - NAMED_EVIDENCE} more" if len(evidence) > NAMED_EVIDENCE else ""
            found.append(WeightsValue(model.model_id, name, evidence[0][2], named + more))
    return found
