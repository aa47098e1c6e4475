"""How one raw field becomes a normalized value, or a reason it could not (a `FieldIssue`, counted by the caller)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ..sources.paths import read_path
from ..sources.specs import Flag, Member
from .records import MAX_CONTEXT_TOKENS, MAX_MODALITIES


class FieldIssue(Exception):
    """A field that cannot be used; `reason` is a short stable key for counting."""

    def __init__(self, reason: str):
        self.reason = reason


def first(view: Any, paths: tuple[str, ...]) -> Any:
    for path in paths:
        value = read_path(view, path)
        if value is not None:
            return value
    return None


def clean_text(value: Any, field_name: str, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldIssue(f"{field_name}_not_text")
    if "\x00" in value:
        value = value.replace("\x00", "")
    if len(value) > max_length:
        raise FieldIssue(f"{field_name}_too_long")
    return value if value.strip() else None


def token_count(value: Any, field_name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise FieldIssue(f"{field_name}_not_integer")
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            raise FieldIssue(f"{field_name}_not_integer")
        value = int(value)
    if isinstance(value, Decimal):
        if value != value.to_integral_value():
            raise FieldIssue(f"{field_name}_not_integer")
        value = int(value)
    if not isinstance(value, int):
        raise FieldIssue(f"{field_name}_not_integer")
    if value <= 0:
        raise FieldIssue(f"{field_name}_not_positive")
    if value > MAX_CONTEXT_TOKENS:
        raise FieldIssue(f"{field_name}_absurd")
    return value


def modalities(value: Any, field_name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FieldIssue(f"{field_name}_not_string_list")
    if len(value) > MAX_MODALITIES:
        raise FieldIssue(f"{field_name}_too_many")
    return tuple(dict.fromkeys(item.strip().lower() for item in value if item.strip()))


def timestamp(value: Any, field_name: str) -> datetime | None:
    """Unix seconds or milliseconds, an ISO date, or an ISO timestamp; anything else is a field issue."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            seconds = int(value) / 1000 if value > 100_000_000_000 else int(value)
            return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(value, str):
            text = value.strip()
            if len(text) == 10:
                return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise FieldIssue(f"{field_name}_not_a_date") from None
    raise FieldIssue(f"{field_name}_not_a_date")


def capability(view: Any, selector: Flag | Member) -> bool | None:
    if isinstance(selector, Flag):
        value = read_path(view, selector.path)
        return value if isinstance(value, bool) else None
    listed = read_path(view, selector.path)
    if not isinstance(listed, list):
        return None
    return any(value in listed for value in selector.values)
