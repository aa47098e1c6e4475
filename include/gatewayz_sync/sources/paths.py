"""Dotted paths into parsed JSON (`links.next`, `providers.0.pricing`): how specs name a place in a document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_SPLIT_PATHS = 4096
_STEPS: dict[str, tuple[str, ...]] = {}


def read_path(document: Any, path: str | None) -> Any:
    """Follow a dotted path; None when any step is missing. An empty path is the document itself."""
    if path is None or path == "":
        return document
    steps = _STEPS.get(path)
    if steps is None:
        steps = tuple(path.split("."))
        if len(_STEPS) < MAX_SPLIT_PATHS:  # specs name a few dozen paths, each read once per record: split once
            _STEPS[path] = steps
    current = document
    for step in steps:
        if type(current) is dict or isinstance(current, Mapping):
            current = current.get(step)
        elif isinstance(current, list) and step.isdigit():
            index = int(step)
            current = current[index] if index < len(current) else None
        else:
            return None
        if current is None:
            return None
    return current


def write_path(document: dict, path: str, value: Any) -> None:
    """Set the value at a dotted path, creating objects on the way."""
    steps = path.split(".")
    for step in steps[:-1]:
        document = document.setdefault(step, {})
    document[steps[-1]] = value
