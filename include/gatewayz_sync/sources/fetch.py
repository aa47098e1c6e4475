"""The fetch loop: one provider's model list, page by page, over HTTP with every guard in one place.

Guards: connect/read timeouts and a per-page deadline; bounded retries of transient failures honouring
`Retry-After`; a maximum response size enforced while streaming; a host allow-list for next-page links and
redirects (so a key never leaves for a host we did not name); a repeated-request guard and a page cap against
pagination loops. Money is parsed as `Decimal`.
"""

from __future__ import annotations

import contextlib
import email.utils
import gc
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from ..config import FetchSettings
from ..errors import (
    AuthenticationFailed,
    ForeignHost,
    InvalidJson,
    PaginationLoop,
    ProviderHttpError,
    ProviderSyncError,
    ProviderTimeout,
    ProviderUnreachable,
    ResponseTooLarge,
    UnexpectedShape,
)
from .auth import build_auth
from .endpoints import Endpoint
from .paging import PageRequest, SinglePage, read_path
from .specs import Provider

log = logging.getLogger(__name__)

USER_AGENT = "gatewayz-catalog-sync/1.0 (+https://github.com/gatewayz)"
ERROR_BODY_LIMIT = 64 * 1024
MAX_REDIRECTS = 5
CHUNK_SIZE = 256 * 1024
_MESSAGE_PATHS = ("error.message", "error", "message", "errors.0.message", "detail", "error.type")


@dataclass
class FetchStats:
    pages: int = 0
    bytes: int = 0
    http_requests: int = 0
    fetch_seconds: float = 0.0
    parse_seconds: float = 0.0
    single_page_digest: str | None = None


class ListingUnchanged(Exception):
    """A single-page listing is byte-identical to the last one loaded; nothing needs parsing."""

    def __init__(self, digest: str, stats: FetchStats):
        super().__init__(digest)
        self.digest = digest
        self.stats = stats


@dataclass
class _Response:
    status: int
    headers: requests.structures.CaseInsensitiveDict
    links: dict
    url: str
    body: bytearray = field(repr=False)


class _RetryAfter(ProviderHttpError):
    def __init__(self, slug: str, message: str, status: int, retry_after: float | None):
        super().__init__(slug, message, status)
        self.retry_after = retry_after


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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


class ProviderFetcher:
    """Fetches one provider's pages; `pages()` yields each page's record list."""

    def __init__(
        self,
        provider: Provider,
        endpoint: Endpoint,
        settings: FetchSettings,
        session: requests.Session | None = None,
        sleep=time.sleep,
        digest_prefix: bytes = b"",
        skip_if_digest: str | None = None,
    ):
        if provider.list_api is None:
            raise ValueError(f"{provider.slug} has no list API")
        self.provider = provider
        self.spec = provider.list_api
        self.slug = provider.slug
        self.endpoint = endpoint
        self.settings = settings
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"
        self.auth = build_auth(self.spec, endpoint.key, endpoint.allowed_hosts)
        self.stats = FetchStats()
        self._sleep = sleep
        self._digest_prefix = digest_prefix
        self._skip_if_digest = skip_if_digest
        self._scheme = urlsplit(endpoint.base_url).scheme

    def _redact(self, text: str) -> str:
        key = self.endpoint.key
        return text.replace(key, "***") if key else text

    def first_request(self) -> PageRequest:
        path = self.spec.path.format(**{k: quote(v, safe="") for k, v in self.endpoint.path_values.items()})
        return self.spec.paginator.first_request(self.endpoint.base_url + path, dict(self.spec.params))

    def pages(self) -> Iterator[list[Any]]:
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
            response = self._get_with_retries(request)
            self.stats.pages += 1
            if isinstance(self.spec.paginator, SinglePage):
                digest = hashlib.sha256(self._digest_prefix + response.body).hexdigest()
                self.stats.single_page_digest = digest
                if digest == self._skip_if_digest:
                    raise ListingUnchanged(digest, self.stats)
            body = self._parse(response)
            records = self._records(body)
            next_request = self.spec.paginator.next_request(request, response, body, records)
            del body
            yield records
            request = next_request

    def _check_host(self, url: str, what: str) -> None:
        parts = urlsplit(url)
        if parts.netloc.lower() not in self.endpoint.allowed_hosts or parts.scheme != self._scheme:
            raise ForeignHost(
                self.slug,
                f"refused {what} from {self.slug} to {parts.scheme}://{parts.netloc}: only "
                f"{', '.join(sorted(self.endpoint.allowed_hosts))} may receive requests for this provider",
            )

    def _get_with_retries(self, request: PageRequest) -> _Response:
        attempts = self.settings.http_attempts

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception()
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                delay = min(retry_after, self.settings.max_retry_after)
            else:
                delay = self.settings.backoff_seconds * 2 ** (state.attempt_number - 1)
            log.warning(
                "%s (attempt %d of %d); retrying in %.1f s", error, state.attempt_number, attempts, delay
            )
            return delay

        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait,
            retry=retry_if_exception(lambda e: isinstance(e, ProviderSyncError) and e.retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._get_once(request)
        except ProviderSyncError as error:
            if error.retryable and attempts > 1:
                error.args = (f"{error.args[0]} (after {attempts} attempts)",)
            raise
        raise AssertionError("unreachable")

    def _get_once(self, request: PageRequest) -> _Response:
        url, params = request.url, list(request.params)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(url, params)
            if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                params = []
                self._check_host(url, "redirect")
                continue
            return self._check_status(response)
        raise ProviderHttpError(self.slug, f"too many redirects from {self.slug}", 310)

    def _send(self, url: str, params: list) -> _Response:
        settings = self.settings
        started = time.monotonic()
        self.stats.http_requests += 1
        netloc = urlsplit(url).netloc
        try:
            raw = self.session.get(
                url,
                params=params,
                headers=dict(self.spec.headers),
                auth=self.auth,
                timeout=(settings.connect_timeout, settings.read_timeout),
                stream=True,
                allow_redirects=False,
            )
            with raw:
                limit = settings.max_response_bytes if raw.status_code < 400 else ERROR_BODY_LIMIT
                declared = raw.headers.get("Content-Length")
                if raw.status_code < 400 and declared and declared.isdigit() and int(declared) > limit:
                    raise self._too_large(int(declared))
                buffer = bytearray()
                for chunk in raw.iter_content(CHUNK_SIZE):
                    buffer += chunk
                    if len(buffer) > limit:
                        if raw.status_code >= 400:
                            break
                        raise self._too_large(len(buffer))
                    if time.monotonic() - started > settings.page_deadline:
                        raise ProviderTimeout(
                            self.slug,
                            f"{self.slug} did not finish sending a page within {settings.page_deadline:.0f} s",
                        )
                self.stats.bytes += len(buffer)
                return _Response(raw.status_code, raw.headers, raw.links, raw.url, buffer)
        except requests.exceptions.ConnectTimeout:
            raise ProviderTimeout(
                self.slug, f"could not connect to {self.slug} at {netloc} within {settings.connect_timeout:g} s"
            ) from None
        except requests.exceptions.ReadTimeout:
            error = ProviderTimeout(
                self.slug, f"no response from {self.slug} at {netloc} within {settings.read_timeout:g} s (read timeout)"
            )
            error.retryable = False
            raise error from None
        except requests.exceptions.ConnectionError as exc:
            if "Read timed out" in str(exc):
                error = ProviderTimeout(
                    self.slug,
                    f"no response from {self.slug} at {netloc} within {settings.read_timeout:g} s (read timeout)",
                )
                error.retryable = False
                raise error from None
            text = str(exc).lower()
            if "refused" in text:
                raise ProviderUnreachable(self.slug, f"connection refused by {self.slug} at {netloc}") from None
            if "name resolution" in text or "name or service not known" in text or "nodename nor servname" in text:
                raise ProviderUnreachable(self.slug, f"could not resolve {netloc} for {self.slug} (DNS)") from None
            raise ProviderUnreachable(self.slug, f"could not connect to {self.slug} at {netloc}") from None
        except requests.exceptions.ChunkedEncodingError:
            raise ProviderUnreachable(self.slug, f"the connection to {self.slug} broke mid-response") from None
        finally:
            self.stats.fetch_seconds += time.monotonic() - started

    def _too_large(self, size: int) -> ResponseTooLarge:
        return ResponseTooLarge(
            self.slug,
            f"response from {self.slug} exceeded the maximum of {self.settings.max_response_bytes} bytes "
            f"(got at least {size}); raise GATEWAYZ_MAX_RESPONSE_MB if this is expected",
        )

    def _check_status(self, response: _Response) -> _Response:
        status = response.status
        if 200 <= status < 300:
            return response
        message = self._redact(self._error_message(response.body))
        text = bytes(response.body).decode("utf-8", "replace")
        if status in (401, 403) or (
            status == 400 and any(marker in text for marker in self.spec.auth_error_markers)
        ):
            raise AuthenticationFailed(
                self.slug, f"authentication failed for {self.slug}: HTTP {status}: {message}"
            )
        if status == 429:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            raise _RetryAfter(self.slug, f"rate limited by {self.slug}: HTTP 429: {message}", status, retry_after)
        if status >= 500:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            raise _RetryAfter(self.slug, f"HTTP {status} from {self.slug}: {message}", status, retry_after)
        raise ProviderHttpError(self.slug, f"HTTP {status} from {self.slug}: {message}", status)

    @staticmethod
    def _error_message(body: bytes | bytearray) -> str:
        text = bytes(body).decode("utf-8", "replace").strip()
        try:
            document = json.loads(text)
        except ValueError:
            return " ".join(text.split())[:200] or "(empty body)"
        for path in _MESSAGE_PATHS:
            value = read_path(document, path)
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:300]
        return " ".join(text.split())[:200]

    def _parse(self, response: _Response) -> Any:
        """Decode, drop the raw bytes, then parse: a large page never has bytes, text and objects alive at once."""
        started = time.monotonic()
        size = len(response.body)
        snippet = self._redact(bytes(response.body[:60]).decode("utf-8", "replace"))
        try:
            text = response.body.decode("utf-8-sig")
            response.body = bytearray()
            with gc_paused():
                return json.loads(text, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as exc:
            detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise InvalidJson(
                self.slug, f"invalid JSON from {self.slug}: {detail} ({size} bytes; starts with {snippet!r})"
            ) from None
        finally:
            self.stats.parse_seconds += time.monotonic() - started

    def _records(self, body: Any) -> list[Any]:
        path = self.spec.records_path
        records = body if path is None else read_path(body, path)
        if isinstance(records, list):
            return records
        where = "the top level" if path is None else f"'{path}'"
        if isinstance(body, dict):
            found = f"an object with keys {sorted(body)[:8]}"
        else:
            found = f"a JSON {type(body).__name__}"
        raise UnexpectedShape(
            self.slug, f"unexpected response from {self.slug}: no list of models at {where}; got {found}"
        )
