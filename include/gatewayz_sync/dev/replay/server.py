"""A local HTTP server that answers like every provider's model-list API, from recordings, with faults on demand.

Each provider is served under `/{slug}<its real path>` (`/openrouter/api/v1/models`), paged the way the
provider pages, answering a missing key with the provider's recorded error body. Faults (status codes,
Retry-After, delays, hung connections, malformed or oversized bodies, pagination loops, foreign next links)
are queued per provider through `add_fault()` or `POST /_replay/faults`. The reference price hosts are served
too (`references.py`), with the same faults by source slug. Providers whose real API sends `ETag` /
`Last-Modified` get them here too, and a conditional request for an unchanged page is answered 304
(`conditional.py`). `make demo`, the tests and the
benchmark all use this same server over real HTTP on loopback.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...catalog.records import dumps_json
from ...sources.registry import GATEWAY_REGISTRY
from ...sources.specs import Provider
from .catalogs import RECORDINGS_DIR, Page, RecordedCatalog, load_json
from .conditional import Validators, recorded_validators
from .faults import Fault
from .handler import Handler, LoggedRequest
from .references import ReferenceDocuments

GENERIC_AUTH_ERROR = {"error": {"message": "Invalid API key", "type": "authentication_error"}}


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
        validators: Mapping[str, Validators] | None = None,
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
        self._validators = dict(recorded_validators(self.providers.values()) if validators is None else validators)
        self._changed_at: dict[str, float] = {}
        self._serial = itertools.count(1)
        self.requests: list[LoggedRequest] = []
        self.references = ReferenceDocuments()
        self._stopping = threading.Event()
        self.reset_catalogs()
        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.replay = self
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
                self._mark_changed(slug)
            self._cache.clear()
        self.references.reset()

    def catalog(self, slug: str) -> RecordedCatalog:
        return self._catalogs[slug]

    def set_records(self, slug: str, records: list) -> None:
        with self._lock:
            self._catalogs[slug] = self._catalogs[slug].with_records(records)
            self._mark_changed(slug)
            self._cache.clear()

    def _mark_changed(self, slug: str) -> None:
        """Last-Modified has whole seconds: a change always moves it by at least one."""
        self._changed_at[slug] = max(time.time(), self._changed_at.get(slug, 0) + 1)

    def set_validators(self, slug: str, validators: Validators | None) -> None:
        with self._lock:
            if validators is None:
                self._validators.pop(slug, None)
            else:
                self._validators[slug] = validators

    def validator_headers(self, slug: str, body: bytes) -> dict[str, str]:
        """The ETag / Last-Modified this provider sends with `body` (none unless it has validators)."""
        validators = self._validators.get(slug)
        if validators is None:
            return {}
        return validators.headers(body, self._changed_at.get(slug, 0), next(self._serial))

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
