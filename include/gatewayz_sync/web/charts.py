"""Small inline SVG charts rendered on the server: sparklines, stacked bars per day, a step chart of prices.

No JavaScript and nothing fetched from elsewhere, so the pages work offline. Each chart is one `<svg>` string
with every label escaped; each plotted value is one `<circle class="point">` (or one `<rect>` segment) with a
`<title>` tooltip, and the chart's `data-points` says how many there are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from markupsafe import Markup, escape

from .formats import amount

OUTCOME_COLOURS = {"success": "#12b76a", "failed": "#f04438", "skipped": "#98a2b3", "dry_run": "#7a5af8"}
SERIES_COLOURS = ("#175cd3", "#dc6803", "#0e9384", "#c11574", "#6938ef", "#4e5ba6", "#b54708", "#087443")
LEGEND_ROW = 16


def _xy(x: float, y: float) -> str:
    return f"{x:.1f},{y:.1f}"


def _svg(kind: str, width: int, height: int, points: int, label: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart {kind}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" data-points="{points}">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _scale(low: float, high: float, top: float, bottom: float):
    span = high - low
    if span == 0:
        return lambda value: (top + bottom) / 2
    return lambda value: bottom - (value - low) / span * (bottom - top)


def sparkline(points: Sequence[tuple[str, float]], *, label: str, colour: str = SERIES_COLOURS[0],
              width: int = 140, height: int = 30) -> Markup:
    """A line through `(tooltip, value)` points, oldest first, scaled to their own range."""
    pad = 3.0
    values = [value for _, value in points]
    if not values:
        return _svg("sparkline", width, height, 0, f"{label}: no data",
                    [f'<text x="{pad}" y="{height - 10}" font-size="10" fill="#98a2b3">no data</text>'])
    y_of = _scale(min(values), max(values), pad, height - pad)
    if len(values) == 1:
        # One value is a level, not a dot: a line across the box, its point at the latest (right) end.
        y = y_of(values[0])
        body = [f'<line class="level" x1="{pad}" y1="{y:.1f}" x2="{width - pad}" y2="{y:.1f}" stroke="{colour}" '
                'stroke-width="1.5" stroke-dasharray="4 3"/>',
                f'<circle class="point" cx="{width - pad - 1:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(points[0][0])}</title></circle>"]
        return _svg("sparkline", width, height, 1, label, body)
    step = (width - 2 * pad) / (len(values) - 1)
    coordinates = [(pad + index * step, y_of(value)) for index, value in enumerate(values)]
    body = [f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
            f'points="{" ".join(_xy(x, y) for x, y in coordinates)}"/>']
    for (tooltip, _), (x, y) in zip(points, coordinates, strict=True):
        body.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="{colour}">'
                    f"<title>{escape(tooltip)}</title></circle>")
    return _svg("sparkline", width, height, len(values), label, body)


def stacked_bars(columns: Sequence[tuple[str, Mapping[str, int]]], *, label: str, height: int = 150) -> Markup:
    """One bar per column (a day), its segments stacked in the order of OUTCOME_COLOURS; a legend below."""
    colours = OUTCOME_COLOURS
    bar, gap, axis, legend = 24, 12, 16, 18
    width = max(len(columns) * (bar + gap) + gap, 200)
    plot_bottom = height - axis - legend
    tallest = max((sum(counts.get(status, 0) for status in colours) for _, counts in columns), default=0) or 1
    body = [f'<line x1="0" y1="{plot_bottom}" x2="{width}" y2="{plot_bottom}" stroke="#d0d5dd"/>']
    for index, (column, counts) in enumerate(columns):
        x = gap + index * (bar + gap)
        y = float(plot_bottom)
        parts = [f'<g class="column" data-label="{escape(column)}">']
        for status, colour in colours.items():
            count = counts.get(status, 0)
            if not count:
                continue
            segment = count / tallest * (plot_bottom - 4)
            y -= segment
            parts.append(f'<rect class="segment segment-{escape(status)}" x="{x}" y="{y:.1f}" width="{bar}" '
                         f'height="{segment:.1f}" fill="{colour}"><title>{escape(column)} {escape(status)}: {count}'
                         f"</title></rect>")
        parts.append(f'<text x="{x + bar / 2}" y="{plot_bottom + 12}" font-size="9" text-anchor="middle" '
                     f'fill="#667085">{escape(column[-5:])}</text></g>')
        body.append("".join(parts))
    for index, (status, colour) in enumerate(colours.items()):
        x = 4 + index * 80
        body.append(f'<rect x="{x}" y="{height - 12}" width="10" height="10" fill="{colour}"/>'
                    f'<text x="{x + 14}" y="{height - 3}" font-size="10" fill="#344054">{escape(status)}</text>')
    return _svg("stacked-bars", width, height, len(columns), label, body)


def axis_ticks(high: Decimal | float | int, most: int = 6) -> list[Decimal]:
    """Ticks from 0 at a readable step (1, 2, 2.5 or 5 times a power of ten) up to the first at or above `high`,
    at most `most` intervals: 180 -> 0, 50, 100, 150, 200; 0.45 -> 0, 0.1, ... 0.5; 0 -> 0, 1."""
    high = Decimal(str(high)) if not isinstance(high, Decimal) else high
    if high <= 0:
        return [Decimal(0), Decimal(1)]
    rough = high / most
    power = Decimal(10) ** rough.adjusted()
    step = next(power * factor for factor in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
                if power * factor >= rough)
    count = int((high / step).to_integral_value(rounding=ROUND_CEILING))
    return [step * index for index in range(count + 1)]


def step_chart(series: Mapping[str, Sequence[tuple[datetime, Decimal | None]]], *, end: datetime, label: str,
               width: int = 640, height: int = 220) -> Markup:
    """Each series holds its value from one point until the next (then to `end`); an unknown value is a gap. The
    legend wraps into as many rows as the series need (long-context tiers add series); the chart grows by them."""
    legend_rows, legend_x = 1, 64.0
    for name in series:
        item = 30 + 6.5 * len(name)
        if legend_x > 64 and legend_x + item > width - 12:
            legend_rows, legend_x = legend_rows + 1, 64.0
        legend_x += item
    height += (legend_rows - 1) * LEGEND_ROW
    left, right, top, bottom = 64, 12, 10, height - 40 - (legend_rows - 1) * LEGEND_ROW
    times = [when for points in series.values() for when, _ in points] + [end]
    start, end = min(times), max(times)
    span = max((end - start).total_seconds(), 1.0)
    known = [value for points in series.values() for _, value in points if value is not None]
    ticks = axis_ticks(max(known, default=Decimal(0)))
    y_of = _scale(0.0, float(ticks[-1]), top, bottom)

    def x_of(when: datetime) -> float:
        return left + (when - start).total_seconds() / span * (width - left - right)

    body = [f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" stroke="#d0d5dd"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#d0d5dd"/>']
    for tick in ticks:
        y = y_of(float(tick))
        if tick:
            body.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#f2f4f7"/>')
        body.append(f'<text class="tick" x="{left - 4}" y="{y + 3:.1f}" font-size="10" text-anchor="end" '
                    f'fill="#667085">{escape(amount(tick))}</text>')
    for when, anchor in ((start, "start"), (end, "end")):
        body.append(f'<text x="{x_of(when):.1f}" y="{bottom + 14}" font-size="10" text-anchor="{anchor}" '
                    f'fill="#667085">{escape(when.strftime("%Y-%m-%d %H:%M"))}</text>')
    plotted, legend_x, legend_y = 0, float(left), float(height - 14 - (legend_rows - 1) * LEGEND_ROW)
    for index, (name, points) in enumerate(series.items()):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        circles, path = [], []
        for position, (when, value) in enumerate(points):
            if value is None:
                continue
            x, y = x_of(when), y_of(float(value))
            until = points[position + 1][0] if position + 1 < len(points) else end
            path.append(f"M{_xy(x, y)} H{x_of(until):.1f}")
            following = points[position + 1][1] if position + 1 < len(points) else None
            if following is not None:
                path.append(f"V{y_of(float(following)):.1f}")
            circles.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                           f'<title>{escape(name)} {escape(when.strftime("%Y-%m-%d %H:%M"))}: {escape(str(value))}'
                           "</title></circle>")
        plotted += len(circles)
        body.append(f'<g class="series" data-series="{escape(name)}" data-points="{len(circles)}">'
                    f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2"/>{"".join(circles)}</g>')
        item = 30 + 6.5 * len(name)
        if legend_x > left and legend_x + item > width - right:
            legend_x, legend_y = float(left), legend_y + LEGEND_ROW
        body.append(f'<rect x="{legend_x:.0f}" y="{legend_y:.0f}" width="10" height="10" fill="{colour}"/>'
                    f'<text x="{legend_x + 14:.0f}" y="{legend_y + 9:.0f}" font-size="11" fill="#344054">'
                    f"{escape(name)}</text>")
        legend_x += item
    return _svg("step-chart", width, height, plotted, label, body)
