"""The README's fenced code blocks, by section, so tests run what the README tells operators to type."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
HEADING = re.compile(r"^(#{2,6}) (.+)$", re.M)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)


def section(title: str, text: str | None = None) -> str:
    """The text under the heading that starts with `title`, down to the next heading of its level or above."""
    text = README.read_text() if text is None else text
    headings = list(HEADING.finditer(text))
    for index, heading in enumerate(headings):
        if heading.group(2).startswith(title):
            level = len(heading.group(1))
            end = next((h.start() for h in headings[index + 1:] if len(h.group(1)) <= level), len(text))
            return text[heading.end():end]
    raise LookupError(f"no README section titled {title!r}")


def blocks(title: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(section(title)) if lang == language]


def shell_commands(title: str) -> list[str]:
    """Each command of the section's bash blocks, continuation lines joined."""
    commands = []
    for block in blocks(title, "bash"):
        for command in re.sub(r"\\\n\s*", "", block).splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                commands.append(command.strip())
    return commands


def titled_queries(title: str) -> dict[str, str]:
    """The section's SQL blocks by their first comment line (its text before any parenthesis)."""
    queries = {}
    for block in blocks(title, "sql"):
        first = block.splitlines()[0]
        assert first.startswith("-- "), f"a documented query starts with a `-- title` line: {first!r}"
        queries[first[3:].split(" (")[0].strip()] = block
    return queries


def originals(query: str) -> list[str]:
    """The original guide's form of a query, kept in its `-- original:` comment lines."""
    return [line.split("-- original:", 1)[1].strip() for line in query.splitlines() if "-- original:" in line]
