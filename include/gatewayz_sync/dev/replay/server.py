"""A local HTTP server that answers like every provider's model-list API, from recordings, with faults on demand.

Each provider is served under `/{slug}<its real path>` (`/openrouter/api/v1/models`), paged the way the
provider pages, answering a missing key with the provider's recorded error body. Faults (status codes,
Retry-After, delays, hung connections, malformed or oversized bodies, pagination loops, foreign next links)
are queued per provider through `add_fault()` or `POST /_replay/faults`. `make demo`, the tests and the
benchmark all use this same server over real HTTP on loopback.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ...catalog.records import dumps_json
from ...sources.paging import BodyNextLink, HasMoreCursor, LinkHeader, PageToken
from ...sources.paths import write_path
from ...sources.registry import GATEWAY_REGISTRY
from ...sources.specs import Provider
from .catalogs import RECORDINGS_DIR, Page, RecordedCatalog, load_json

GENERIC_AUTH_ERROR = {"error": {"message": "Invalid API key", "type": "authentication_error"}}
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


@dataclass(frozen=True)
class LoggedRequest:
    slug: str | None
    path: str
    query: dict[str, str]
    auth_present: bool
    at: float


def _route_pattern(provider: Provider) -> re.Pattern:
    spec = provider.list_api
    path = urlsplit(spec.base_url).path.rstrip("/") + spec.path
    escaped = re.escape(path)
    for placeholder in spec.path_params:
        escaped = escaped.replace(re.escape("{" + placeholder + "}"), "[^/]+")
    return re.compile(f"^/{re.escape(provider.slug)}{escaped}/?$")


class ReplayServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        recordings_dir: Path = RECORDINGS_DIR,
        page_sizes: Mapping[str, int] | None = None,
        require_auth: bool = True,
        providers: Iterable[Provider] | None = None,
    ):
        self.recordings_dir = Path(recordings_dir)
        self.require_auth = require_auth
        self.providers = {
            p.slug: p for p in (providers if providers is not None else GATEWAY_REGISTRY.values()) if p.list_api
        }
        self.routes = [(_route_pattern(p), p) for p in self.providers.values()]
        self._lock = threading.Lock()
        self._catalogs: dict[str, RecordedCatalog] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._page_sizes: dict[str, int] = dict(page_sizes or {})
        self._cache: dict[tuple, bytes] = {}
        self.requests: list[LoggedRequest] = []
        self._stopping = threading.Event()
        self.reset_catalogs()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url_override(self) -> str:
        return f"{self.url}/{{slug}}"

    def start(self) -> ReplayServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="replay-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def reset_catalogs(self) -> None:
        with self._lock:
            self._catalogs = {}
            for slug, provider in self.providers.items():
                path = self.recordings_dir / f"{slug}.json"
                if path.exists():
                    self._catalogs[slug] = RecordedCatalog.from_file(slug, provider.list_api, path)
            self._cache.clear()

    def catalog(self, slug: str) -> RecordedCatalog:
        return self._catalogs[slug]

    def set_records(self, slug: str, records: list) -> None:
        with self._lock:
            self._catalogs[slug] = self._catalogs[slug].with_records(records)
            self._cache.clear()

    def set_page_size(self, slug: str, size: int | None) -> None:
        with self._lock:
            if size is None:
                self._page_sizes.pop(slug, None)
            else:
                self._page_sizes[slug] = size
            self._cache.clear()

    def add_fault(self, slug: str, fault: Fault | None = None, **kwargs: Any) -> None:
        with self._lock:
            self._faults[slug].append(fault or Fault(**kwargs))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def requests_for(self, slug: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.slug == slug]

    def _next_fault(self, slug: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(slug)
            if not queue:
                return None
            fault = queue[0]
            if fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    queue.popleft()
            return fault

    def _error_document(self, slug: str) -> tuple[int, bytes]:
        path = self.recordings_dir / "errors" / f"{slug}_bad_key.json"
        if path.exists():
            recorded = load_json(path)
            return int(recorded.get("status", 401)), recorded.get("body_raw", json.dumps(recorded["body"])).encode()
        return 401, json.dumps(GENERIC_AUTH_ERROR).encode()

    def _credentials_present(self, provider: Provider, headers, query: Mapping[str, str]) -> bool:
        placement = provider.list_api.auth
        return True if placement is None else placement.present(headers, query)

    def render(self, provider: Provider, query: dict[str, str], path: str) -> Page:
        catalog = self._catalogs.get(provider.slug)
        if catalog is None:
            return Page({"object": "list", "data": []})
        return catalog.page(query, path, self._page_sizes.get(provider.slug))

    def page_bytes(self, provider: Provider, query: dict[str, str], path: str) -> tuple[bytes, dict[str, str]]:
        key = (provider.slug, path, tuple(sorted(query.items())))
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        page = self.render(provider, query, path)
        rendered = (dumps_json(page.body), page.headers)
        with self._lock:
            self._cache[key] = rendered
        return rendered

    def _looping_page(self, provider: Provider, query: dict[str, str], path: str) -> Page:
        page = self.render(provider, {k: v for k, v in query.items() if k in ("limit", "per_page")}, path)
        paginator = provider.list_api.paginator
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

    def _foreign_link_page(self, provider: Provider, query: dict[str, str], path: str, link: str) -> Page:
        page = self.render(provider, query, path)
        paginator = provider.list_api.paginator
        if isinstance(paginator, LinkHeader):
            page.headers["Link"] = f'<{link}>; rel="next"'
        elif isinstance(page.body, dict):
            target = paginator.next_path if isinstance(paginator, BodyNextLink) else "links.next"
            write_path(page.body, target, link)
        return page

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "gatewayz-replay/1.0"

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
                for pattern, provider in server.routes:
                    if pattern.match(parts.path):
                        return self._serve_provider(provider, parts.path, query)
                server.requests.append(LoggedRequest(None, parts.path, query, "Authorization" in self.headers, time.time()))
                self._json(404, {"error": {"message": f"no such path on the replay server: {parts.path}"}})

            def do_POST(self):
                return self._control("POST", urlsplit(self.path).path)

            def do_PUT(self):
                return self._control("PUT", urlsplit(self.path).path)

            def do_DELETE(self):
                return self._control("DELETE", urlsplit(self.path).path)

            def _serve_provider(self, provider: Provider, path: str, query: dict[str, str]) -> None:
                slug = provider.slug
                auth_present = server._credentials_present(provider, self.headers, query)
                server.requests.append(LoggedRequest(slug, path, query, auth_present, time.time()))
                fault = server._next_fault(slug)
                if fault and fault.hang is not None:
                    server._stopping.wait(min(fault.hang, MAX_HANG_SECONDS))
                    self.close_connection = True
                    return
                if fault and fault.delay:
                    server._stopping.wait(fault.delay)
                if fault and fault.auth_error or (
                    server.require_auth and provider.list_api.key_required and not auth_present
                ):
                    status, body = server._error_document(slug)
                    return self._send(status, body)
                if fault and fault.status is not None and fault.status >= 300:
                    body = (fault.body or json.dumps({"error": {"message": f"injected HTTP {fault.status}"}})).encode()
                    return self._send(fault.status, body, fault.headers)
                if fault and fault.repeat_cursor:
                    page = server._looping_page(provider, query, path)
                    body, headers = dumps_json(page.body), page.headers
                elif fault and fault.next_link:
                    page = server._foreign_link_page(provider, query, path, fault.next_link)
                    body, headers = dumps_json(page.body), page.headers
                elif fault and fault.malformed == "empty_list":
                    page = server.catalog(slug).with_records([]).page(query, path, None)
                    body, headers = dumps_json(page.body), page.headers
                else:
                    body, headers = server.page_bytes(provider, query, path)
                headers = {**headers, **(fault.headers if fault else {})}
                content_type = "application/json"
                if fault and fault.malformed == "truncated":
                    body = body[: max(1, len(body) // 2)]
                elif fault and fault.malformed == "not_json":
                    body, content_type = b"upstream said: everything is fine", "text/plain"
                elif fault and fault.malformed == "html":
                    body, content_type = HTML_ERROR_PAGE, "text/html"
                elif fault and fault.malformed == "wrong_shape":
                    body = json.dumps({"error": {"message": "model catalog temporarily unavailable"}}).encode()
                if fault and fault.pad_bytes:
                    body = body + b" " * fault.pad_bytes
                self._send(200, body, headers, content_type, chunked=bool(fault and fault.chunked))

            def _control(self, method: str, path: str) -> None:
                try:
                    self._control_inner(method, path)
                except (ValueError, KeyError, TypeError) as exc:
                    self._json(400, {"error": str(exc)})

            def _control_inner(self, method: str, path: str) -> None:
                if path == "/_replay/health" and method == "GET":
                    return self._json(200, {"status": "ok", "providers": sorted(server.providers)})
                if path == "/_replay/faults":
                    if method == "POST":
                        for slug, faults in self._read_json().items():
                            for fault in faults if isinstance(faults, list) else [faults]:
                                server.add_fault(slug, Fault(**fault))
                        return self._json(200, {"status": "queued"})
                    if method == "DELETE":
                        server.clear_faults()
                        return self._json(200, {"status": "cleared"})
                if path == "/_replay/requests":
                    if method == "GET":
                        return self._json(200, [asdict(r) for r in server.requests])
                    if method == "DELETE":
                        server.clear_requests()
                        return self._json(200, {"status": "cleared"})
                if path == "/_replay/catalogs" and method == "DELETE":
                    server.reset_catalogs()
                    return self._json(200, {"status": "reset"})
                match = re.fullmatch(r"/_replay/catalogs/([a-z0-9-]+)", path)
                if match and method == "PUT":
                    server.set_records(match.group(1), self._read_json()["records"])
                    return self._json(200, {"status": "replaced"})
                if path == "/_replay/page-sizes" and method == "PUT":
                    for slug, size in self._read_json().items():
                        server.set_page_size(slug, size)
                    return self._json(200, {"status": "set"})
                self._json(404, {"error": f"unknown control endpoint {method} {path}"})

        return Handler
