"""Injected misbehaviour for the replay server: one `Fault` per bad answer, and the bodies it bends.

A fault applies to the next `times` list requests of a provider (-1: all of them): an error status, a delay, an
answer held until the test releases it (`hold`, a `threading.Event`), a hung connection, a malformed or padded
body, a pagination loop, a next-page link to a foreign host, an error
that echoes the key it received (plain, URL- or base64-encoded, after `echo_offset` filler characters, in a
JSON message or plain text), or hostile text (`ansi`: terminal escapes and a bidi override).
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from urllib.parse import quote

from ...sources.paging import BodyNextLink, HasMoreCursor, LinkHeader, PageToken, Paginator
from ...sources.paths import write_path
from .catalogs import Page

HTML_ERROR_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
MAX_HANG_SECONDS = 600.0
ANSI_TEXT = "x\u001b[2J\u001b[31mRED\u202eevil\u009b1m"
ECHO_ENCODINGS = ("plain", "url", "base64")


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next `times` list requests of a provider (-1: all)."""

    status: int | None = None
    times: int = 1
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: threading.Event | None = None
    hang: float | None = None
    malformed: str | None = None
    repeat_cursor: bool = False
    next_link: str | None = None
    pad_bytes: int = 0
    chunked: bool = False
    auth_error: bool = False
    echo_key: bool = False
    echo_offset: int = 0
    echo_encoding: str = "plain"
    echo_as_json: bool = True
    ansi: bool = False

    MALFORMED = ("truncated", "not_json", "html", "wrong_shape", "empty_list")

    def __post_init__(self) -> None:
        if self.malformed is not None and self.malformed not in self.MALFORMED:
            raise ValueError(f"malformed must be one of {self.MALFORMED}, got {self.malformed!r}")
        if self.echo_encoding not in ECHO_ENCODINGS:
            raise ValueError(f"echo_encoding must be one of {ECHO_ENCODINGS}, got {self.echo_encoding!r}")

    def error_body(self, received_key: str | None) -> bytes:
        """The body of an injected error: the key echoed back, hostile text, the given body, or a plain message."""
        if self.echo_key:
            key = received_key or ""
            encoded = {"plain": key, "url": quote(key, safe=""),
                       "base64": base64.b64encode(key.encode()).decode()}[self.echo_encoding]
            text = "." * self.echo_offset + encoded + " was rejected"
            return (json.dumps({"error": {"message": text}}) if self.echo_as_json else text).encode()
        if self.ansi:
            return json.dumps({"error": {"message": ANSI_TEXT}}).encode()
        return (self.body or json.dumps({"error": {"message": f"injected HTTP {self.status}"}})).encode()


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
