"""A model's lifecycle from its provider's listing, on the recorded responses through the replay server and the real
PostgreSQL: placeholder dates, removed models, retirement notices (sent once, through a loopback Apprise receiver),
replacement models, and the models retiring soon on `/status` and in the browser."""

from __future__ import annotations

import copy
import datetime as dt
import os
import secrets

import pytest

from include.gatewayz_sync.catalog.lifecycle import deprecated_by, is_placeholder, notice_stage
from include.gatewayz_sync.clock import now
from include.gatewayz_sync.config import FetchSettings, SyncSettings
from include.gatewayz_sync.model_sync import sync_provider_models
from include.gatewayz_sync.publish.catalog_export import model_record
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.store.catalog_reads import ModelQuery, list_models
from include.gatewayz_sync.store.export_reads import active_models
from include.gatewayz_sync.store.listing import LoadOptions
from include.gatewayz_sync.store.providers import sync_registry
from include.gatewayz_sync.store.runs import RunInfo
from tests.airflow_helpers import task_states, xcom_values
from tests.conftest import catalog_connection
from tests.migrations import catalog_at

GLM_TURBO = ("z-ai/glm-5-turbo", "z-ai/glm-5v-turbo")
# OpenAI's recorded shutdown dates, seen from the pinned clock (2026-11-28 12:00 UTC)
OPENAI_7_DAYS = ["chatgpt-image-latest", "gpt-image-1-mini", "gpt-image-1.5"]  # 2026-12-01
OPENAI_30_DAYS = ["gpt-5-2025-08-07", "gpt-5-mini-2025-08-07", "gpt-5-nano-2025-08-07", "gpt-5-pro-2025-10-06",
                  "o3-2025-04-16", "o3-pro-2025-06-10"]  # 2026-12-11
OPENAI_90_DAYS = ["gpt-4o-mini-transcribe-2025-03-20", "gpt-audio", "gpt-audio-mini", "gpt-realtime",
                  "gpt-realtime-mini"]  # 2027-01-20
MISTRAL_DEPRECATED = ["devstral-2512", "devstral-latest", "devstral-medium-latest", "mistral-code-agent-latest",
                      "mistral-medium-2505", "mistral-medium-2508"]  # deprecation 2026-08-31, replacement given


def sync(slug: str) -> str:
    """One provider's sync over real HTTP from the replay server into the catalog; returns its run id."""
    run = RunInfo("gatewayz_sync_models", f"lifecycle-{secrets.token_hex(4)}", 1, dt.datetime.now(dt.UTC))
    sync_provider_models(GATEWAY_REGISTRY[slug], catalog_connection, run, LoadOptions.from_settings(SyncSettings()),
                         connection_for=lambda provider: None, env=os.environ,
                         fetch_settings=FetchSettings(http_attempts=1, backoff_seconds=0))
    return run.dag_run_id


@pytest.fixture
def registered(catalog, replay):
    sync_registry(catalog, GATEWAY_REGISTRY.values())
    return catalog


def lifecycle(catalog, slug: str, model: str) -> tuple:
    return catalog.execute(
        """SELECT lifecycle, deprecation_date, shutdown_date, deactivated_at FROM models_current
           WHERE provider_slug = %s AND provider_model_id = %s""", (slug, model)).fetchone()


def test_a_date_more_than_ten_years_ahead_is_a_placeholder():
    at = now()
    assert at.year == 2026, "the pinned clock"
    assert is_placeholder(dt.datetime(2098, 12, 31, tzinfo=dt.UTC), at)
    assert is_placeholder(dt.datetime(2036, 12, 1, tzinfo=dt.UTC), at)
    assert not is_placeholder(dt.datetime(2036, 11, 1, tzinfo=dt.UTC), at)
    assert not is_placeholder(dt.datetime(2027, 1, 20, tzinfo=dt.UTC), at)
    assert [notice_stage(days) for days in (120, 90, 45, 30, 12.5, 7, 2.5, 0, -3)] == [
        None, 90, 90, 30, 30, 7, 7, None, None]


def test_deprecated_without_a_date_is_dated_by_the_first_document_that_said_so():
    snapshot, first, today = dt.date(2026, 7, 2), dt.date(2026, 6, 1), dt.date(2026, 11, 28)
    assert deprecated_by(None, snapshot, today) == snapshot, "the bundled snapshot's date"
    assert deprecated_by(first, dt.date(2026, 11, 27), today) == first, "a later fetch keeps the earlier date"
    assert deprecated_by(None, None, today) == today
    assert deprecated_by(None, dt.date(2027, 1, 1), today) == today, "never after the clock's today"


def test_openrouters_2098_expiry_is_no_date_and_the_models_stay_active(registered):
    catalog = registered
    run_id = sync("openrouter")
    for model in GLM_TURBO:
        assert lifecycle(catalog, "openrouter", model) == ("active", None, None, None), model
    state, _, shutdown, _ = lifecycle(catalog, "openrouter", "z-ai/glm-4.5")
    assert (state, shutdown) == ("deprecated", dt.datetime(2026, 12, 31, tzinfo=dt.UTC)), "a real expiry is kept"
    details = catalog.execute("SELECT details FROM sync_runs WHERE dag_run_id = %s", (run_id,)).fetchone()[0]
    assert details["normalize"]["nulled"]["shutdown_date_placeholder"] == 2, "counted, not silent"


def test_the_migration_clears_stored_placeholder_dates_and_names_removed_models():
    from include.gatewayz_sync.store import schema

    with catalog_at("0012") as scratch:
        connection = scratch.connection
        connection.execute(
            """INSERT INTO providers (slug, name, color, priority, site_url, has_list_api, registry_fingerprint)
               VALUES ('openrouter', 'OpenRouter', 'bg-indigo-600', 'fast', 'https://openrouter.ai', true, 'x')""")
        connection.execute(
            """INSERT INTO models (provider_id, provider_model_id, name, raw, content_hash, shutdown_date, is_active,
                                   deactivated_at)
               SELECT id, m, m, '{}', 'h', d::timestamptz, a, CASE WHEN NOT a THEN '2026-11-20'::timestamptz END
               FROM providers, (VALUES ('z-ai/glm-5-turbo', '2098-12-31', true), ('z-ai/glm-4.5', '2026-12-31', true),
                                       ('gone', NULL, false)) AS v(m, d, a)""")
        before = dict(connection.execute("SELECT provider_model_id, lifecycle FROM models_current").fetchall())
        assert before == {"z-ai/glm-5-turbo": "deprecated", "z-ai/glm-4.5": "deprecated", "gone": "active"}
        assert scratch.migrate()[1] == schema.head_revision()
        after = dict(connection.execute("SELECT provider_model_id, lifecycle FROM models_current").fetchall())
        assert after == {"z-ai/glm-5-turbo": "active", "z-ai/glm-4.5": "deprecated", "gone": "removed"}


def test_a_model_that_leaves_its_listing_is_removed_with_the_date_and_the_browser_finds_it(registered, replay):
    catalog = registered
    sync("mistral")
    records = copy.deepcopy(replay.catalog("mistral").records)
    gone = "mistral-medium-2505"
    replay.set_records("mistral", [r for r in records if r["id"] != gone])
    for _ in range(SyncSettings().miss_threshold):
        assert lifecycle(catalog, "mistral", gone)[0] != "removed"
        sync("mistral")
    state, _, _, removed_at = lifecycle(catalog, "mistral", gone)
    assert state == "removed" and removed_at is not None
    assert [row["provider_model_id"] for row in list_models(catalog, ModelQuery(lifecycle="removed")).rows] == [gone]
    assert gone not in [row["provider_model_id"] for row in list_models(catalog, ModelQuery(provider="mistral")).rows]
    assert lifecycle(catalog, "mistral", "mistral-medium-2508")[0] == "deprecated", "still listed: not removed"


def test_mistrals_replacement_model_is_stored_and_published_in_catalog_json(registered):
    catalog = registered
    sync("mistral")
    replacements = dict(catalog.execute(
        """SELECT provider_model_id, replacement_model FROM models m JOIN providers p ON p.id = m.provider_id
           WHERE p.slug = 'mistral' AND replacement_model IS NOT NULL""").fetchall())
    assert replacements == dict.fromkeys(MISTRAL_DEPRECATED, "mistral-medium-3-5")
    published = {m.model_id: model_record(m, None)["lifecycle"] for m in active_models(catalog)
                 if m.provider == "mistral" and m.model_id in MISTRAL_DEPRECATED}
    assert {entry["replacement_model"] for entry in published.values()} == {"mistral-medium-3-5"}


def test_a_changed_replacement_model_is_a_change_row_and_a_digest_line(registered, replay):
    from decimal import Decimal

    from include.gatewayz_sync.notify.digest import change_digest
    from include.gatewayz_sync.notify.messages import RunRef
    from include.gatewayz_sync.store.alerts import run_changes

    catalog = registered
    sync("mistral")
    records = copy.deepcopy(replay.catalog("mistral").records)
    for record in records:
        if record["id"] == "devstral-2512":
            record["deprecation_replacement_model"] = "devstral-2605"
        if record["id"] == "mistral-medium-2505":
            record["deprecation_replacement_model"] = None
    replay.set_records("mistral", records)
    run_id = sync("mistral")
    changed = catalog.execute(
        """SELECT provider_model_id, kind, old_value, new_value FROM model_changes
           WHERE field = 'replacement_model' ORDER BY 1""").fetchall()
    assert changed == [("devstral-2512", "deprecated", "mistral-medium-3-5", "devstral-2605"),
                       ("mistral-medium-2505", "deprecated", "mistral-medium-3-5", None)]
    changes = run_changes(catalog, run_id, min_ratio=Decimal("0.05"), lifecycle_days=30, per_section=10)
    digest = change_digest(changes, RunRef.of("http://airflow", "gatewayz_sync_models", run_id),
                           price_move_percent=5, lifecycle_days=30)
    assert digest.title == "Catalog changes: 2 replacements changed"
    assert ("Replacement model named by the provider (2):\n"
            "- mistral devstral-2512: replacement mistral-medium-3-5 -> devstral-2605\n"
            "- mistral mistral-medium-2505: replacement mistral-medium-3-5 -> none") in digest.body


def test_status_counts_models_retiring_within_30_days_and_the_browser_filters_on_it(registered):
    from fastapi.testclient import TestClient

    from include.gatewayz_sync.web.app import create_app

    catalog = registered
    sync("openai")
    sync("openrouter")
    app = create_app()
    app.dependency_overrides[app.router.dependencies[0].dependency] = lambda: None
    client = TestClient(app)
    status = client.get("/status").json()
    assert status["retiring_within_days"] == 30
    retiring = {p["slug"]: p["retiring_models"] for p in status["providers"]}
    assert retiring["openai"] == len(OPENAI_7_DAYS + OPENAI_30_DAYS) == 9
    assert retiring["openrouter"] == 0, "z-ai/glm-4.5 shuts down in 33 days"
    assert status["totals"]["retiring_models"] == 9
    assert 'href="models?provider=openai&amp;retiring_within=30">9</a>' in client.get("/page").text

    listed = list_models(catalog, ModelQuery(retiring_within=30))
    assert sorted(row["provider_model_id"] for row in listed.rows) == sorted(OPENAI_7_DAYS + OPENAI_30_DAYS)
    within_90 = list_models(catalog, ModelQuery(retiring_within=90, per_page=200)).rows
    assert len(within_90) == 9 + len(OPENAI_90_DAYS) + 1
    page = client.get("/models", params={"retiring_within": "7"})
    assert page.status_code == 200 and "3 models" in page.text
    refused = client.get("/models", params={"retiring_within": "soon"})
    assert refused.status_code == 400
    assert "retiring_within must be a whole number of days from 1 to 3650" in refused.text




def notices(catalog) -> list[tuple]:
    return catalog.execute(
        """SELECT m.provider_model_id, n.days_before, n.retires_at::date::text FROM retirement_notices n
           JOIN models m ON m.id = n.model_id ORDER BY 3, 1""").fetchall()


def test_retirement_notices_go_out_at_90_30_and_7_days_once_each(catalog, run_dag, replay, alerts, monkeypatch):
    assert run_dag("gatewayz_sync_providers").state == "success"
    assert run_dag("gatewayz_sync_models", {"providers": ["openai"]}).state == "success"
    (digest,) = alerts.messages("/alerts")
    assert digest.title == "Catalog changes: 130 added, 14 retirement notices"
    assert digest.type == "warning", "a 7-day notice"
    body = digest.message
    assert "Retiring: notices 90, 30, 7 days before a model's retirement date (14):" in body
    assert (f"- openai (3 models: {', '.join(OPENAI_7_DAYS)}): shut down 2026-12-01, in 2 days (7-day notice)"
            in body)
    assert f"- openai (6 models: {', '.join(OPENAI_30_DAYS)}): shut down 2026-12-11, in 12 days (30-day notice)" in body
    assert f"- openai (5 models: {', '.join(OPENAI_90_DAYS)}): shut down 2027-01-20, in 52 days (90-day notice)" in body
    assert body.index("Retiring:") < body.index("Added (130):"), "notices first: a clamped body never cuts one"
    assert len(notices(catalog)) == 14

    alerts.clear()
    assert run_dag("gatewayz_sync_models", {"providers": ["openai"]}).state == "success"
    assert alerts.messages() == [], "each notice once"

    monkeypatch.setenv("GATEWAYZ_NOW", "2026-12-05T12:00:00+00:00")
    assert run_dag("gatewayz_sync_models", {"providers": ["openai"]}).state == "success"
    (later,) = alerts.messages("/alerts")
    assert later.title == "Catalog changes: 6 retirement notices"
    assert f"- openai (6 models: {', '.join(OPENAI_30_DAYS)}): shut down 2026-12-11, in 5 days (7-day notice)" \
        in later.message
    assert "2027-01-20" not in later.message, "its 90-day notice went out; its 30-day one is not due yet"
    assert sorted(days for model, days, _ in notices(catalog) if model in OPENAI_30_DAYS) == [7] * 6 + [30] * 6


def test_a_dry_run_sends_no_retirement_notice_and_records_none_but_reports_them(catalog, run_dag, replay, alerts,
                                                                                monkeypatch):
    assert run_dag("gatewayz_sync_providers").state == "success"
    assert run_dag("gatewayz_sync_models", {"providers": ["openai"]}).state == "success"
    assert len(notices(catalog)) == 14
    alerts.clear()

    monkeypatch.setenv("GATEWAYZ_NOW", "2026-12-05T12:00:00+00:00")
    dry = run_dag("gatewayz_sync_models", {"providers": ["openai"], "dry_run": True})
    assert dry.state == "success"
    assert alerts.messages() == [], "a dry run sends no notice"
    assert len(notices(catalog)) == 14, "and records none"
    assert xcom_values(dry, "notify")[-1]["retirement_notices_withheld"] == [
        f"openai (6 models: {', '.join(OPENAI_30_DAYS)}): shut down 2026-12-11, in 5 days (7-day notice)"]

    assert run_dag("gatewayz_sync_models", {"providers": ["openai"]}).state == "success"
    (digest,) = alerts.messages("/alerts")
    assert digest.title == "Catalog changes: 6 retirement notices", "still due after the dry run"


def test_a_notice_names_the_replacement_its_provider_gives(catalog, run_dag, replay, alerts, monkeypatch):
    monkeypatch.setenv("GATEWAYZ_NOW", "2026-07-20T00:00:00+00:00")
    assert run_dag("gatewayz_sync_providers").state == "success"
    assert run_dag("gatewayz_sync_models", {"providers": ["mistral"]}).state == "success"
    (digest,) = alerts.messages("/alerts")
    assert digest.title == "Catalog changes: 55 added, 6 retirement notices"
    assert (f"- mistral (6 models: {', '.join(MISTRAL_DEPRECATED)}): deprecated from 2026-08-31 (no shutdown date "
            "known), in 42 days (90-day notice); replacement: mistral-medium-3-5") in digest.message
    assert {row[1] for row in notices(catalog)} == {90}


def test_notices_of_a_digest_that_was_not_delivered_stay_due(catalog, run_dag, replay, receiver, monkeypatch):
    receiver.clear()
    monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", receiver.connection_json("/fail"))
    assert run_dag("gatewayz_sync_providers").state == "success"
    failed = run_dag("gatewayz_sync_models", {"providers": ["openrouter"]})
    assert task_states(failed)[("notify", -1)] == "failed"
    assert notices(catalog) == [], "not delivered, not recorded"

    monkeypatch.setenv("AIRFLOW_CONN_GATEWAYZ_ALERTS", receiver.connection_json("/alerts"))
    assert run_dag("gatewayz_sync_models", {"providers": ["openrouter"]}).state == "success"
    (digest,) = receiver.messages("/alerts")
    assert digest.title == "Catalog changes: 1 retirement notice"
    assert "- openrouter z-ai/glm-4.5: shuts down 2026-12-31, in 32 days (90-day notice)" in digest.message
    assert notices(catalog) == [("z-ai/glm-4.5", 90, "2026-12-31")]
