"""The reference price hosts on the replay server: each fetched source's document, served at its real path.

A source is served under `/{slug}<its real path>` (`/models-dev/api.json`,
`/litellm/BerriAI/litellm/main/model_prices_and_context_window.json`), so `GATEWAYZ_BASE_URL_OVERRIDE`
reaches it exactly as it reaches a provider. The recording is the bundled snapshot itself (`prices/snapshots/`,
with its licence and commit); `set_document` swaps in another body, e.g. a refreshed snapshot with one price
changed. genai-prices is read from its package and has no host.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

from ...prices.sources import REFERENCE_SOURCES, ReferenceSource


def _route(source: ReferenceSource) -> re.Pattern:
    spec = source.list_api
    path = urlsplit(spec.base_url).path.rstrip("/") + spec.path
    return re.compile(f"^/{re.escape(source.slug)}{re.escape(path)}$")


class ReferenceDocuments:
    def __init__(self, sources: Iterable[ReferenceSource] | None = None):
        sources = REFERENCE_SOURCES.values() if sources is None else sources
        self.routes = [(_route(s), s) for s in sources if s.list_api is not None]
        self._lock = threading.Lock()
        self._snapshots: dict[str, bytes] = {}
        self._replaced: dict[str, bytes] = {}

    def find(self, path: str) -> ReferenceSource | None:
        return next((source for pattern, source in self.routes if pattern.match(path)), None)

    def body(self, source: ReferenceSource) -> bytes:
        with self._lock:
            if source.slug in self._replaced:
                return self._replaced[source.slug]
            if source.slug not in self._snapshots:
                self._snapshots[source.slug] = source.snapshot_path.read_bytes()
            return self._snapshots[source.slug]

    def set_document(self, slug: str, body: bytes) -> None:
        with self._lock:
            self._replaced[slug] = body

    def reset(self) -> None:
        with self._lock:
            self._replaced.clear()
