"""The content guards on full model syncs (dag.test) through the replay server's drift faults and the real
PostgreSQL: a loss under the share passes, allow_shrink still checks field loss, a dry run reports what the guard
refuses, an operator_prices row accepts a held jump, and /prices, /status and the page show what was held."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from include.gatewayz_sync.store.price_status import price_listing
from include.gatewayz_sync.web.app import status_document
from include.gatewayz_sync.web.views import render_page, render_prices
from tests.reliability.conftest import dump

D = Decimal
GPT_OSS = "openai/gpt-oss-120b"


@pytest.fixture
def synced(catalog, run_dag, replay):
    assert run_dag("gatewayz_sync_providers").state == "success"
    assert run_dag("gatewayz_sync_models", {"providers": ["groq", "openrouter"]}).state == "success"
    return catalog


def latest_attempt(catalog, slug: str) -> tuple:
    return catalog.execute(
        "SELECT status, error, details FROM sync_runs WHERE provider_slug = %s ORDER BY id DESC LIMIT 1", (slug,)
    ).fetchone()


def changes(catalog, after: int = 0) -> list[tuple]:
    return catalog.execute(
        "SELECT provider_model_id, kind, field, old_value, new_value FROM model_changes WHERE id > %s ORDER BY id",
        (after,),
    ).fetchall()


def last_change(catalog) -> int:
    return catalog.execute("SELECT coalesce(max(id), 0) FROM model_changes").fetchone()[0]


def test_a_model_that_loses_its_price_passes_under_the_share_and_the_loss_is_a_change(synced, run_dag, replay):
    catalog = synced
    records = copy.deepcopy(replay.catalog("openrouter").records)
    dropped = [r["id"] for r in records if D(r["pricing"].get("prompt") or 0) > 0][:2]
    for record in records:
        if record["id"] in dropped:
            del record["pricing"]
    replay.set_records("openrouter", records)
    mark = last_change(catalog)
    run = run_dag("gatewayz_sync_models", {"providers": ["openrouter"]})
    assert run.state == "success", "2 of 225 models becoming dedicated-only is no drift"
    removed = [c for c in changes(catalog, mark) if c[1] == "field_removed"]
    assert {c[0] for c in removed} == set(dropped)
    assert {c[2] for c in removed} >= {"price_input_usd_per_mtok", "price_output_usd_per_mtok"}
    assert all(c[3] is not None and c[4] is None for c in removed), "the old value is kept"
    assert {c[2] for c in changes(catalog, mark) if c[1] == "price_changed" and c[4] is None} == {"price_source"}
    status, _, details = latest_attempt(catalog, "openrouter")
    assert status == "success"
    assert {loss["field"]: loss["lost"] for loss in details["field_loss"]}["price_input_usd_per_mtok"] == 2


def test_allow_shrink_still_checks_field_loss_and_allow_field_loss_lets_it_through(synced, run_dag, replay):
    catalog = synced
    before = dump(catalog)
    replay.add_fault("openrouter", rename_keys={"pricing": "price"}, times=-1)
    records = replay.catalog("openrouter").records
    listed = [r["id"] for r in records[: len(records) // 2]]
    replay.set_records("openrouter", records[: len(records) // 2])
    priced = catalog.execute(
        "SELECT count(*) FROM models WHERE provider_model_id = ANY(%s) AND price_input_usd_per_mtok IS NOT NULL",
        (listed,),
    ).fetchone()[0]
    shrunk = run_dag("gatewayz_sync_models", {"providers": ["openrouter"], "allow_shrink": True})
    assert shrunk.state == "failed"
    status, error, details = latest_attempt(catalog, "openrouter")
    assert status == "failed" and error.startswith("suspicious field loss: the listing from openrouter would remove ")
    assert f"price_input_usd_per_mtok from {priced} of {priced} models that had it (e.g. " in error
    assert dump(catalog) == before, "nothing of the provider was written"

    allowed = run_dag("gatewayz_sync_models", {"providers": ["openrouter"], "allow_shrink": True,
                                               "allow_field_loss": True})
    assert allowed.state == "success"
    still = catalog.execute(
        """SELECT count(*) FILTER (WHERE m.price_input_usd_per_mtok IS NOT NULL) FROM models m
           JOIN providers p ON p.id = m.provider_id WHERE p.slug = 'openrouter' AND m.provider_model_id = ANY(%s)""",
        (listed,),
    ).fetchone()[0]
    assert still == 0, "the listed half lost its prices on purpose"


def test_a_dry_run_reports_what_the_guard_would_refuse_and_writes_nothing(synced, run_dag, replay):
    catalog = synced
    before = dump(catalog)
    mark = last_change(catalog)
    replay.add_fault("openrouter", rename_keys={"pricing": "price"}, times=-1)
    run = run_dag("gatewayz_sync_models", {"providers": ["openrouter"], "dry_run": True})
    assert run.state == "failed"
    status, error, details = latest_attempt(catalog, "openrouter")
    assert status == "failed" and error.startswith("suspicious field loss")
    assert details["drift"][:2] == ["225 records now lack `pricing`", "new key `price` seen"]
    assert dump(catalog) == before and changes(catalog, mark) == []


def test_an_operator_price_accepts_a_jump_and_prices_and_the_page_show_what_is_held(synced, run_dag, replay):
    catalog = synced
    catalog.execute(
        """INSERT INTO operator_prices (provider_slug, provider_model_id, price_input_usd_per_mtok,
                                        price_output_usd_per_mtok, note, updated_by)
           VALUES ('groq', 'openai/gpt-oss-20b', 0.1, 0.4, 'confirmed by the provider', 'ops')"""
    )
    replay.add_fault("groq", scale_prices="1000", times=-1)
    run = run_dag("gatewayz_sync_models", {"providers": ["groq"]})
    assert run.state == "success"
    held = dict(catalog.execute(
        """SELECT m.provider_model_id, c.status_reason FROM model_price_candidates c JOIN models m ON m.id = c.model_id
           WHERE c.source = 'list_api'"""
    ).fetchall())
    assert GPT_OSS in held and "openai/gpt-oss-20b" not in held, "the operator's row accepted that one"
    assert held[GPT_OSS].startswith("input 1000x up from the stored list_api price (0.15 -> 150); held until")
    accepted = catalog.execute(
        "SELECT price_input_usd_per_mtok FROM models WHERE provider_model_id = 'openai/gpt-oss-20b'").fetchone()[0]
    assert accepted == D("75"), "not held: the listed price applies until the price run stores the operator's"

    listing = price_listing(catalog, provider="groq", status="held", limit=100, offset=0)
    assert {m["model"] for m in listing} == set(held)
    gpt = next(m for m in listing if m["model"] == GPT_OSS)
    assert gpt["stored"]["prices"]["input"] == "0.15"
    (candidate,) = [c for c in gpt["candidates"] if c["source"] == "list_api"]
    assert candidate["status"] == "disputed" and candidate["prices"]["input"] == "150"
    assert {m["model"] for m in price_listing(catalog, provider="groq", status="disputed", limit=100, offset=0)} \
        >= set(held)
    html = render_prices({"models": listing, "provider": "groq", "status": "held", "limit": 100, "offset": 0,
                          "next_offset": None})
    assert "list_api" in html and "held until accepted" in html

    document = status_document(catalog, None, 100, 0)
    assert document["totals"]["held_prices"] == len(held)
    groq = next(p for p in document["providers"] if p["slug"] == "groq")
    assert groq["prices"]["held"] == len(held)
    assert groq["shape"]["listing"]["present"]["pricing"] == 8
    assert groq["shape"]["listing"]["absent"] == [] and groq["shape"]["listing"]["compared_with"] is not None
    page = render_page(document, [])
    assert f"{len(held)} list-API price jump(s) held" in page and 'id="shape-health"' in page


def test_status_and_the_page_show_each_providers_listing_shape_against_the_previous_one(synced, run_dag, replay):
    catalog = synced
    replay.add_fault("openrouter", rename_keys={"pricing": "price"}, times=-1)
    assert run_dag("gatewayz_sync_models", {"providers": ["openrouter"]}).state == "failed"
    document = status_document(catalog, "openrouter", 100, 0)
    (openrouter,) = document["providers"]
    shape = openrouter["shape"]
    assert [run["status"] for run in shape["runs"]] == ["failed", "success"]
    assert shape["runs"][0]["records"] == 225 and shape["runs"][0]["rejected"] == {}
    listing = shape["listing"]
    assert listing["status"] == "failed" and listing["records"] == 225
    assert "pricing" in listing["absent"] and "pricing.prompt" in listing["absent"]
    assert "price" in listing["new"] and listing["present"]["price"] == 225
    assert listing["drift"][:2] == ["225 records now lack `pricing`", "new key `price` seen"]
    page = render_page(document, [])
    assert "225 records now lack `pricing`" in page and "<code>pricing</code>" in page


def test_a_listing_that_drops_every_per_character_price_is_refused_like_a_flat_one(catalog, run_dag, replay):
    """Issue 19, gap 3: the field-loss guard reads price rows too. Together's text-to-speech models are priced per
    character, a price no flat column holds; a listing that moves `pricing.input` of every one of them elsewhere
    takes `input/character` from all of them and is refused, naming the price by its slug."""
    assert run_dag("gatewayz_sync_providers").state == "success"
    assert run_dag("gatewayz_sync_models", {"providers": ["together"]}).state == "success"
    had = [model for (model,) in catalog.execute(
        """SELECT provider_model_id FROM model_prices_current WHERE provider_slug = 'together' AND source = 'list_api'
           AND meter = 'input' AND unit = 'character' ORDER BY provider_model_id""").fetchall()]
    assert len(had) >= 5
    before = dump(catalog)
    records = copy.deepcopy(replay.catalog("together").records)
    for record in records:
        if record["id"] in had:
            record["pricing"]["input_per_character"] = record["pricing"].pop("input")
    replay.set_records("together", records)
    assert run_dag("gatewayz_sync_models", {"providers": ["together"]}).state == "failed"
    status, error, details = latest_attempt(catalog, "together")
    assert status == "failed" and error.startswith("suspicious field loss: the listing from together would remove ")
    assert f"input/character from {len(had)} of {len(had)} models that had it (e.g. {', '.join(had[:3])})" in error
    assert {loss["field"]: (loss["lost"], loss["had"]) for loss in details["field_loss"]} == {
        "input/character": (len(had), len(had))}, "no flat column was lost"
    assert dump(catalog) == before, "nothing of the provider was written"

    assert run_dag("gatewayz_sync_models", {"providers": ["together"], "allow_field_loss": True}).state == "success"
    removed = {(model, field) for model, kind, field, _, _ in changes(catalog) if kind == "field_removed"}
    assert removed >= {(model, "input/character") for model in had}, "every loss is a change row"


def test_a_new_list_price_100x_from_every_sibling_is_held_not_stored(catalog, run_dag, replay):
    """Issue 19, gap 2 (row 6 for list-API prices): a new Together text-to-speech model listed at 9000 per 1M
    characters (a per-1K-characters price of 9 read as per 1M) has no stored price for the jump guard to compare
    with; it is 100x or more from every one of its priced text-to-speech siblings, so it is held, not stored, and says
    why; an unchanged listing keeps it held without a new change; `accept_price_jumps` stores it. A real spread of
    10x-100x between siblings (Together's FLUX.1-schnell, 14.8x below its image siblings) is stored."""
    from include.gatewayz_sync.store.price_status import price_coverage

    assert run_dag("gatewayz_sync_providers").state == "success"
    assert run_dag("gatewayz_sync_models", {"providers": ["together"]}).state == "success"
    records = copy.deepcopy(replay.catalog("together").records)
    sonic = next(r for r in records if r["id"] == "cartesia/sonic")
    slipped = {**copy.deepcopy(sonic), "id": "cartesia/sonic-slipped", "display_name": "Sonic slipped"}
    slipped["pricing"]["input"] = 9000
    replay.set_records("together", [*records, slipped])
    mark = last_change(catalog)
    assert run_dag("gatewayz_sync_models", {"providers": ["together"]}).state == "success"
    assert run_dag("gatewayz_sync_prices").state == "success"

    model = catalog.execute(
        """SELECT price_source, price_confidence, price_dispute, price_unknown_reason, content_hash FROM models
           WHERE provider_model_id = 'cartesia/sonic-slipped'""").fetchone()
    assert model[:2] == (None, "disputed")
    assert model[2].startswith("list_api: single list-API price, input per 1M characters 138x or more away from "
                               "every one of its ")
    assert model[3].startswith("the listed price was refused: single list-API price") and "accept_price_jumps" in model[3]
    assert model[4].startswith("held:"), "checked again on every listing"
    assert catalog.execute(
        """SELECT count(*) FROM model_prices p JOIN models m ON m.id = p.model_id
           WHERE m.provider_model_id = 'cartesia/sonic-slipped'""").fetchone()[0] == 0
    candidate = catalog.execute(
        """SELECT c.match_rule, c.status, c.meters FROM model_price_candidates c JOIN models m ON m.id = c.model_id
           WHERE m.provider_model_id = 'cartesia/sonic-slipped' AND c.source = 'list_api'""").fetchone()
    assert candidate[:2] == ("held_sibling_outlier", "disputed")
    assert [(r["meter"], r["unit"], r["amount_usd"]) for r in candidate[2]] == [("input", "character", "9000")]
    held = [c for c in changes(catalog, mark) if c[1] == "price_held"]
    assert held == [("cartesia/sonic-slipped", "price_held", "input/character", None, "9000")]
    assert price_coverage(catalog, "together")["together"]["held"] == 1
    assert {m["model"] for m in price_listing(catalog, provider="together", status="held", limit=10, offset=0)} == {
        "cartesia/sonic-slipped"}
    schnell = catalog.execute(
        """SELECT amount_usd FROM model_prices_current WHERE provider_model_id = 'black-forest-labs/FLUX.1-schnell'
           AND meter = 'output_image'""").fetchone()
    assert schnell == (D("0.0027"),), "a real 14.8x spread is no unit slip"

    mark = last_change(catalog)
    assert run_dag("gatewayz_sync_models", {"providers": ["together"]}).state == "success"
    assert [c for c in changes(catalog, mark) if c[0] == "cartesia/sonic-slipped"] == [], "told once"
    assert run_dag("gatewayz_sync_models", {"providers": ["together"], "accept_price_jumps": True}).state == "success"
    assert run_dag("gatewayz_sync_prices").state == "success"
    accepted = catalog.execute(
        """SELECT m.price_source, m.price_dispute, p.amount_usd FROM models m JOIN model_prices p ON p.model_id = m.id
           WHERE m.provider_model_id = 'cartesia/sonic-slipped'""").fetchone()
    assert accepted == ("list_api", None, D(9000))
    assert catalog.execute("SELECT count(*) FROM model_price_candidates WHERE source = 'list_api'").fetchone()[0] == 0
