"""Paging strategies: each reads the next-page reference from one response and writes it into the next request.

Paginators are frozen data (they sit in the registry) and keep no state between pages: the fetch loop hands
them the request it just made, the response and what was seen of the page (`PageSeen`: the values at the body
paths the paginator names in `envelope_paths`, the number of records and the last one, since a page is parsed
as a stream and its records are gone by then), and they answer the next request or None.
Guards against loops and foreign hosts live in the fetch loop, not here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol
from urllib.parse import urljoin

from .paths import read_path


@dataclass(frozen=True)
class PageRequest:
    url: str
    params: tuple[tuple[str, str], ...] = ()

    def with_params(self, **updates: str) -> PageRequest:
        merged = dict(self.params)
        merged.update(updates)
        return replace(self, params=tuple(merged.items()))

    @property
    def cache_key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return self.url, tuple(sorted(self.params))


@dataclass
class PageSeen:
    """What a paginator may read of a parsed page: the values at its `envelope_paths` (as a document holding only
    them), how many records the page had, and the last one."""

    envelope: dict = field(default_factory=dict)
    count: int = 0
    last_record: Any = None

    def read(self, path: str | None) -> Any:
        return read_path(self.envelope, path)


class HeadersLike(Protocol):
    headers: Mapping[str, str]
    links: Mapping[str, Mapping[str, str]]


class Paginator(ABC):
    single_response: ClassVar[bool] = False
    """True when one response always holds the whole list (no next page is ever asked for)."""

    def first_request(self, url: str, params: Mapping[str, str]) -> PageRequest:
        return PageRequest(url, tuple(params.items()))

    @property
    def envelope_paths(self) -> tuple[str, ...]:
        """The body paths `next_request` reads (besides the records)."""
        return ()

    @abstractmethod
    def next_request(self, current: PageRequest, response: HeadersLike, page: PageSeen) -> PageRequest | None:
        """The request for the page after `current`, or None when `current` was the last."""


@dataclass(frozen=True)
class SinglePage(Paginator):
    """The whole list in one response: `{"object": "list", "data": [...]}`."""

    single_response: ClassVar[bool] = True

    def next_request(self, current, response, page):
        return None


@dataclass(frozen=True)
class HasMoreCursor(Paginator):
    """Cursor paging: `{"data": [...], "has_more": true, "last_id": "m-99"}` -> `?after_id=m-99`.

    When the body has no `cursor_path`, the last record's `id` is the cursor.
    """

    cursor_param: str = "after_id"
    has_more_path: str = "has_more"
    cursor_path: str | None = "last_id"

    @property
    def envelope_paths(self):
        return tuple(path for path in (self.has_more_path, self.cursor_path) if path)

    def next_request(self, current, response, page):
        if page.read(self.has_more_path) is not True:
            return None
        cursor = page.read(self.cursor_path) if self.cursor_path else None
        if cursor is None and page.count and isinstance(page.last_record, Mapping):
            cursor = page.last_record.get("id")
        if cursor is None:
            return None
        return current.with_params(**{self.cursor_param: str(cursor)})


@dataclass(frozen=True)
class PageToken(Paginator):
    """Opaque token paging: `{"models": [...], "nextPageToken": "abc"}` -> `?pageToken=abc`."""

    token_path: str = "nextPageToken"
    token_param: str = "pageToken"

    @property
    def envelope_paths(self):
        return (self.token_path,)

    def next_request(self, current, response, page):
        token = page.read(self.token_path)
        if token in (None, ""):
            return None
        return current.with_params(**{self.token_param: str(token)})


@dataclass(frozen=True)
class BodyNextLink(Paginator):
    """A next-page URL in the body, absolute or relative: `{"links": {"next": "/api/v1/models?offset=200"}}`."""

    next_path: str = "links.next"

    @property
    def envelope_paths(self):
        return (self.next_path,)

    def next_request(self, current, response, page):
        link = page.read(self.next_path)
        if not link:
            return None
        return PageRequest(urljoin(current.url, str(link)))


@dataclass(frozen=True)
class LinkHeader(Paginator):
    """RFC 8288 paging: `Link: <https://host/api/models?cursor=abc>; rel="next"`."""

    def next_request(self, current, response, page):
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        return PageRequest(urljoin(current.url, link))


@dataclass(frozen=True)
class PageNumber(Paginator):
    """Numbered pages until one comes back empty: `?page=1&per_page=100`, `?page=2...` -> `{"result": []}`.

    With `total_pages_path` (`{"pagination": {"total_pages": 3}}`) paging also stops after the last page.
    """

    page_param: str = "page"
    size_param: str | None = "per_page"
    page_size: int = 100
    first_page: int = 1
    total_pages_path: str | None = None

    def first_request(self, url, params):
        request = PageRequest(url, tuple(params.items())).with_params(**{self.page_param: str(self.first_page)})
        if self.size_param:
            request = request.with_params(**{self.size_param: str(self.page_size)})
        return request

    @property
    def envelope_paths(self):
        return (self.total_pages_path,) if self.total_pages_path else ()

    def next_request(self, current, response, page):
        if not page.count:
            return None
        number = int(dict(current.params)[self.page_param])
        total_pages = page.read(self.total_pages_path) if self.total_pages_path else None
        if isinstance(total_pages, int) and number - self.first_page + 1 >= total_pages:
            return None
        return current.with_params(**{self.page_param: str(number + 1)})


@dataclass(frozen=True)
class OffsetLimit(Paginator):
    """Offset paging: `?limit=100&offset=0` -> `{"models": [...], "total": 250}` -> `?offset=100`, until total."""

    offset_param: str = "offset"
    limit_param: str = "limit"
    page_size: int = 100
    total_path: str | None = "total"

    def first_request(self, url, params):
        return PageRequest(url, tuple(params.items())).with_params(
            **{self.offset_param: "0", self.limit_param: str(self.page_size)}
        )

    @property
    def envelope_paths(self):
        return (self.total_path,) if self.total_path else ()

    def next_request(self, current, response, page):
        if not page.count:
            return None
        offset = int(dict(current.params)[self.offset_param]) + page.count
        total = page.read(self.total_path) if self.total_path else None
        if isinstance(total, int) and offset >= total:
            return None
        return current.with_params(**{self.offset_param: str(offset)})
