"""The catalog browser's reads on the real PostgreSQL: filters, search, sorts, pages, one model with its history."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest

from include.gatewayz_sync import clock
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.store.catalog_reads import ModelQuery, list_models, model_detail
from include.gatewayz_sync.store.providers import sync_registry

D = Decimal
NOW = clock.now()


def add_model(catalog, slug: str, model_id: str, *, name: str | None = None, price_in=None, price_out=None,
              context=None, tools=None, vision=None, deprecation=None, shutdown=None, active=True,
              first_seen=NOW - timedelta(days=10)) -> int:
    return catalog.execute(
        """INSERT INTO models (provider_id, provider_model_id, name, context_length, price_input_usd_per_mtok,
                               price_output_usd_per_mtok, supports_tools, supports_vision, deprecation_date,
                               shutdown_date, is_active, raw, content_hash, first_seen_at, last_seen_at, price_source)
           SELECT id, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'h', %s, %s, %s FROM providers WHERE slug = %s
           RETURNING id""",
        (model_id, name or model_id, context, price_in, price_out, tools, vision, deprecation, shutdown, active,
         json.dumps({"id": model_id}), first_seen, first_seen,
         "list_api" if price_in is not None or price_out is not None else None, slug),
    ).fetchone()[0]


@pytest.fixture
def seeded(catalog):
    sync_registry(catalog, GATEWAY_REGISTRY.values())
    ids = {
        "grok-3": add_model(catalog, "xai", "grok-3", price_in=D("3"), price_out=D("15"), context=131072, tools=True),
        "grok-2-vision": add_model(catalog, "xai", "grok-2-vision", price_in=D("2"), price_out=D("10"), context=32768,
                                   vision=True, deprecation=NOW - timedelta(days=1)),
        "grok-old": add_model(catalog, "xai", "grok-old", price_in=D("5"), shutdown=NOW - timedelta(days=1)),
        "llama": add_model(catalog, "groq", "llama-3.3-70b", name="Llama 3.3 <script>alert(1)</script>",
                           price_in=D("0.59"), price_out=D("0.79"), context=131072, tools=True),
        "mixtral": add_model(catalog, "groq", "mixtral_8x7b", price_in=None, context=32768),
        "gone": add_model(catalog, "groq", "gone-model", price_in=D("1"), active=False),
        "percent": add_model(catalog, "groq", "model-100%-free", price_in=D("0")),
    }
    return catalog, ids


def ids_of(page) -> list[str]:
    return [row["provider_model_id"] for row in page.rows]


def listing(catalog, **filters):
    return list_models(catalog, ModelQuery(**filters))


def test_filters_search_and_lifecycle(seeded):
    catalog, _ = seeded
    assert ids_of(listing(catalog, provider="xai")) == ["grok-2-vision", "grok-3", "grok-old"]
    assert ids_of(listing(catalog, capabilities=("tools",))) == ["llama-3.3-70b", "grok-3"]
    assert ids_of(listing(catalog, capabilities=("tools", "vision"))) == []
    assert ids_of(listing(catalog, price_min=D("1"), price_max=D("3"))) == ["grok-2-vision", "grok-3"]
    assert ids_of(listing(catalog, price_field="output", price_min=D("10"))) == ["grok-2-vision", "grok-3"]
    assert ids_of(listing(catalog, search="LLAMA")) == ["llama-3.3-70b"]
    assert ids_of(listing(catalog, search="script")) == ["llama-3.3-70b"], "names are searched too"
    assert ids_of(listing(catalog, search="100%")) == ["model-100%-free"]
    assert ids_of(listing(catalog, search="_")) == ["mixtral_8x7b"], "LIKE wildcards are taken literally"
    assert ids_of(listing(catalog, lifecycle="retired")) == ["grok-old"]
    assert ids_of(listing(catalog, lifecycle="deprecated")) == ["grok-2-vision"]
    assert "gone-model" not in ids_of(listing(catalog))
    assert "gone-model" in ids_of(listing(catalog, include_removed=True))


def test_sorts_keep_unpriced_models_last_and_pages_count_on_the_server(seeded):
    catalog, _ = seeded
    cheapest = listing(catalog, sort="price")
    assert ids_of(cheapest)[:3] == ["model-100%-free", "llama-3.3-70b", "grok-2-vision"]
    assert ids_of(cheapest)[-1] == "mixtral_8x7b"
    assert ids_of(listing(catalog, sort="-price"))[0] == "grok-old"
    assert ids_of(listing(catalog, sort="-price"))[-1] == "mixtral_8x7b"
    assert [r["context_length"] for r in listing(catalog, sort="-context", provider="groq").rows] == [131072, 32768, None]
    first = listing(catalog, per_page=4, page=1, sort="price")
    second = listing(catalog, per_page=4, page=2, sort="price")
    assert first.total == second.total == 6 and first.pages == 2
    assert len(first.rows) == 4 and len(second.rows) == 2
    assert not set(ids_of(first)) & set(ids_of(second))
    assert listing(catalog, per_page=4, page=9).rows == []


def test_price_source_confidence_and_lifecycle_filters(seeded):
    catalog, ids = seeded
    catalog.execute("UPDATE models SET price_source = 'genai-prices', price_confidence = 'confirmed' WHERE id = %s",
                    (ids["mixtral"],))
    catalog.execute("UPDATE models SET shutdown_date = catalog_now() - interval '1 day' WHERE id = %s", (ids["grok-3"],))
    assert ids_of(listing(catalog, price_source="genai-prices")) == ["mixtral_8x7b"]
    assert ids_of(listing(catalog, price_confidence="confirmed")) == ["mixtral_8x7b"]
    assert "grok-3" in ids_of(listing(catalog, lifecycle="retired")), "lifecycle follows the shutdown date"
    detail = model_detail(catalog, ids["mixtral"])
    assert detail.fields["price_confidence"] == "confirmed"
    assert detail.fields["effective_price_source"] == "genai-prices"


def test_one_model_with_every_field_its_prices_history_and_price_steps(seeded):
    catalog, ids = seeded
    model = ids["grok-3"]
    run_id = catalog.execute(
        "INSERT INTO sync_runs (provider_slug, started_at, status, dag_run_id) VALUES ('xai', now(), 'success', 'r1') "
        "RETURNING id"
    ).fetchone()[0]
    for days_ago, field, old, new in ((10, None, None, None), (5, "price_input_usd_per_mtok", "2", "3"),
                                      (3, "price_output_usd_per_mtok", "12", "15"), (1, "context_length", "1", "2")):
        kind = "added" if field is None else "limits_changed" if field == "context_length" else "price_changed"
        catalog.execute(
            """INSERT INTO model_changes (provider_id, model_id, provider_model_id, kind, field, old_value, new_value,
                                          detected_at, sync_run_id)
               SELECT provider_id, id, provider_model_id, %s, %s, %s, %s, %s, %s FROM models WHERE id = %s""",
            (kind, field, old, new, NOW - timedelta(days=days_ago), run_id, model),
        )
    detail = model_detail(catalog, model)
    assert detail.fields["provider_slug"] == "xai" and detail.fields["context_length"] == 131072
    assert detail.fields["effective_lifecycle"] == "active"
    prices = {p["name"]: (p["value"], p["source"]) for p in detail.prices}
    assert prices["input_usd_per_mtok"] == (D("3"), "list_api")
    assert prices["cache_read_usd_per_mtok"] == (None, None)
    stored = catalog.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'models' AND data_type = 'numeric' "
        "AND column_name LIKE 'price\\_%%'").fetchall()
    assert set(prices) == {name.removeprefix("price_") for (name,) in stored}, "every stored price is listed"
    assert [c["kind"] for c in detail.history] == ["added", "price_changed", "price_changed", "limits_changed"]
    assert detail.history[1]["dag_run_id"] == "r1"
    assert "model_id" not in detail.history_columns and "kind" in detail.history_columns
    assert [value for _, value in detail.price_steps["input"]] == [D("2"), D("3")]
    assert [value for _, value in detail.price_steps["output"]] == [D("12"), D("15")]
    assert detail.price_steps["input"][0][0] == detail.fields["first_seen_at"]
    unchanged = model_detail(catalog, ids["llama"])
    assert unchanged.price_steps["input"] == [(unchanged.fields["first_seen_at"], D("0.59"))]
    assert model_detail(catalog, 999_999) is None
