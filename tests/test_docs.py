"""The README stays a front door (at most 200 lines), and every relative link of README.md and docs/*.md leads
to a file of this repository and, with an anchor, to a heading of that file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.readme import PROJECT_ROOT, README, documents

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCED = re.compile(r"^```.*?^```$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)


def prose(text: str) -> str:
    """The text without code blocks; inline code only where it is not a link's text."""
    text = FENCED.sub("", text)
    return re.sub(r"(?<!\[)" + INLINE_CODE.pattern + r"(?!\])", "", text)


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a file's headings: lowercase, punctuation dropped, spaces as dashes."""
    return {re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
            for title in HEADING.findall(FENCED.sub("", path.read_text()))}


def relative_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(prose(path.read_text()))
            if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def test_the_readme_is_at_most_200_lines():
    assert len(README.read_text().splitlines()) <= 200


def test_the_readme_links_every_docs_file():
    linked = {(PROJECT_ROOT / target.split("#")[0]).resolve() for target in relative_links(README)}
    assert set(documents()[1:]) <= linked


@pytest.mark.parametrize("path", documents(), ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_every_relative_link_resolves(path):
    links = relative_links(path)
    assert links, f"{path.name} links nothing"
    broken = []
    for target in links:
        file, _, anchor = target.partition("#")
        destination = (path.parent / file).resolve() if file else path
        if not destination.exists() or PROJECT_ROOT not in destination.parents:
            broken.append(target)
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(target)
    assert not broken, f"{path.relative_to(PROJECT_ROOT)}: {broken}"
