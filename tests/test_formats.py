"""How the pages write values for people: separators, money with currency and unit, ages with the exact time on
hover, yes/no, text cut at a word, readable axis steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from include.gatewayz_sync.web import formats
from include.gatewayz_sync.web.charts import axis_ticks

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "text"), [
    (1050000, "1,050,000"), (1263, "1,263"), (0, "0"), (None, ""), (Decimal("1050000"), "1,050,000"), (0.5, "0.5"),
    (True, "yes"),
])
def test_numbers_carry_thousands_separators(value, text):
    assert formats.number(value) == text


@pytest.mark.parametrize(("value", "text"), [(1050000, "1.05M"), (128000, "128K"), (950, "950"), (2_500_000_000, "2.5B")])
def test_compact_numbers(value, text):
    assert formats.compact(value) == text


@pytest.mark.parametrize(("value", "unit", "text"), [
    (Decimal("30"), "token", "$30.00 / 1M tokens"),
    (Decimal("0.0000375"), "token", "$0.0000375 / 1M tokens"),
    ("1234.5", "token", "$1,234.50 / 1M tokens"),
    (Decimal("15"), "character", "$15.00 / 1M characters"),
    (Decimal("0.04"), "image", "$0.04 / image"),
    (Decimal("0.006"), "second", "$0.006 / second"),
    (Decimal("0.01"), "request", "$0.01 / request"),
    (Decimal("0"), "token", "$0.00 / 1M tokens"),
    (Decimal("3E+1"), "token", "$30.00 / 1M tokens"),
    (Decimal("0.0833333333333333"), "token", "~$0.083333333 / 1M tokens"),
    (Decimal("0.12345678"), "token", "$0.12345678 / 1M tokens"),
    (None, "token", ""),
    ("n/a", "token", "n/a"),
])
def test_money_shows_currency_and_the_stored_unit_and_marks_what_it_rounds(value, unit, text):
    assert formats.money(value, unit) == text


def test_flat_price_columns_know_their_unit():
    assert formats.column_unit("price_input_usd_per_mtok") == "token"
    assert formats.column_unit("price_image_usd") == "image"
    assert formats.column_unit("web_search_usd") == "request"
    assert formats.change_value("price_output_usd_per_mtok", "3.6") == "$3.60 / 1M tokens"
    assert formats.change_value("input/character", "15") == "$15.00 / 1M characters"
    assert formats.change_value("output/token>272000;flex", "2") == "$2.00 / 1M tokens"
    assert formats.change_value("context_length", "1050000") == "1,050,000"
    assert formats.change_value("name", "GPT <5>") == "GPT <5>"


@pytest.mark.parametrize(("delta", "text"), [
    (timedelta(seconds=20), "just now"), (timedelta(minutes=3, seconds=10), "3 min ago"), (timedelta(hours=5), "5 h ago"),
    (timedelta(days=3), "3 days ago"), (timedelta(days=-1, hours=-2), "in 26 h"), (timedelta(days=90), "3 months ago"),
])
def test_relative_ages(delta, text):
    assert formats.relative(NOW - delta, NOW) == text


def test_an_age_is_a_time_element_with_the_exact_utc_time_on_hover():
    html = str(formats.age("2026-11-28T13:57:10.5+02:00", NOW))
    assert html == ('<time datetime="2026-11-28T11:57:10.500000+00:00" title="2026-11-28 11:57:10 UTC">2 min ago</time>')
    assert formats.age(None, NOW) == "" and str(formats.age("<b>soon</b>", NOW)) == "&lt;b&gt;soon&lt;/b&gt;"
    assert formats.when(datetime(2026, 11, 28, 9, 5, tzinfo=UTC)) == "2026-11-28 09:05 UTC"


def test_long_text_is_cut_at_a_word_with_an_ellipsis():
    text = "GPT-5.5 Pro is a high-capability model optimized for deep reasoning"
    assert formats.ellipsis(text, 30) == "GPT-5.5 Pro is a…", "never inside a word"
    assert formats.ellipsis(text, 200) == text
    assert formats.ellipsis("x" * 50, 10) == "x" * 10 + "…"
    assert formats.ellipsis("a, b, c, d", 5) == "a, b…"


def test_fields_read_as_people_read_them():
    assert formats.field_value("supports_tools", True, NOW) == "yes"
    assert formats.field_value("is_free", False, NOW) == "no"
    assert formats.field_value("context_length", 1050000, NOW) == "1,050,000"
    assert formats.field_value("price_input_usd_per_mtok", Decimal("30"), NOW) == "$30.00 / 1M tokens"
    assert formats.field_value("price_request_usd", Decimal("0.005"), NOW) == "$0.005 / request"
    assert formats.field_value("price_long_context_threshold_tokens", 200000, NOW) == "200,000"
    assert formats.field_value("id", 1240, NOW) == "1240"
    assert 'title="2026-11-28 11:00:00 UTC">1 h ago<' in str(formats.field_value("last_seen_at", NOW - timedelta(hours=1), NOW))
    assert formats.percent(0.7254) == "72.5%" and formats.percent(None) == "–"
    assert formats.duration(0.0042) == "4 ms" and formats.duration(1.5) == "1.50 s"


@pytest.mark.parametrize(("high", "ticks"), [
    (180, ["0", "50", "100", "150", "200"]),
    (30, ["0", "5", "10", "15", "20", "25", "30"]),
    (Decimal("0.45"), ["0", "0.1", "0.2", "0.3", "0.4", "0.5"]),
    (0, ["0", "1"]),
])
def test_axis_ticks_are_readable_steps_from_zero_past_the_highest_value(high, ticks):
    assert [f"{tick.normalize():f}" for tick in axis_ticks(high)] == ticks
