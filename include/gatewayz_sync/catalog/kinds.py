"""What kind of model a record is: chat, embedding, rerank, moderation, image, video, tts, stt, audio or ocr.

Read in this order, the first answer wins: what the provider's listing declares (its spec's `kind` rules:
Together's `type`, Cohere's `endpoints`, Mistral's capabilities), the listed output modalities, then the id.
The id patterns below are a reading for reports (the chat-model coverage), for comparing a price with its
siblings of the same kind, and for the browser; never for matching or pricing a model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..sources.paths import read_path
from ..sources.specs import Flag, Member, Selector, Value

CHAT = "chat"

_OUTPUT_MODALITIES = (
    ("embeddings", "embedding"), ("embedding", "embedding"), ("video", "video"), ("speech", "tts"),
    ("transcription", "stt"), ("image", "image"),
)
# Ordered: the first pattern that matches the lower-cased id decides.
_ID_PATTERNS = tuple((re.compile(pattern), kind) for pattern, kind in (
    (r"rerank", "rerank"),
    (r"embed|(^|/)bge-|(^|[/-])e5-|text-embedding|gte-|(^|/)sentence-transformers/|text2vec|clip-vit", "embedding"),
    (r"moderation|llama-guard|prompt-guard|content-safety|safeguard", "moderation"),
    (r"(^|[/-])ocr", "ocr"),
    (r"(^|[/-])tts|text-to-speech|(^|/)aura|melotts|orpheus|kokoro|sonic|speech|voxtral-mini-tts", "tts"),
    (r"whisper|transcri|(^|[/-])asr|(^|/)nova-[0-9]|(^|/)flux$|parakeet|tingwu|stt", "stt"),
    (r"sora|(^|/)veo|video|kling|seedance|hailuo|(^|/)wan[0-9.]*-?(t2v|i2v|r2v)|happyhorse|vidu|pixverse", "video"),
    (r"lyria|music|realtime|(^|[/-])live|s2s|audio", "audio"),
    (r"image|flux|stable-diffusion|sdxl|dall-e|imagen|dreamshaper|lucid-origin|phoenix|seedream|z-image|"
     r"ideogram|juggernaut|nano-banana|resnet|recraft|(^|/)bria/|(^|/)clarityai/|-t2i$|janus-pro", "image"),
))


def _holds(view: Any, selector: Selector) -> bool:
    if isinstance(selector, Flag):
        return read_path(view, selector.path) is True
    value = read_path(view, selector.path)
    if isinstance(selector, Member):
        return isinstance(value, list) and any(item in value for item in selector.values)
    if isinstance(selector, Value):
        return isinstance(value, str) and value in selector.values
    return False


def declared_kind(view: Any, rules: Iterable[tuple[Selector, str]]) -> str | None:
    return next((kind for selector, kind in rules if _holds(view, selector)), None)


def kind_of(model_id: str, view: Any, rules: Iterable[tuple[Selector, str]],
            output_modalities: tuple[str, ...] | None) -> str:
    declared = declared_kind(view, rules)
    if declared:
        return declared
    outputs = set(output_modalities or ())
    if outputs and "text" not in outputs:
        for modality, kind in _OUTPUT_MODALITIES:
            if modality in outputs:
                return kind
        if "audio" in outputs:
            return "audio"
    return kind_from_id(model_id)


# Most ids match none of the patterns: one search of them all says so before they are tried in order. It runs on
# the id behind a "/", where "(^|/)x" is "/x": twice as fast as the anchors' zero-width alternatives at every
# position (no alternative can begin with the "/" added otherwise).
_ANY = re.compile("|".join(
    f"(?:{pattern.pattern.replace('(^|/)', '/').replace('(^|[/-])', '[/-]')})" for pattern, _ in _ID_PATTERNS))


def kind_from_id(model_id: str) -> str:
    lowered = model_id.lower()
    if _ANY.search("/" + lowered) is None:
        return CHAT
    return next((kind for pattern, kind in _ID_PATTERNS if pattern.search(lowered)), CHAT)
