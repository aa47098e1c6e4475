"""Injected misbehaviour for the replay server: one `Fault` per bad answer, and the bodies it bends.

A fault applies to the next `times` list requests of a provider (-1: all of them): an error status, a delay, an
answer held until the test releases it (`hold`, a `threading.Event`), a hung connection, a malformed or padded
body, a pagination loop, a next-page link to a foreign host, an error
that echoes the key it received (plain, URL- or base64-encoded, after `echo_offset` filler characters, in a
JSON message or plain text), or hostile text (`ansi`: terminal escapes and a bidi override).

Drift faults bend the records themselves, as an upstream API change would, and the listing is served (and paged)
from the bent records: `rename_keys` moves a key (dotted paths) in every record, `drop_keys` removes keys from
the first `drop_share` of the records, `scale_prices` multiplies every price the spec reads (a per-1K price read
as per token is `scale_prices="1000"`), and `scale_ids` restricts that to the records with those ids.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from ...sources.paging import BodyNextLink, HasMoreCursor, LinkHeader, PageToken, Paginator
from ...sources.paths import read_path, write_path
from ...sources.specs import ListApiSpec
from .catalogs import Page

HTML_ERROR_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
MAX_HANG_SECONDS = 600.0
ANSI_TEXT = "x\u001b[2J\u001b[31mRED\u202eevil\u009b1m"
ECHO_ENCODINGS = ("plain", "url", "base64")


@dataclass
class Fault:
    """One injected misbehaviour, applied to the next `times` list requests of a provider (-1: all). A `body`
    is sent as it is, with `status` (200 when not given)."""

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
    rename_keys: dict[str, str] = field(default_factory=dict)
    drop_keys: list[str] = field(default_factory=list)
    drop_share: float = 1.0
    scale_prices: str | None = None
    scale_ids: list[str] = field(default_factory=list)

    MALFORMED = ("truncated", "not_json", "html", "wrong_shape", "empty_list")

    def __post_init__(self) -> None:
        if self.malformed is not None and self.malformed not in self.MALFORMED:
            raise ValueError(f"malformed must be one of {self.MALFORMED}, got {self.malformed!r}")
        if self.echo_encoding not in ECHO_ENCODINGS:
            raise ValueError(f"echo_encoding must be one of {ECHO_ENCODINGS}, got {self.echo_encoding!r}")

    @property
    def bends_records(self) -> bool:
        return bool(self.rename_keys or self.drop_keys or self.scale_prices)

    def bend_records(self, records: list, spec: ListApiSpec) -> list:
        """The records as the drifted API would list them (copies; the recording stays as it was)."""
        records = copy.deepcopy(records)
        price_paths = [*spec.fields.token_prices.values(), *spec.fields.unit_prices_usd.values()]
        dropped = int(len(records) * self.drop_share)
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                continue
            for old, new in self.rename_keys.items():
                value = _pop_path(record, old)
                if value is not None:
                    write_path(record, new, value)
            if index < dropped:
                for path in self.drop_keys:
                    _pop_path(record, path)
            if self.scale_prices and (not self.scale_ids or read_path(record, spec.fields.id) in self.scale_ids):
                for path in price_paths:
                    _scale(record, path, Decimal(self.scale_prices), spec.variable_price_sentinel)
        return records

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


def _pop_path(record: dict, path: str):
    *parents, last = path.split(".")
    holder = read_path(record, ".".join(parents)) if parents else record
    return holder.pop(last, None) if isinstance(holder, dict) else None


def _scale(record: dict, path: str, factor: Decimal, sentinel: str | None) -> None:
    """Multiply a price in place, keeping its JSON type (providers send strings or numbers)."""
    value = read_path(record, path)
    if isinstance(value, bool) or value is None or (sentinel is not None and str(value).strip() == sentinel):
        return
    try:
        scaled = Decimal(str(value)) * factor
    except InvalidOperation:
        return
    write_path(record, path, format(scaled.normalize(), "f") if isinstance(value, str) else scaled)


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
