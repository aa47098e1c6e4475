"""The replay server's HTTP side: provider list requests answered from recordings (faults applied), and the
`/_replay/...` control endpoints that tests and tools use to queue faults, swap catalogs and read the request log."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from ...catalog.records import dumps_json
from ...sources.specs import Provider
from .conditional import is_not_modified
from .faults import MAX_HANG_SECONDS, Fault, bend_body, make_looping, with_foreign_link

if TYPE_CHECKING:
    from ...prices.sources import ReferenceSource
    from .server import ReplayServer


@dataclass(frozen=True)
class LoggedRequest:
    slug: str | None
    path: str
    query: dict[str, str]
    auth_present: bool
    at: float
    conditional: bool = False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gatewayz-replay/1.0"

    @property
    def replay(self) -> ReplayServer:
        return self.server.replay

    def log_message(self, format, *args):
        """Silent: requests are recorded in `ReplayServer.requests` instead."""

    def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None,
              content_type: str = "application/json", chunked: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 1 << 20):
                piece = body[start : start + (1 << 20)]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def _json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document, default=str).encode())

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        return json.loads(raw or b"{}", parse_float=Decimal)

    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path.startswith("/_replay/"):
            return self._control("GET", parts.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        for pattern, provider in self.replay.routes:
            if pattern.match(parts.path):
                return self._serve_provider(provider, parts.path, query)
        if (source := self.replay.references.find(parts.path)) is not None:
            return self._serve_reference(source, parts.path, query)
        self.replay.requests.append(LoggedRequest(None, parts.path, query, "Authorization" in self.headers, time.time()))
        self._json(404, {"error": {"message": f"no such path on the replay server: {parts.path}"}})

    def do_POST(self):
        return self._control("POST", urlsplit(self.path).path)

    def do_PUT(self):
        return self._control("PUT", urlsplit(self.path).path)

    def do_DELETE(self):
        return self._control("DELETE", urlsplit(self.path).path)

    def _serve_provider(self, provider: Provider, path: str, query: dict[str, str]) -> None:
        slug = provider.slug
        auth_present = self.replay._credentials_present(provider, self.headers, query)
        conditional = "If-None-Match" in self.headers or "If-Modified-Since" in self.headers
        self.replay.requests.append(LoggedRequest(slug, path, query, auth_present, time.time(), conditional))
        fault = self.replay._next_fault(slug)
        if self._stalled(fault):
            return
        if fault and fault.auth_error or (
            self.replay.require_auth and provider.list_api.key_required and not auth_present
        ):
            status, body = self.replay._error_document(slug)
            return self._send(status, body)
        if fault and ((fault.status or 0) >= 300 or fault.echo_key or fault.ansi or fault.body is not None):
            received = provider.list_api.auth.received(self.headers, query) if provider.list_api.auth else None
            return self._send(fault.status or 200, fault.error_body(received), fault.headers)
        if fault and fault.repeat_cursor:
            first_page = {k: v for k, v in query.items() if k in ("limit", "per_page")}
            page = make_looping(self.replay.render(provider, first_page, path), provider.list_api.paginator, path)
            body, headers = dumps_json(page.body), page.headers
        elif fault and fault.next_link:
            page = with_foreign_link(self.replay.render(provider, query, path), provider.list_api.paginator, fault.next_link)
            body, headers = dumps_json(page.body), page.headers
        elif fault and fault.malformed == "empty_list":
            page = self.replay.catalog(slug).with_records([]).page(query, path, None)
            body, headers = dumps_json(page.body), page.headers
        elif fault and fault.bends_records:
            catalog = self.replay.catalog(slug)
            bent = catalog.with_records(fault.bend_records(catalog.records, provider.list_api))
            page = bent.page(query, path, self.replay._page_sizes.get(slug))
            body, headers = dumps_json(page.body), page.headers
        else:
            body, headers = self.replay.page_bytes(provider, query, path)
            validators = self.replay.validator_headers(slug, body)
            if is_not_modified(validators, self.headers):
                return self._send(304, b"", validators)
            headers = {**headers, **validators}
        headers = {**headers, **(fault.headers if fault else {})}
        body, content_type = bend_body(fault, body)
        self._send(200, body, headers, content_type, chunked=bool(fault and fault.chunked))

    def _stalled(self, fault: Fault | None) -> bool:
        """Apply a fault's hang (then drop the connection) or delay; True when the request gets no answer."""
        if fault and fault.hang is not None:
            self.replay._stopping.wait(min(fault.hang, MAX_HANG_SECONDS))
            self.close_connection = True
            return True
        if fault and fault.delay:
            self.replay._stopping.wait(fault.delay)
        if fault and fault.hold is not None:
            deadline = time.monotonic() + MAX_HANG_SECONDS
            while not fault.hold.wait(0.2) and not self.replay._stopping.is_set() and time.monotonic() < deadline:
                pass
        return False

    def _serve_reference(self, source: ReferenceSource, path: str, query: dict[str, str]) -> None:
        """A reference source's document, after the source's queued fault (error status, delay, hang, bad body)."""
        self.replay.requests.append(LoggedRequest(source.slug, path, query, "Authorization" in self.headers, time.time()))
        fault = self.replay._next_fault(source.slug)
        if self._stalled(fault):
            return
        if fault and fault.status is not None and fault.status >= 300:
            return self._send(fault.status, fault.error_body(None), fault.headers)
        body, content_type = bend_body(fault, self.replay.references.body(source))
        self._send(200, body, fault.headers if fault else {}, content_type, chunked=bool(fault and fault.chunked))

    def _control(self, method: str, path: str) -> None:
        try:
            self._control_inner(method, path)
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, {"error": str(exc)})

    def _control_inner(self, method: str, path: str) -> None:
        if path == "/_replay/health" and method == "GET":
            return self._json(200, {"status": "ok", "providers": sorted(self.replay.providers)})
        if path == "/_replay/faults":
            if method == "POST":
                for slug, faults in self._read_json().items():
                    for fault in faults if isinstance(faults, list) else [faults]:
                        self.replay.add_fault(slug, Fault(**fault))
                return self._json(200, {"status": "queued"})
            if method == "DELETE":
                self.replay.clear_faults()
                return self._json(200, {"status": "cleared"})
        if path == "/_replay/requests":
            if method == "GET":
                return self._json(200, [asdict(r) for r in self.replay.requests])
            if method == "DELETE":
                self.replay.clear_requests()
                return self._json(200, {"status": "cleared"})
        if path == "/_replay/catalogs" and method == "DELETE":
            self.replay.reset_catalogs()
            return self._json(200, {"status": "reset"})
        match = re.fullmatch(r"/_replay/catalogs/([a-z0-9-]+)", path)
        if match and method == "PUT":
            self.replay.set_records(match.group(1), self._read_json()["records"])
            return self._json(200, {"status": "replaced"})
        if path == "/_replay/page-sizes" and method == "PUT":
            for slug, size in self._read_json().items():
                self.replay.set_page_size(slug, size)
            return self._json(200, {"status": "set"})
        self._json(404, {"error": f"unknown control endpoint {method} {path}"})
