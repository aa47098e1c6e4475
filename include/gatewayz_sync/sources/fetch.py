"""The fetch loop: one provider's model list, page by page, with the guards that belong to paging.

A repeated request or more than `GATEWAYZ_MAX_PAGES` pages is a pagination loop; a next-page link or a
redirect to a host we did not name is refused (so a key never leaves); `transport.py` sends each request with
its timeouts, retries and size cap. Each page is reported with the digest of its bytes (taken as they
arrived) before it is parsed, so the caller can decide that a listing is unchanged without parsing it; a
single-response listing asked for conditionally (`validators.py`) may come back 304, a page with no bytes that
carries the digest of the listing its validators came with. A page's records are parsed as a stream
(`stream.py`), one chunk of the spooled body at a time, so the body is never whole in memory. Money is parsed as
`Decimal`.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import ijson
import requests

from ..config import FetchSettings
from ..errors import ForeignHost, InvalidJson, PaginationLoop, ProviderSyncError, UnexpectedShape
from .auth import build_auth
from .endpoints import Endpoint
from .paging import PageRequest
from .redaction import Redactor
from .specs import Provider
from .stream import RecordStream, ResponseBody, TooDeep, parse_error
from .transport import NOT_MODIFIED, FetchStats, Response, Transport
from .validators import ListingValidators

SNIPPET_LENGTH = 60


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic GC while building many acyclic objects (a 50 MB listing): it would rescan them repeatedly."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class FetchedPage:
    """One page as received. Its `digest` (SHA-256 of the bytes) is known at once; its records are parsed as they
    are iterated (`records()`, once), which also works out the request for the next page. A `not_modified` page
    (HTTP 304) has no records: its digest is that of the bytes its validators came with."""

    def __init__(self, fetcher: ProviderFetcher, request: PageRequest, response: Response,
                 conditional: ListingValidators | None = None):
        self.number = fetcher.stats.pages
        self.not_modified = conditional is not None and response.status == NOT_MODIFIED
        self.digest = conditional.body_digest if self.not_modified else response.body.digest
        self.is_whole_listing = fetcher.spec.paginator.single_response
        self.validators = (
            ListingValidators.from_response(response.headers, self.digest, conditional)
            if self.is_whole_listing else None
        )
        self._fetcher = fetcher
        self._request = request
        self._response: Response | None = response
        self._records: Iterator[Any] | None = None
        self.next_request: PageRequest | None = None

    def document(self) -> Any:
        """The whole parsed body, for a single-response document that is not a list of records (a price file)."""
        response, self._response = self._response, None
        with self._fetcher.redacted_errors():
            return self._fetcher.parse(response.body)

    def records(self) -> Iterator[Any]:
        """The page's records, parsed as they are iterated. There is one pass: asking again continues it."""
        if self.not_modified:
            raise ValueError("a 304 Not Modified page has no records; fetch the listing unconditionally")
        if self._records is None:
            self._records = self._parsed_records()
        return self._records

    def _parsed_records(self) -> Iterator[Any]:
        response, self._response = self._response, None
        with self._fetcher.redacted_errors():
            page = yield from self._fetcher.stream_records(response.body)
            self.next_request = self._fetcher.spec.paginator.next_request(self._request, response, page)

    def finish(self) -> None:
        """Parse what is left of the page unread, for the request of the next page."""
        collections.deque(self.records(), maxlen=0)


class ProviderFetcher:
    """Fetches one provider's pages; `pages()` yields each page as a `FetchedPage`."""

    def __init__(
        self,
        provider: Provider,
        endpoint: Endpoint,
        settings: FetchSettings,
        session: requests.Session | None = None,
        sleep=time.sleep,
    ):
        if provider.list_api is None:
            raise ValueError(f"{provider.slug} has no list API")
        self.spec = provider.list_api
        self.slug = provider.slug
        self.endpoint = endpoint
        self.settings = settings
        self._scheme = urlsplit(endpoint.base_url).scheme
        self.redact = Redactor([endpoint.key])
        self.transport = Transport(
            self.slug, self.spec, settings, build_auth(self.spec.auth, endpoint.key, endpoint.allowed_hosts),
            self._check_host, self.redact, session=session, sleep=sleep,
        )
        self.stats: FetchStats = self.transport.stats

    @contextlib.contextmanager
    def redacted_errors(self):
        """Whatever a provider error says, it leaves without the key in any form."""
        try:
            yield
        except ProviderSyncError as error:
            error.args = (self.redact(error.args[0]),)
            raise

    def first_request(self) -> PageRequest:
        path = self.spec.path.format(**{k: quote(v, safe="") for k, v in self.endpoint.path_values.items()})
        return self.spec.paginator.first_request(self.endpoint.base_url + path, dict(self.spec.params))

    def pages(self, conditional: ListingValidators | None = None) -> Iterator[FetchedPage]:
        """Every page in order; `conditional` validators go with the request of a single-response listing."""
        if not self.spec.paginator.single_response:
            conditional = None
        with self.redacted_errors():
            yield from self._pages(conditional)

    def _pages(self, conditional: ListingValidators | None) -> Iterator[FetchedPage]:
        request: PageRequest | None = self.first_request()
        seen: set = set()
        while request is not None:
            if request.cache_key in seen:
                raise PaginationLoop(
                    self.slug,
                    f"pagination loop from {self.slug}: the request for {_safe_url(request.url)} "
                    f"with {dict(request.params)} repeated after {self.stats.pages} pages",
                )
            if self.stats.pages >= self.settings.max_pages:
                raise PaginationLoop(
                    self.slug,
                    f"pagination loop from {self.slug}: more than {self.settings.max_pages} pages "
                    "(raise GATEWAYZ_MAX_PAGES if the catalog is really that large)",
                )
            seen.add(request.cache_key)
            self._check_host(request.url, "next-page link")
            response = self.transport.get(request, conditional.request_headers() if conditional else None)
            self.stats.pages += 1
            page = FetchedPage(self, request, response, conditional)
            yield page
            if page.not_modified:
                return
            page.finish()
            request = page.next_request

    def close(self) -> None:
        self.transport.session.close()

    def _check_host(self, url: str, what: str) -> None:
        parts = urlsplit(url)
        if parts.netloc.lower() not in self.endpoint.allowed_hosts or parts.scheme != self._scheme:
            raise ForeignHost(
                self.slug,
                f"refused {what} from {self.slug} to {parts.scheme}://{parts.netloc}: only "
                f"{', '.join(sorted(self.endpoint.allowed_hosts))} may receive requests for this provider",
            )

    def _invalid_json(self, body: ResponseBody, detail: str) -> InvalidJson:
        head = body.head[: SNIPPET_LENGTH + 4 * self.redact.longest].decode("utf-8", "replace")
        snippet = self.redact.shortened(head, SNIPPET_LENGTH)
        return InvalidJson(
            self.slug, f"invalid JSON from {self.slug}: {detail} ({body.size} bytes; starts with {snippet!r})"
        )

    def parse(self, body: ResponseBody) -> Any:
        """The whole body as one document: only for documents small by nature (a reference price file)."""
        started = time.monotonic()
        try:
            text = body.read().decode("utf-8-sig")
            with gc_paused():
                return json.loads(text, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._invalid_json(body, exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)) from None
        finally:
            body.close()
            self.stats.parse_seconds += time.monotonic() - started

    def stream_records(self, body: ResponseBody) -> Iterator[Any]:
        """Yields the records at the spec's path as the body is parsed, one chunk at a time; returns what the
        paginator reads of the page. The spooled body is closed when done."""
        path = self.spec.records_path
        stream = RecordStream(path, self.spec.paginator.envelope_paths)
        try:
            try:
                for chunk in body.chunks():
                    yield from stream.feed(chunk)
                yield from stream.close()
            except (ijson.JSONError, TooDeep) as exc:
                raise self._invalid_json(body, parse_error(exc)) from None
            if not stream.found_records:
                where = "the top level" if path is None else f"'{path}'"
                if stream.root_type == "dict":
                    found = f"an object with keys {sorted(stream.top_keys)[:8]}"
                else:
                    found = f"a JSON {stream.root_type}"
                raise UnexpectedShape(
                    self.slug, f"unexpected response from {self.slug}: no list of models at {where}; got {found}"
                )
            return stream.page
        finally:
            body.close()
            self.stats.parse_seconds += stream.seconds
