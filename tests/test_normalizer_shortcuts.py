"""The normalizer's shortcuts give exactly what the long way gave: a price list converted once per listing, the
id-kind prefilter on the id behind a "/", printable text kept without a regex pass."""

from __future__ import annotations

import random
import re
import string
from decimal import Decimal

from include.gatewayz_sync.catalog import kinds
from include.gatewayz_sync.catalog.normalize import RecordNormalizer
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.untrusted import _UNSAFE, strip_controls

PRICES = ["0.0000001", "1e-7", "0.00000010", "-1", "abc", "", " 0.000002 ", "0", 0, 1, True, False, None,
          Decimal("0.0000001"), Decimal("1E-7"), 1e-7, [1], {"a": 1}]


def _record(index: int, rng: random.Random) -> dict:
    return {"id": f"vendor/model-{index}", "name": f"Model {index}",
            "pricing": {"prompt": rng.choice(PRICES), "completion": rng.choice(PRICES), "request": rng.choice(PRICES)}}


def test_a_listing_of_repeated_price_lists_normalizes_as_each_record_alone():
    spec = GATEWAY_REGISTRY["openrouter"].list_api
    rng = random.Random(7)
    records = [_record(index, rng) for index in range(600)]
    listing = RecordNormalizer(spec)
    together = list(listing.normalize_all(records))
    alone_nulled = {}
    for record, model in zip(records, together, strict=True):
        single = RecordNormalizer(spec, now=listing.now)
        expected = single.normalize(record)
        assert (model.prices, model.prices.rows(), model.raw_pricing, model.price_is_variable, model.is_free,
                model.price_unknown_reason) == (expected.prices, expected.prices.rows(), expected.raw_pricing,
                                                expected.price_is_variable, expected.is_free,
                                                expected.price_unknown_reason), record
        for reason, count in single.report.nulled.items():
            alone_nulled[reason] = alone_nulled.get(reason, 0) + count
    assert dict(listing.report.nulled) == alone_nulled


def test_the_kind_prefilter_matches_exactly_the_ids_some_pattern_matches():
    anchored = re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in kinds._ID_PATTERNS))
    fragments = ["rerank", "embed", "bge-", "e5-", "gte-", "ocr", "tts", "aura", "nova-1", "flux", "wan2.1-t2v", "live",
                 "veo", "sora", "audio", "image", "asr", "whisper", "sentence-transformers/", "bria/", "-t2i"]
    alphabet = string.ascii_lowercase + string.digits + "/-._"
    rng = random.Random(11)
    for _ in range(20_000):
        model_id = "".join(rng.choice(fragments) if rng.random() < 0.3 else
                           "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))
                           for _ in range(rng.randint(1, 4)))
        assert (anchored.search(model_id) is None) == (kinds._ANY.search("/" + model_id) is None), model_id


def test_stripping_controls_keeps_printable_text_and_strips_the_rest_as_the_regex_does():
    rng = random.Random(5)
    pieces = ["plain words", "tab\there", "new\nline", "\x1b[2J", "\x7f", "\x85", "\u202eRTL\u202c", "\u2066", "émoji 🚀",
              "\u061c", "\u200e", "ok"]
    for _ in range(2_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        assert strip_controls(text) == _UNSAFE.sub("", text)
