"""One GET, sent safely: timeouts and a page deadline, bounded retries honouring `Retry-After`, redirects
followed only to allowed hosts, the body streamed under a size cap (hashed and spooled as it arrives,
`stream.py`), and every failure named in words.
A conditional GET (validators given) may also answer 304 Not Modified, with no body."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from ..config import FetchSettings
from ..errors import (
    ProviderHttpError,
    ProviderReadTimeout,
    ProviderSyncError,
    ProviderTimeout,
    ProviderUnreachable,
    ResolverFailure,
    ResponseTooLarge,
    UnresolvableHost,
)
from .paging import PageRequest
from .responses import check_status
from .specs import ListApiSpec
from .stream import ResponseBody

log = logging.getLogger(__name__)

USER_AGENT = "gatewayz-catalog-sync/1.0 (+https://github.com/gatewayz)"
ERROR_BODY_LIMIT = 64 * 1024
MAX_REDIRECTS = 5
CHUNK_SIZE = 256 * 1024
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
NOT_MODIFIED = 304


@dataclass
class FetchStats:
    pages: int = 0
    bytes: int = 0
    http_requests: int = 0
    fetch_seconds: float = 0.0
    parse_seconds: float = 0.0


@dataclass
class Response:
    status: int
    headers: requests.structures.CaseInsensitiveDict
    links: dict
    url: str
    body: ResponseBody = field(repr=False)


class Transport:
    """Sends one provider's requests; counts them in `stats`."""

    def __init__(
        self,
        slug: str,
        spec: ListApiSpec,
        settings: FetchSettings,
        auth: requests.auth.AuthBase | None,
        check_host: Callable[[str, str], None],
        redact: Callable[[str], str],
        session: requests.Session | None = None,
        sleep=time.sleep,
    ):
        self.slug = slug
        self.spec = spec
        self.settings = settings
        self.auth = auth
        self.stats = FetchStats()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers["Accept"] = "application/json"
        self._check_host = check_host
        self._redact = redact
        self._sleep = sleep

    def get(self, request: PageRequest, conditional: Mapping[str, str] | None = None) -> Response:
        """GET with retries of transient failures; raises a ProviderSyncError naming the provider and the cause.

        `conditional` holds `If-None-Match` / `If-Modified-Since`; only then is a 304 an answer.
        """
        return self._get_with_retries(request, dict(conditional or {}))

    def _get_with_retries(self, request: PageRequest, conditional: dict[str, str]) -> Response:
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
            retry=retry_if_exception(lambda e: isinstance(e, ProviderSyncError) and e.retryable and e.retry_now),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._get_once(request, conditional)
        except ProviderSyncError as error:
            if error.retryable and error.retry_now and attempts > 1:
                error.args = (f"{error.args[0]} (after {attempts} attempts)",)
            raise
        raise AssertionError("unreachable")

    def _get_once(self, request: PageRequest, conditional: dict[str, str]) -> Response:
        url, params = request.url, list(request.params)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(url, params, conditional)
            if response.status in REDIRECT_STATUSES and response.headers.get("Location"):
                response.body.close()
                url = urljoin(url, response.headers["Location"])
                params = []
                self._check_host(url, "redirect")
                continue
            if response.status == NOT_MODIFIED and conditional:
                return response
            if not 200 <= response.status < 300:
                error_body = response.body.read()
                response.body.close()
                check_status(self.slug, response.status, response.headers, error_body,
                             self.spec.auth_error_markers, self._redact)
            return response
        raise ProviderHttpError(self.slug, f"too many redirects from {self.slug}", 310)

    def _send(self, url: str, params: list, conditional: dict[str, str]) -> Response:
        settings = self.settings
        started = time.monotonic()
        self.stats.http_requests += 1
        netloc = urlsplit(url).netloc
        read_timeout = f"no response from {self.slug} at {netloc} within {settings.read_timeout:g} s (read timeout)"
        try:
            raw = self.session.get(
                url,
                params=params,
                headers={**self.spec.headers, **conditional},
                auth=self.auth,
                timeout=(settings.connect_timeout, settings.read_timeout),
                stream=True,
                allow_redirects=False,
            )
            with raw:
                body = self._read_body(raw, started)
                self.stats.bytes += len(body)
                return Response(raw.status_code, raw.headers, raw.links, raw.url, body)
        except requests.exceptions.ConnectTimeout:
            raise ProviderTimeout(
                self.slug, f"could not connect to {self.slug} at {netloc} within {settings.connect_timeout:g} s"
            ) from None
        except requests.exceptions.ReadTimeout:
            raise ProviderReadTimeout(self.slug, read_timeout) from None
        except requests.exceptions.ConnectionError as exc:
            text = str(exc).lower()
            if "read timed out" in text:
                raise ProviderReadTimeout(self.slug, read_timeout) from None
            if "refused" in text:
                raise ProviderUnreachable(self.slug, f"connection refused by {self.slug} at {netloc}") from None
            if "name or service not known" in text or "nodename nor servname" in text or "no address associated" in text:
                raise UnresolvableHost(self.slug, f"could not resolve {netloc} for {self.slug} (DNS: no such host)") from None
            if "name resolution" in text:
                raise ResolverFailure(self.slug, f"could not resolve {netloc} for {self.slug} (DNS)") from None
            raise ProviderUnreachable(self.slug, f"could not connect to {self.slug} at {netloc}") from None
        except requests.exceptions.ChunkedEncodingError:
            raise ProviderUnreachable(self.slug, f"the connection to {self.slug} broke mid-response") from None
        finally:
            self.stats.fetch_seconds += time.monotonic() - started

    def _read_body(self, raw: requests.Response, started: float) -> ResponseBody:
        """Stream the body, aborting at the size cap (error bodies are cut, not refused) and the page deadline."""
        settings = self.settings
        limit = settings.max_response_bytes if raw.status_code < 400 else ERROR_BODY_LIMIT
        declared = raw.headers.get("Content-Length")
        if raw.status_code < 400 and declared and declared.isdigit() and int(declared) > limit:
            raise self._too_large(int(declared))
        body = ResponseBody()
        try:
            for chunk in raw.iter_content(CHUNK_SIZE):
                body.write(chunk)
                if body.size > limit:
                    if raw.status_code >= 400:
                        break
                    raise self._too_large(body.size)
                if time.monotonic() - started > settings.page_deadline:
                    raise ProviderTimeout(
                        self.slug, f"{self.slug} did not finish sending a page within {settings.page_deadline:.0f} s"
                    )
        except BaseException:
            body.close()
            raise
        return body

    def _too_large(self, size: int) -> ResponseTooLarge:
        return ResponseTooLarge(
            self.slug,
            f"response from {self.slug} exceeded the maximum of {self.settings.max_response_bytes} bytes "
            f"(got at least {size}); raise GATEWAYZ_MAX_RESPONSE_MB if this is expected",
        )

