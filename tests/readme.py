"""The README's and docs/'s fenced code blocks, by section, so tests run what the docs tell operators to type."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
HEADING = re.compile(r"^(#{2,6}) (.+)$", re.M)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)


def documents() -> list[Path]:
    """Where sections are looked up, in order: the README, then every docs/*.md by name."""
    return [README, *sorted(DOCS.glob("*.md"))]


def _section_in(title: str, text: str) -> str | None:
    headings = list(HEADING.finditer(text))
    for index, heading in enumerate(headings):
        if heading.group(2).startswith(title):
            level = len(heading.group(1))
            end = next((h.start() for h in headings[index + 1:] if len(h.group(1)) <= level), len(text))
            return text[heading.end():end]
    return None


def section(title: str, text: str | None = None) -> str:
    """The text under the heading that starts with `title`, down to the next heading of its level or above.

    Searched in `text` when given, else in the README and then docs/*.md: the first file that has it wins.
    """
    if text is not None:
        found = _section_in(title, text)
        if found is None:
            raise LookupError(f"no section titled {title!r} in the given text")
        return found
    files = documents()
    for path in files:
        found = _section_in(title, path.read_text())
        if found is not None:
            return found
    searched = ", ".join(str(path.relative_to(PROJECT_ROOT)) for path in files)
    raise LookupError(f"no section titled {title!r} in {searched}")


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
