"""Conditional requests end to end: validators stored with a loaded listing, sent back, a 304 confirmed like a
byte-identical listing (no parse, no writes), an ETag that changes over the same bytes, and the replay server's
own HTTP semantics. Real dag.test runs, the replay server over loopback, the real PostgreSQL."""

from __future__ import annotations

import copy

import pytest
import requests

from include.gatewayz_sync.dev.replay.conditional import Validators
from include.gatewayz_sync.sources.validators import ListingValidators
from tests.conftest import PROVIDER_KEYS
from tests.test_model_sync import row_versions

ONE = {"providers": ["openai"]}
NOT_MODIFIED = "not modified (HTTP 304 to a conditional request); not re-fetched"
BYTE_IDENTICAL = "byte-identical to the last loaded listing; not re-parsed"


@pytest.fixture
def providers_synced(catalog, run_dag, replay):
    assert run_dag("gatewayz_sync_providers").state == "success"
    yield catalog
    replay.set_validators("openai", None)


def attempt(catalog, dag_run) -> dict:
    row = catalog.execute(
        """SELECT status, fetched, inserted, updated, unchanged, details->>'listing', (details->>'bytes')::int
           FROM sync_runs WHERE dag_run_id = %s AND provider_slug = 'openai'""",
        (dag_run.run_id,),
    ).fetchone()
    return dict(zip(("status", "fetched", "inserted", "updated", "unchanged", "listing", "bytes"), row, strict=True))


def stored_validators(catalog) -> dict | None:
    return catalog.execute("SELECT listing_validators FROM providers WHERE slug = 'openai'").fetchone()[0]


def openai_requests(replay) -> list:
    return replay.requests_for("openai")


def test_a_304_is_confirmed_like_an_unchanged_listing_and_writes_no_rows(providers_synced, run_dag, replay):
    catalog = providers_synced
    replay.set_validators("openai", Validators(etag="strong", last_modified=True))
    assert run_dag("gatewayz_sync_models", ONE).state == "success"
    validators = stored_validators(catalog)
    assert validators["etag"].startswith('"') and validators["last_modified"].endswith("GMT")
    before = row_versions(catalog)
    changes_before = catalog.execute("SELECT count(*) FROM model_changes").fetchone()[0]
    listed_before = catalog.execute("SELECT models_listed_at FROM providers WHERE slug = 'openai'").fetchone()[0]
    replay.clear_requests()

    again = run_dag("gatewayz_sync_models", ONE)

    assert again.state == "success"
    assert [r.conditional for r in openai_requests(replay)] == [True]
    outcome = attempt(catalog, again)
    assert outcome == {"status": "success", "fetched": 130, "inserted": 0, "updated": 0, "unchanged": 130,
                       "listing": NOT_MODIFIED, "bytes": 0}
    assert row_versions(catalog) == before, "a 304 writes no model row"
    assert catalog.execute("SELECT count(*) FROM model_changes").fetchone()[0] == changes_before
    listed_after = catalog.execute("SELECT models_listed_at FROM providers WHERE slug = 'openai'").fetchone()[0]
    assert listed_after > listed_before, "the provider still counts as listed now"
    assert stored_validators(catalog) == validators


def test_an_etag_that_changes_over_the_same_bytes_is_still_confirmed_and_a_real_change_still_loads(
    providers_synced, run_dag, replay
):
    catalog = providers_synced
    replay.set_validators("openai", Validators(etag="rotating"))
    run_dag("gatewayz_sync_models", ONE)
    first_etag = stored_validators(catalog)["etag"]
    before = row_versions(catalog)

    again = run_dag("gatewayz_sync_models", ONE)

    assert attempt(catalog, again)["listing"] == BYTE_IDENTICAL, "a 200 with the same bytes"
    assert row_versions(catalog) == before
    second_etag = stored_validators(catalog)["etag"]
    assert second_etag != first_etag, "the newest ETag is what goes out next time"

    records = copy.deepcopy(replay.catalog("openai").records)
    records.append({**records[0], "id": "gpt-bench-new"})
    replay.set_records("openai", records)
    changed = run_dag("gatewayz_sync_models", ONE)
    outcome = attempt(catalog, changed)
    assert (outcome["status"], outcome["inserted"], outcome["listing"]) == ("success", 1, None)
    assert catalog.execute(
        "SELECT count(*) FROM models WHERE provider_model_id = 'gpt-bench-new' AND is_active"
    ).fetchone()[0] == 1


def test_a_changed_listing_behind_last_modified_is_loaded_not_confirmed(providers_synced, run_dag, replay):
    catalog = providers_synced
    replay.set_validators("openai", Validators(last_modified=True))
    run_dag("gatewayz_sync_models", ONE)
    records = copy.deepcopy(replay.catalog("openai").records)
    model = next(r for r in records if r["id"] == "gpt-4o")
    model["pricing"] = {"input": "2.75", "output": "11"}
    replay.set_records("openai", records)
    replay.clear_requests()

    changed = run_dag("gatewayz_sync_models", ONE)

    assert [r.conditional for r in openai_requests(replay)] == [True]
    outcome = attempt(catalog, changed)
    assert outcome["status"] == "success" and outcome["listing"] is None
    assert outcome["bytes"] > 0


def test_no_validators_are_sent_while_misses_are_pending(providers_synced, run_dag, replay):
    catalog = providers_synced
    replay.set_validators("openai", Validators(etag="strong"))
    run_dag("gatewayz_sync_models", ONE)
    replay.set_records("openai", replay.catalog("openai").records[:-3])
    run_dag("gatewayz_sync_models", ONE)
    replay.clear_requests()
    second_miss = run_dag("gatewayz_sync_models", ONE)
    assert [r.conditional for r in openai_requests(replay)] == [False], "the pending misses need the listing"
    assert catalog.execute(
        "SELECT deactivated FROM sync_runs WHERE dag_run_id = %s", (second_miss.run_id,)
    ).fetchone()[0] == 3


def test_the_replay_server_honours_validators_like_an_http_cache_would(replay):
    replay.set_validators("openai", Validators(etag="weak", last_modified=True))
    try:
        url = f"{replay.url}/openai/v1/models"
        auth = {"Authorization": f"Bearer {PROVIDER_KEYS['openai']}"}
        first = requests.get(url, headers=auth, timeout=10)
        etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert etag.startswith('W/"')
        assert requests.get(url, headers={**auth, "If-None-Match": etag}, timeout=10).status_code == 304
        assert requests.get(url, headers={**auth, "If-None-Match": etag[2:]}, timeout=10).status_code == 304
        assert requests.get(url, headers={**auth, "If-None-Match": '"other"'}, timeout=10).status_code == 200
        assert requests.get(url, headers={**auth, "If-Modified-Since": last_modified}, timeout=10).status_code == 304
        not_modified = requests.get(url, headers={**auth, "If-None-Match": etag}, timeout=10)
        assert not_modified.content == b"" and not_modified.headers["ETag"] == etag
    finally:
        replay.set_validators("openai", None)


def test_validators_come_only_from_endpoints_recorded_sending_them(replay):
    from include.gatewayz_sync.dev.replay.conditional import recorded_validators
    from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY

    assert recorded_validators(GATEWAY_REGISTRY.values()) == {}, "no registry endpoint was recorded with one"
    response = requests.get(f"{replay.url}/openai/v1/models",
                            headers={"Authorization": f"Bearer {PROVIDER_KEYS['openai']}"}, timeout=10)
    assert "ETag" not in response.headers and "Last-Modified" not in response.headers


def test_the_hub_api_format_gets_the_weak_etag_it_was_recorded_with():
    from benchmarks.catalog import HUB_PROVIDER
    from include.gatewayz_sync.dev.replay.conditional import recorded_validators

    assert recorded_validators([HUB_PROVIDER]) == {HUB_PROVIDER.slug: Validators(etag="weak")}



def test_validators_a_response_does_not_repeat_are_kept_for_the_same_bytes():
    stored = ListingValidators("digest-1", '"a"', "Wed, 26 Nov 2026 10:00:00 GMT")
    assert ListingValidators.from_response({"ETag": '"b"'}, "digest-1", stored) == ListingValidators(
        "digest-1", '"b"', "Wed, 26 Nov 2026 10:00:00 GMT")
    assert ListingValidators.from_response({}, "digest-1", stored) == stored
    assert ListingValidators.from_response({}, "digest-2", stored) is None, "new bytes, no validators: none"
    assert ListingValidators.from_json(stored.as_json()) == stored
    assert stored.request_headers() == {"If-None-Match": '"a"', "If-Modified-Since": "Wed, 26 Nov 2026 10:00:00 GMT"}
