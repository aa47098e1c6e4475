"""How every page writes a value for people: counts with thousands separators, money with its currency and unit,
times as a relative age with the exact UTC time on hover, booleans as yes/no, long text cut at a word.

One module, used by every template (as Jinja filters) and by the charts, so a value reads the same on each page.
Amounts are `Decimal`: a price shows at least cents and every digit it has beyond them (up to 8 significant ones;
past that it is rounded and marked `~`, the exact amount stays in the JSON APIs and the database).
Relative ages are measured from a `now` the caller passes (the time the page was generated), never read here.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup, escape

from ..catalog.meters import PER_MILLION_UNITS

EMPTY = ""
SIGNIFICANT = 8
ELLIPSIS = "…"
# The flat price columns that are not per 1M tokens, and the unit each is charged per.
FLAT_COLUMN_UNITS = {"request_usd": "request", "image_usd": "image", "web_search_usd": "request"}
COUNT_FIELDS = ("context_length", "max_output_tokens", "price_long_context_threshold_tokens", "missing_count")


def number(value: Any) -> str:
    """`1050000` -> `1,050,000`; a float keeps its digits (`0.5`); None -> ``."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        return f"{value:,.0f}" if value == int(value) else f"{value:,}"
    return str(value)


def compact(value: float | int | Decimal | None) -> str:
    """`1050000` -> `1.05M`, `128000` -> `128K`, `950` -> `950`: for axes and tight cells."""
    if value is None:
        return EMPTY
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if abs(value) >= size:
            return f"{float(value) / size:.3g}{suffix}"
    return f"{float(value):g}"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def amount(value: Any) -> str:
    """`30` -> `$30.00`, `0.0000375` -> `$0.0000375`, `1234.5` -> `$1,234.50`: at least cents, every stored digit up
    to `SIGNIFICANT` of them; an amount with more (a division's `0.0833333333333333`) is shown rounded, marked `~`."""
    exact = _decimal(value)
    if exact is None:
        return EMPTY if value is None or value == "" else str(value)
    shown = exact
    if exact and len(exact.normalize().as_tuple().digits) > SIGNIFICANT:
        shown = round(exact, SIGNIFICANT - exact.adjusted() - 1)
    digits = max(2, -shown.normalize().as_tuple().exponent)
    return f"{'~' if shown != exact else ''}{'-' if shown < 0 else ''}${abs(shown):,.{digits}f}"


def per_unit(unit: str) -> str:
    """`token` -> `1M tokens`, `character` -> `1M characters`, `image` -> `image`: what one amount buys."""
    return f"1M {unit}s" if unit in PER_MILLION_UNITS else unit


def money(value: Any, unit: str = "token") -> str:
    """An amount with its currency and unit as stored: `$30.00 / 1M tokens`, `$0.04 / image`."""
    text = amount(value)
    return f"{text} / {per_unit(unit)}" if text.lstrip("~-").startswith("$") else text


def column_unit(column: str) -> str:
    """The unit a flat price column is charged per: `price_input_usd_per_mtok` -> token, `request_usd` -> request."""
    name = column.removeprefix("price_")
    return "token" if name.endswith("_usd_per_mtok") else FLAT_COLUMN_UNITS.get(name, "request")


def yes_no(value: Any) -> str:
    return EMPTY if value is None else ("yes" if value else "no")


def utc_time(value: str | datetime | None) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def exact_time(value: str | datetime | None) -> str:
    """`2026-11-26T20:53:25.59+00:00` -> `2026-11-26 20:53:25 UTC` (text that is no time comes back as it was)."""
    moment = utc_time(value)
    if moment is None:
        return str(value) if value else EMPTY
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def when(value: str | datetime | None) -> str:
    """`2026-11-26T20:53:25.59+00:00` -> `2026-11-26 20:53 UTC`: an exact time where a relative one would not do."""
    moment = utc_time(value)
    if moment is None:
        return str(value) if value else EMPTY
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def relative(value: str | datetime | None, now: datetime) -> str:
    """`3 min ago`, `5 h ago`, `2 days ago`, `in 4 h`; `just now` within a minute either way."""
    moment = utc_time(value)
    if moment is None:
        return EMPTY
    seconds = (now - moment).total_seconds()
    span = abs(seconds)
    if span < 60:
        return "just now"
    if span < 3600:
        text = f"{int(span // 60)} min"
    elif span < 48 * 3600:
        text = f"{int(span // 3600)} h"
    elif span < 60 * 86400:
        text = f"{int(span // 86400)} days"
    else:
        text = f"{int(span // (30 * 86400))} months"
    return f"{text} ago" if seconds > 0 else f"in {text}"


def age(value: str | datetime | None, now: datetime) -> Markup:
    """A `<time>` element: the relative age as text, the exact UTC time as its `datetime` and on hover."""
    moment = utc_time(value)
    if moment is None:
        return Markup(escape(value or EMPTY))
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        moment.isoformat(), exact_time(moment), relative(moment, now)
    )


def ellipsis(text: str | None, limit: int = 240) -> str:
    """At most `limit` characters, cut at the last word boundary before it, with `…` when anything was cut."""
    if not text:
        return EMPTY
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[: limit + 1] else text[:limit]
    return cut.rstrip(" ,;:.-–—") + ELLIPSIS


def duration(seconds: float | None) -> str:
    """`0.0042` -> `4 ms`, `1.5` -> `1.50 s`, `95` -> `1 min 35 s`."""
    if seconds is None:
        return EMPTY
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def percent(share: float | None, digits: int = 1) -> str:
    """`0.7254` -> `72.5%`; None -> `–`."""
    return "–" if share is None else f"{100 * share:.{digits}f}%"


def field_value(name: str, value: Any, now: datetime) -> Markup | str:
    """A stored model field as text: prices with currency and unit, token counts with separators, times as ages,
    booleans as yes/no, lists joined, JSON indented; ids and hashes as they are."""
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, datetime):
        return age(value, now)
    if isinstance(value, date):
        return value.isoformat()
    if name.startswith("price_") and isinstance(value, Decimal):
        return money(value, column_unit(name))
    if name in COUNT_FIELDS:
        return number(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, indent=2, sort_keys=True, default=str)
    return str(value)


def change_value(field: str | None, value: str | None) -> str:
    """A change's old or new value (stored as text): a price column's as money, a count with separators."""
    if value is None or value == "":
        return EMPTY
    if field and field.startswith("price_") and field not in COUNT_FIELDS and _decimal(value) is not None:
        return money(value, column_unit(field))
    if field in COUNT_FIELDS and value.isdigit():
        return number(int(value))
    if field and "/" in field and _decimal(value) is not None:
        unit = field.split("/", 1)[1]
        for mark in ">;@[":
            unit = unit.split(mark, 1)[0]
        return money(value, unit)
    return value


FILTERS = {
    "number": number, "compact": compact, "amount": amount, "money": money, "yes_no": yes_no, "when": when,
    "exact_time": exact_time, "ellipsis": ellipsis, "percent": percent, "change_value": change_value,
    "per_unit": per_unit, "duration": duration, "age": age, "field_value": field_value,
}
