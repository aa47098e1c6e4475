"""Listings parsed as a stream (`sources/stream.py`): a page split anywhere parses exactly as `json.loads` did, the
digest taken as bytes arrive is the whole body's, the paginators' values are read beside the records, bad and
hostile bodies are refused, and memory does not follow the body's size."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import tracemalloc
from decimal import Decimal
from pathlib import Path

import ijson
import pytest
import requests

from include.gatewayz_sync.catalog.normalize import RecordNormalizer
from include.gatewayz_sync.dev.replay import catalogs
from include.gatewayz_sync.errors import InvalidJson, UnexpectedShape
from include.gatewayz_sync.sources import stream
from include.gatewayz_sync.sources.endpoints import resolve_endpoint
from include.gatewayz_sync.sources.fetch import ProviderFetcher
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.sources.stream import MAX_DEPTH, RecordStream, ResponseBody, TooDeep
from include.gatewayz_sync.store.staging import StagedListing
from tests.conftest import PROVIDER_KEYS
from tests.test_fetch import FAST

RECORDINGS = Path(catalogs.__file__).parent / "recordings"


def _chunks(body: bytes, seed: int) -> list[bytes]:
    """The body cut at random places, with pieces from 1 byte to a few KB."""
    rng, pieces, start = random.Random(seed), [], 0
    while start < len(body):
        size = rng.choice((1, 2, 3, rng.randint(1, 64), rng.randint(1, 8192)))
        pieces.append(body[start : start + size])
        start += size
    return pieces


def _stream(pieces, records_path="data", envelope_paths=()):
    parser = RecordStream(records_path, envelope_paths)
    records = [record for piece in pieces for record in parser.feed(piece)]
    records += parser.close()
    return records, parser


def test_the_c_backend_parses_listings():
    assert stream.PARSER.backend_name == "yajl2_c"
    assert stream.PARSER_NAME == f"ijson {ijson.__version__} yajl2_c"


@pytest.mark.parametrize(("slug", "records_path"), [("openrouter", "data"), ("together", None), ("deepinfra", "data")])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_page_split_anywhere_parses_exactly_as_json_loads(slug, records_path, seed):
    body = (RECORDINGS / f"{slug}.json").read_bytes()
    document = json.loads(body, parse_float=Decimal)
    expected = document if records_path is None else document[records_path]
    records, parser = _stream(_chunks(body, seed), records_path)
    assert records == expected
    assert [type(v) for r in records for v in r.values()] == [type(v) for r in expected for v in r.values()]
    assert parser.found_records and parser.page.count == len(expected) and parser.page.last_record == expected[-1]
    spec = GATEWAY_REGISTRY[slug].list_api
    one, many = RecordNormalizer(spec), RecordNormalizer(spec)
    assert [m.content_hash for m in one.normalize_all(expected)] == [m.content_hash for m in many.normalize_all(records)]


@pytest.mark.parametrize("seed", [4, 5])
def test_the_digest_taken_as_bytes_arrive_is_the_whole_bodys(seed):
    body = (RECORDINGS / "openrouter.json").read_bytes() * 3
    received = ResponseBody()
    for piece in _chunks(body, seed):
        received.write(piece)
    assert received.digest == hashlib.sha256(body).hexdigest()
    assert received.size == len(body) and received.head == body[:4096]
    assert b"".join(received.chunks(1000)) == body == received.read()
    received.close()


def test_the_paginators_values_are_read_wherever_they_sit_in_the_body():
    body = b'{"data": [{"id": "a"}, {"id": "b"}], "links": {"next": "/m?offset=2"}, "has_more": true, "x": [1]}'
    records, parser = _stream(_chunks(body, 6), envelope_paths=("links.next", "has_more", "last_id"))
    assert records == [{"id": "a"}, {"id": "b"}]
    assert parser.page.read("links.next") == "/m?offset=2" and parser.page.read("has_more") is True
    assert parser.page.read("last_id") is None and parser.page.count == 2


def test_a_byte_order_mark_is_dropped_even_when_split():
    body = b'\xef\xbb\xbf{"data": [{"id": "a", "p": 1.5e-6}]}'
    records, _ = _stream([body[:1], body[1:2], body[2:5], body[5:]])
    assert records == [{"id": "a", "p": Decimal("1.5e-6")}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"data": [{"id": "a"}', "premature EOF"),
        (b"<html>nope</html>", "invalid char"),
        (b'{"data": []} trailing', "trailing garbage"),
        (b'{"data": [{"id": "\xff"}]}', "invalid bytes in UTF8"),
        (b"", "premature EOF"),
    ],
)
def test_bodies_that_are_not_json_are_refused(body, message):
    with pytest.raises(ijson.JSONError, match=message):
        _stream([body])


def test_a_body_nested_too_deep_is_refused_before_it_costs_memory():
    depth = 200_000
    body = b'{"data": [' + b"[" * depth + b"]" * depth + b"]}"
    tracemalloc.start()
    try:
        with pytest.raises(TooDeep, match=f"nested deeper than {MAX_DEPTH} levels"):
            _stream(_chunks(body, 7))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20
    nested = b'{"data": [' + b"[" * (MAX_DEPTH - 2) + b"]" * (MAX_DEPTH - 2) + b"]}"
    assert len(_stream([nested])[0]) == 1


@pytest.mark.parametrize(
    ("body", "records_path", "root", "keys"),
    [
        (b'{"error": {"message": "x"}, "data": {"id": "a"}}', "data", "dict", ["data", "error"]),
        (b'[{"id": "a"}]', "data", "list", []),
        (b'"just a string"', None, "str", []),
        (b"12", "data", "int", []),
    ],
)
def test_a_body_without_a_list_at_the_records_path_is_described(body, records_path, root, keys):
    records, parser = _stream([body], records_path)
    assert records == [] and not parser.found_records
    assert parser.root_type == root and sorted(parser.top_keys) == keys


def _parse_peak(models: int) -> tuple[int, int]:
    """(body size, peak bytes allocated while parsing it from its spool) for a page of `models` records."""
    record = json.loads((RECORDINGS / "openrouter.json").read_bytes())["data"][0]
    body = json.dumps({"data": [{**record, "id": f"m-{i}"} for i in range(models)]}).encode()
    received = ResponseBody()
    for start in range(0, len(body), 65536):
        received.write(body[start : start + 65536])
    size = len(body)
    del body
    tracemalloc.start()
    try:
        parser, count = RecordStream("data"), 0
        for chunk in received.chunks():
            count += len(parser.feed(chunk))
        count += len(parser.close())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        received.close()
    assert count == models
    return size, peak


def test_memory_does_not_follow_the_size_of_the_body():
    """Pages of ~4 MB and ~18 MB through the spool and the parser: the peak is a chunk's records either way."""
    small_size, small_peak = _parse_peak(3_000)
    large_size, large_peak = _parse_peak(12_000)
    assert large_size > 3.5 * small_size and large_size > 15 * 2**20
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
    assert large_peak < large_size / 3, (large_peak, large_size)


def test_staged_rows_go_to_the_stage_page_by_page_and_an_abandoned_page_leaves_no_stage(catalog):
    spec = GATEWAY_REGISTRY["openrouter"].list_api
    document = json.loads((RECORDINGS / "openrouter.json").read_bytes(), parse_float=Decimal)
    models = list(RecordNormalizer(spec).normalize_all(document["data"]))
    with StagedListing(catalog) as staged:
        for index, model in enumerate(models):
            if index % 3:
                staged.add(model)
            else:
                staged.add_unchanged(model.provider_model_id, model.content_hash)
            if index % 100 == 99:
                staged.end_page()
        staged.end_page()
        assert len(staged) == len(models)
        assert [m.provider_model_id for m in staged.models] == [m.provider_model_id for m in models]
        rows = dict((row[0], row[1:]) for row in catalog.execute(
            "SELECT provider_model_id, changed, name, content_hash FROM stage_models").fetchall())
    assert len(rows) == len(models)
    for index, model in enumerate(models):
        changed, name, content_hash = rows[model.provider_model_id]
        assert changed == bool(index % 3) and content_hash == model.content_hash
        assert (name is None) == (index % 3 == 0)
    assert catalog.execute("SELECT to_regclass('pg_temp.stage_models')").fetchone()[0] is None

    with StagedListing(catalog) as staged:
        staged.add(models[0])
        staged.end_page()
        staged.add(models[1])
        staged.close()
    assert catalog.execute("SELECT to_regclass('pg_temp.stage_models')").fetchone()[0] is None


def test_a_chunked_page_over_http_has_the_digest_of_its_bytes_and_the_records_of_json_loads(replay):
    provider = GATEWAY_REGISTRY["deepinfra"]
    replay.add_fault("deepinfra", chunked=True)
    environment = {"GATEWAYZ_BASE_URL_OVERRIDE": replay.base_url_override,
                   provider.api_key_env: PROVIDER_KEYS.get("deepinfra", "sk-test")}
    fetcher = ProviderFetcher(provider, resolve_endpoint(provider, None, environment),
                              dataclasses.replace(FAST, max_pages=5))
    try:
        pages = [(page, list(page.records())) for page in fetcher.pages()]
        ((page, records),) = pages
    finally:
        fetcher.close()
    sent = requests.get(fetcher.first_request().url, timeout=10,
                        headers={"Authorization": f"Bearer {environment[provider.api_key_env]}"}).content
    assert page.digest == hashlib.sha256(sent).hexdigest()
    assert records == json.loads(sent, parse_float=Decimal)["data"]
    assert fetcher.stats.parse_seconds > 0


def test_a_truncated_or_hostile_page_is_refused_through_the_fetch_loop(replay):
    provider = GATEWAY_REGISTRY["groq"]
    environment = {"GATEWAYZ_BASE_URL_OVERRIDE": replay.base_url_override,
                   provider.api_key_env: PROVIDER_KEYS.get("groq", "sk-test")}
    depth = 100_000
    replay.add_fault("groq", body='{"data": [' + "[" * depth + "]" * depth + "]}")
    fetcher = ProviderFetcher(provider, resolve_endpoint(provider, None, environment), FAST)
    with pytest.raises(InvalidJson, match=rf"invalid JSON from groq: nested deeper than {MAX_DEPTH} levels \(200"):
        for page in fetcher.pages():
            list(page.records())
    replay.add_fault("groq", body='{"object": "list", "models": [{"id": "a"}]}')
    with pytest.raises(UnexpectedShape, match=r"no list of models at 'data'; got an object with keys \['models', "):
        for page in fetcher.pages():
            list(page.records())
