"""A listing's shape and its drift, and the price-jump comparison, without a database."""

from __future__ import annotations

from decimal import Decimal

from include.gatewayz_sync.catalog.meters import PriceKey, PriceSheet
from include.gatewayz_sync.catalog.shape import ListingShape, ShapeCounter, drift_notes
from include.gatewayz_sync.dev.replay.faults import Fault
from include.gatewayz_sync.prices.price_set import price_jump
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY

D = Decimal


def sheet(**prices: str) -> PriceSheet:
    """Base prices by meter: per token, except `input_image` (per image)."""
    return PriceSheet({PriceKey(m, "image" if m == "input_image" else "token"): D(v) for m, v in prices.items()})


def shape_of(records: list[dict]) -> ListingShape:
    counter = ShapeCounter()
    for record in records:
        counter.count(record)
    return counter.shape()


def openrouter_like(count: int, price_key: str = "pricing") -> list[dict]:
    return [{"id": f"m{n}", "context_length": 1000, price_key: {"prompt": "0.1", "completion": "0.2"}}
            for n in range(count)]


def test_a_shape_counts_each_key_and_each_key_of_an_object_value():
    shape = shape_of([{"id": "a", "pricing": {"prompt": "1"}, "tags": ["x"]}, {"id": "b", "pricing": None}])
    assert shape.as_dict() == {"records": 2, "keys": {"id": 2, "pricing": 2, "pricing.prompt": 1, "tags": 1}}
    assert ListingShape.from_dict(shape.as_dict()) == shape
    assert ListingShape.from_dict(None) is None and ListingShape.from_dict({"records": 3}) is None


def test_a_renamed_price_object_is_named_as_records_lacking_it_and_the_new_key_in_its_place():
    before, now = shape_of(openrouter_like(218)), shape_of(openrouter_like(218, "price"))
    report = {"records_seen": 218, "rejected": {}, "nulled": {}}
    assert drift_notes(before, report, now, report) == ["218 records now lack `pricing`", "new key `price` seen"]


def test_new_keys_alone_and_small_losses_are_not_drift_but_jumps_in_rejected_or_nulled_reasons_are():
    base = openrouter_like(100)
    grown = [{**record, "architecture": {"modality": "text"}} for record in base]
    report = {"records_seen": 100, "rejected": {}, "nulled": {}}
    assert drift_notes(shape_of(base), report, shape_of(grown), report) == [], "a provider adding fields is normal"
    fewer = [{k: v for k, v in r.items() if k != "context_length"} if n < 4 else r for n, r in enumerate(base)]
    assert drift_notes(shape_of(base), report, shape_of(fewer), report) == [], "4 records are under the minimum"
    worse = {"records_seen": 100, "rejected": {"id_missing": 40}, "nulled": {"input_price_negative": 2}}
    assert drift_notes(shape_of(base), {**report, "rejected": {"id_missing": 1}}, shape_of(base), worse) == [
        "40 of 100 records rejected for `id_missing` (was 1 of 100)"]
    assert drift_notes(None, None, shape_of(base), worse) == [], "nothing to compare with on a first listing"


def test_a_child_of_a_lost_key_is_not_named_twice_but_a_lost_child_alone_is():
    before = shape_of([{"id": "x", "top_provider": {"context_length": 1, "max": 2}} for _ in range(10)])
    gone = shape_of([{"id": "x"} for _ in range(10)])
    report = {"records_seen": 10}
    assert drift_notes(before, report, gone, report) == ["10 records now lack `top_provider`"]
    child = shape_of([{"id": "x", "top_provider": {"max": 2}} for _ in range(10)])
    assert drift_notes(before, report, child, report) == ["10 records now lack `top_provider.context_length`"]


def test_a_price_jump_is_10x_either_way_on_any_meter_both_give_above_zero():
    image = PriceKey("input_image", "image")
    stored = sheet(input="0.15", output="0.6", input_image="0.01")
    assert price_jump(stored, sheet(input="150", output="600")) == (D(1000), PriceKey("input"))
    assert price_jump(stored, sheet(input="0.00015", output="0.0006")) == (D(1000), PriceKey("input"))
    assert price_jump(stored, sheet(input="0.45", output="0.6")) is None, "a real 3x move applies"
    assert price_jump(stored, sheet(input="0.15", input_image="0.1")) == (D(10), image), "every meter counts"
    assert price_jump(stored, sheet(input="0", output="0.6")) is None, "a zero is no unit measure"
    per_character = PriceSheet({PriceKey("input", "character"): D(22)})
    assert price_jump(per_character, PriceSheet({PriceKey("input", "character"): D(22000)})) == (
        D(1000), PriceKey("input", "character")), "a per-character price jumps by its own unit"
    assert price_jump(per_character, sheet(input="22")) is None, "a price in another unit is not compared"


def test_the_replay_drift_faults_bend_records_as_an_api_change_would():
    spec = GATEWAY_REGISTRY["groq"].list_api
    records = [{"id": "a", "pricing": {"prompt": "0.00000015", "image": "0"}, "context_window": 8},
               {"id": "b", "pricing": {"prompt": D("0.000001")}, "context_window": 8}]
    renamed = Fault(rename_keys={"pricing": "price", "context_window": "limits.context"}).bend_records(records, spec)
    assert renamed[0] == {"id": "a", "price": {"prompt": "0.00000015", "image": "0"}, "limits": {"context": 8}}
    scaled = Fault(scale_prices="1000").bend_records(records, spec)
    assert scaled[0]["pricing"] == {"prompt": "0.00015", "image": "0"} and scaled[1]["pricing"]["prompt"] == D("0.001")
    one = Fault(scale_prices="3", scale_ids=["b"]).bend_records(records, spec)
    assert one[0]["pricing"]["prompt"] == "0.00000015" and one[1]["pricing"]["prompt"] == D("0.000003")
    half = Fault(drop_keys=["context_window"], drop_share=0.5).bend_records(records, spec)
    assert "context_window" not in half[0] and half[1]["context_window"] == 8
    assert records[0]["pricing"]["prompt"] == "0.00000015", "the recording itself is untouched"
