"""Injected misbehaviour for the replay server: one `Fault` per bad answer, and the bodies it bends.

A fault applies to the next `times` list requests of a provider (-1: all of them): an error status, a delay or
a hung connection, a malformed or padded body, a pagination loop, or a next-page link to a foreign host.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ...sources.paging import BodyNextLink, HasMoreCursor, LinkHeader, PageToken, Paginator
from ...sources.paths import write_path
from .catalogs import Page

HTML_ERROR_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
MAX_HANG_SECONDS = 600.0


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next `times` list requests of a provider (-1: all)."""

    status: int | None = None
    times: int = 1
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hang: float | None = None
    malformed: str | None = None
    repeat_cursor: bool = False
    next_link: str | None = None
    pad_bytes: int = 0
    chunked: bool = False
    auth_error: bool = False

    MALFORMED = ("truncated", "not_json", "html", "wrong_shape", "empty_list")

    def __post_init__(self) -> None:
        if self.malformed is not None and self.malformed not in self.MALFORMED:
            raise ValueError(f"malformed must be one of {self.MALFORMED}, got {self.malformed!r}")


def make_looping(page: Page, paginator: Paginator, path: str) -> Page:
    """Point the page's next-page reference back at a page already served."""
    body = page.body
    if isinstance(paginator, HasMoreCursor) and isinstance(body, dict):
        body[paginator.has_more_path] = True
        if paginator.cursor_path:
            body[paginator.cursor_path] = "loop-cursor"
    elif isinstance(paginator, PageToken) and isinstance(body, dict):
        body[paginator.token_path] = "loop-token"
    elif isinstance(paginator, BodyNextLink) and isinstance(body, dict):
        body.setdefault("links", {})["next"] = f"{path}?offset=loop"
    elif isinstance(paginator, LinkHeader):
        page.headers["Link"] = f'<{path}?cursor=loop>; rel="next"'
    return page


def with_foreign_link(page: Page, paginator: Paginator, link: str) -> Page:
    """Make the page's next-page link point at `link` (another host)."""
    if isinstance(paginator, LinkHeader):
        page.headers["Link"] = f'<{link}>; rel="next"'
    elif isinstance(page.body, dict):
        target = paginator.next_path if isinstance(paginator, BodyNextLink) else "links.next"
        write_path(page.body, target, link)
    return page


def bend_body(fault: Fault | None, body: bytes) -> tuple[bytes, str]:
    """The body and content type a successful answer goes out with, after the fault's malformation and padding."""
    content_type = "application/json"
    if fault is None:
        return body, content_type
    if fault.malformed == "truncated":
        body = body[: max(1, len(body) // 2)]
    elif fault.malformed == "not_json":
        body, content_type = b"upstream said: everything is fine", "text/plain"
    elif fault.malformed == "html":
        body, content_type = HTML_ERROR_PAGE, "text/html"
    elif fault.malformed == "wrong_shape":
        body = json.dumps({"error": {"message": "model catalog temporarily unavailable"}}).encode()
    if fault.pad_bytes:
        body = body + b" " * fault.pad_bytes
    return body, content_type
