"""The routing fields a gateway decides on, one meaning each, and how a reference document states them.

Each field is a column of `models` and has one meaning whatever its source:

- `context_length`: the total window (input and output together, the figure a request must fit in);
- `max_input_tokens`: the input limit, where a source states one apart from the window (OpenAI's gpt-5: 272,000
  in a 400,000 window; Cohere's documented "context length", 256,000 of command-a's 288,000 window);
- `max_output_tokens`: the most a response may generate;
- `supports_*`: true or false only where a source says so (absent is unknown, never false);
- `deprecation_date`, `shutdown_date`: dates.

A reference's value is read as that meaning. models.dev's `limit.context` is the window, `limit.input` the input
limit, `limit.output` the output limit; LiteLLM's `max_input_tokens` is an input limit (its gpt-5 entry says
272,000), so it fills `max_input_tokens`, never the window; LiteLLM's `deprecation_date` is the day the model stops
answering (its own router drops it then), so it fills `shutdown_date`. A mapped provider may declare that a
source's context figure is its input limit (`SourceProviders.context_is_input`: models.dev's Cohere entries).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

TOKENS, FLAG, DATE = "tokens", "flag", "date"
ROUTING_FIELDS: Mapping[str, str] = {
    "context_length": TOKENS,
    "max_input_tokens": TOKENS,
    "max_output_tokens": TOKENS,
    "supports_tools": FLAG,
    "supports_vision": FLAG,
    "supports_audio_input": FLAG,
    "supports_audio_output": FLAG,
    "supports_reasoning": FLAG,
    "supports_structured_output": FLAG,
    "deprecation_date": DATE,
    "shutdown_date": DATE,
}
# the change kind a new value of each field is recorded under (`model_changes.kind`)
CHANGE_KINDS = {TOKENS: "limits_changed", FLAG: "capabilities_changed", DATE: "deprecated"}
MAX_TOKENS = 100_000_000


def json_value(field: str, value: Any) -> Any:
    """A column value as the JSON a candidate, `field_sources` or `operator_fields` holds: an int, a bool, an ISO
    date; None for anything that is not a value of the field's type."""
    kind = ROUTING_FIELDS[field]
    if value is None:
        return None
    if kind == TOKENS:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or value != int(value):
            return None
        return int(value) if 0 < value <= MAX_TOKENS else None
    if kind == FLAG:
        return value if isinstance(value, bool) else None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            return None
    return None


def column_value(field: str, value: Any) -> Any:
    """A JSON value as the column stores it (dates as midnight UTC, as the model sync stores listed dates)."""
    if value is None or ROUTING_FIELDS[field] != DATE:
        return value
    return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)


def size_of_gap(field: str, value: Any, stored: Any) -> str:
    """How far a candidate is from the stored value, in words: `256,000 against 288,000 (-11.1%)`."""
    if ROUTING_FIELDS[field] == TOKENS and isinstance(value, int) and isinstance(stored, int) and stored:
        return f"{value:,} against {stored:,} ({(value - stored) / stored:+.1%})"
    return f"{value} against {stored}"


def _tokens(raw: Any) -> int | None:
    return json_value("context_length", raw)


def models_dev_fields(model: Mapping[str, Any], context_is_input: bool = False) -> dict[str, Any]:
    """A models.dev entry's routing fields: `limit`, `tool_call`, `reasoning`, `structured_output`, `modalities`."""
    limit = model.get("limit") if isinstance(model.get("limit"), Mapping) else {}
    modalities = model.get("modalities") if isinstance(model.get("modalities"), Mapping) else {}
    inputs, outputs = modalities.get("input"), modalities.get("output")
    found = {
        "context_length": None if context_is_input else _tokens(limit.get("context")),
        "max_input_tokens": _tokens(limit.get("context")) if context_is_input else _tokens(limit.get("input")),
        "max_output_tokens": _tokens(limit.get("output")),
        "supports_tools": model.get("tool_call"),
        "supports_reasoning": model.get("reasoning"),
        "supports_structured_output": model.get("structured_output"),
    }
    if isinstance(inputs, list):
        found["supports_vision"] = "image" in inputs
        found["supports_audio_input"] = "audio" in inputs
    if isinstance(outputs, list):
        found["supports_audio_output"] = "audio" in outputs
    return {name: value for name, value in found.items() if json_value(name, value) is not None}


_LITELLM_FLAGS = {
    "supports_function_calling": "supports_tools",
    "supports_vision": "supports_vision",
    "supports_audio_input": "supports_audio_input",
    "supports_audio_output": "supports_audio_output",
    "supports_reasoning": "supports_reasoning",
    "supports_response_schema": "supports_structured_output",
}


def litellm_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A LiteLLM entry's routing fields: `max_input_tokens`, `max_output_tokens`, the `supports_*` flags it states,
    `deprecation_date` (read as the shutdown date)."""
    found = {"max_input_tokens": _tokens(entry.get("max_input_tokens")),
             "max_output_tokens": _tokens(entry.get("max_output_tokens")),
             "shutdown_date": json_value("shutdown_date", entry.get("deprecation_date"))}
    for theirs, ours in _LITELLM_FLAGS.items():
        found[ours] = entry.get(theirs)
    return {name: json_value(name, value) for name, value in found.items() if json_value(name, value) is not None}


def context_as_input_limit(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A source's fields where its context figure is the input limit (`SourceProviders.context_is_input`)."""
    moved = dict(fields)
    context = moved.pop("context_length", None)
    if context is not None:
        moved.setdefault("max_input_tokens", context)
    return moved
