"""The inline SVG charts: well-formed SVG, one marker per plotted value, labels escaped, steps that hold values."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from include.gatewayz_sync.web.charts import sparkline, stacked_bars, step_chart

SVG = "{http://www.w3.org/2000/svg}"
T0 = datetime(2026, 11, 20, tzinfo=UTC)


def parsed(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def test_a_sparkline_has_one_point_per_value_and_escapes_its_labels():
    svg = parsed(sparkline([("<b>run 1</b>", 10), ("run 2", 12), ("run 3", 11)], label="x <script>alert(1)</script>"))
    assert svg.get("data-points") == "3"
    assert len(svg.findall(f"{SVG}circle")) == 3
    assert svg.find(f"{SVG}title").text == "x <script>alert(1)</script>"
    assert svg.find(f"{SVG}circle/{SVG}title").text == "<b>run 1</b>"
    assert "<script>" not in str(sparkline([], label="<script>"))
    xs = [float(c.get("cx")) for c in svg.findall(f"{SVG}circle")]
    assert xs == sorted(xs)


def test_a_flat_or_single_point_sparkline_stays_inside_its_box():
    for values in ([5], [5, 5, 5]):
        svg = parsed(sparkline([(str(v), v) for v in values], label="flat", height=30))
        assert all(0 <= float(c.get("cy")) <= 30 for c in svg.findall(f"{SVG}circle"))
    assert parsed(sparkline([], label="none")).get("data-points") == "0"


def test_stacked_bars_draw_one_column_per_day_and_a_segment_per_outcome():
    days = [("2026-11-26", {"success": 3, "failed": 1}), ("2026-11-27", {}), ("2026-11-28", {"skipped": 2})]
    svg = parsed(stacked_bars(days, label="outcomes"))
    columns = svg.findall(f"{SVG}g")
    assert [c.get("data-label") for c in columns] == ["2026-11-26", "2026-11-27", "2026-11-28"]
    segments = [[r.get("class") for r in c.findall(f"{SVG}rect")] for c in columns]
    assert segments == [["segment segment-success", "segment segment-failed"], [], ["segment segment-skipped"]]
    heights = [float(r.get("height")) for r in columns[0].findall(f"{SVG}rect")]
    assert heights[0] == 3 * heights[1]


def test_a_step_chart_holds_each_price_until_the_next_and_skips_unknown_values():
    series = {
        "input": [(T0, Decimal("3")), (T0 + timedelta(days=2), Decimal("4"))],
        "output": [(T0, None), (T0 + timedelta(days=1), Decimal("15")), (T0 + timedelta(days=2), Decimal("18"))],
    }
    svg = parsed(step_chart(series, end=T0 + timedelta(days=4), label="prices <of> x"))
    groups = {g.get("data-series"): g for g in svg.findall(f"{SVG}g")}
    assert groups["input"].get("data-points") == "2" and groups["output"].get("data-points") == "2"
    assert svg.get("data-points") == "4"
    path = groups["input"].find(f"{SVG}path").get("d")
    assert path.count("M") == 2 and path.count("V") == 1 and path.count("H") == 2
    circles = groups["input"].findall(f"{SVG}circle")
    assert float(circles[1].get("cy")) < float(circles[0].get("cy")), "a higher price is drawn higher"
    assert circles[1].find(f"{SVG}title").text == "input 2026-11-22 00:00: 4"
    assert svg.find(f"{SVG}title").text == "prices <of> x"


def test_a_step_chart_of_many_tiers_wraps_its_legend_and_grows_instead_of_overflowing():
    series = {f"input above {n:,} tokens (USD per 1M tokens)": [(T0, Decimal(n))] for n in (32000, 128000, 256000)}
    series = {"input (USD per 1M tokens)": [(T0, Decimal("1"))], **series}
    svg = parsed(step_chart(series, end=T0 + timedelta(days=1), label="tiers", width=640, height=220))
    labels = [t for t in svg.iter(f"{SVG}text") if t.text and t.text.startswith("input")]
    rows = sorted({float(t.get("y")) for t in labels})
    assert len(rows) >= 2 and int(svg.get("height")) == 220 + (len(rows) - 1) * 16
    assert all(float(t.get("x")) + 6.5 * len(t.text) <= 640 for t in labels), "every legend entry inside the chart"
    assert {g.get("data-series") for g in svg.findall(f"{SVG}g")} == set(series)


def test_a_single_point_sparkline_is_a_level_line_not_a_dot():
    svg = parsed(sparkline([("run 1: 225 models", 225)], label="one run", width=140))
    (level,) = svg.findall(f"{SVG}line")
    assert float(level.get("x2")) - float(level.get("x1")) > 100
    (point,) = svg.findall(f"{SVG}circle")
    assert svg.get("data-points") == "1" and float(point.get("cx")) > 100


def test_a_step_chart_labels_its_y_axis_at_readable_steps_in_dollars():
    series = {"input (USD per 1M tokens)": [(T0, Decimal("30"))], "output (USD per 1M tokens)": [(T0, Decimal("180"))]}
    svg = parsed(step_chart(series, end=T0 + timedelta(days=1), label="prices"))
    ticks = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks == ["$0.00", "$50.00", "$100.00", "$150.00", "$200.00"]
    circles = {g.get("data-series"): float(g.find(f"{SVG}circle").get("cy")) for g in svg.findall(f"{SVG}g")}
    assert circles["output (USD per 1M tokens)"] < circles["input (USD per 1M tokens)"]
