"""Recorded model lists and how to page them the way each provider does.

A `RecordedCatalog` is one provider's full list (envelope + records, numbers kept as exact Decimals). The
replay server asks it for the page a request names, in the provider's own paging dialect.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ...sources.paging import (
    BodyNextLink,
    HasMoreCursor,
    LinkHeader,
    OffsetLimit,
    PageNumber,
    PageToken,
    SinglePage,
)
from ...sources.paths import read_path, write_path
from ...sources.specs import ListApiSpec

RECORDINGS_DIR = Path(__file__).with_name("recordings")
DEFAULT_SERVER_PAGE_SIZE = 1000


@dataclass
class Page:
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def load_json(path: Path) -> Any:
    with path.open("rb") as handle:
        return json.load(handle, parse_float=Decimal)


class RecordedCatalog:
    def __init__(self, slug: str, spec: ListApiSpec, document: Any):
        self.slug = slug
        self.spec = spec
        if spec.records_path is None:
            self.envelope: Any = None
            self.records: list = list(document)
        else:
            self.envelope = copy.deepcopy(document)
            self.records = list(read_path(document, spec.records_path) or [])
            write_path(self.envelope, spec.records_path, [])

    @classmethod
    def from_file(cls, slug: str, spec: ListApiSpec, path: Path) -> RecordedCatalog:
        return cls(slug, spec, load_json(path))

    def with_records(self, records: list) -> RecordedCatalog:
        clone = copy.copy(self)
        clone.records = list(records)
        return clone

    def record_id(self, record: Any) -> Any:
        return read_path(record, self.spec.fields.id) if isinstance(record, Mapping) else None

    def _wrap(self, records: list, extra: Mapping[str, Any] | None = None) -> Any:
        if self.envelope is None:
            return records
        body = copy.deepcopy(self.envelope)
        write_path(body, self.spec.records_path, records)
        for path, value in (extra or {}).items():
            write_path(body, path, value)
        return body

    def page(self, query: Mapping[str, str], path: str, page_size: int | None) -> Page:
        """The page `query` asks for; `path` is the request path (for next links), `page_size` a server cap."""
        paginator = self.spec.paginator
        records = self.records
        cap = page_size or DEFAULT_SERVER_PAGE_SIZE

        if isinstance(paginator, SinglePage) and page_size is None:
            return Page(self._wrap(records))
        if isinstance(paginator, SinglePage):
            return Page(self._wrap(records[:page_size]))

        if isinstance(paginator, HasMoreCursor):
            start = 0
            cursor = query.get(paginator.cursor_param)
            if cursor is not None:
                ids = [self.record_id(r) for r in records]
                start = ids.index(cursor) + 1 if cursor in ids else len(records)
            size = min(cap, _int(query.get("limit"), cap))
            chunk = records[start : start + size]
            extra = {paginator.has_more_path: start + size < len(records)}
            if paginator.cursor_path:
                extra[paginator.cursor_path] = self.record_id(chunk[-1]) if chunk else None
                extra["first_id"] = self.record_id(chunk[0]) if chunk else None
            return Page(self._wrap(chunk, extra))

        if isinstance(paginator, PageToken):
            start = _int(_decode_token(query.get(paginator.token_param)), 0)
            size = min(cap, _page_size_param(query, cap))
            chunk = records[start : start + size]
            more = start + size < len(records)
            extra = {paginator.token_path: _encode_token(start + size) if more else None}
            if paginator.token_path == "next_cursor":
                extra["has_more"] = more
            body = self._wrap(chunk, extra)
            if not more and isinstance(body, dict) and paginator.token_path in body and paginator.token_path != "next_cursor":
                body.pop(paginator.token_path)
            return Page(body)

        if isinstance(paginator, BodyNextLink):
            start = _int(query.get("offset"), 0)
            chunk = records[start : start + cap]
            more = start + cap < len(records)
            next_link = f"{path}?{urlencode({'offset': start + cap})}" if more else None
            return Page(self._wrap(chunk, {paginator.next_path: next_link, "total_count": len(records)}))

        if isinstance(paginator, LinkHeader):
            start = _int(_decode_token(query.get("cursor")), 0)
            chunk = records[start : start + cap]
            headers = {}
            if start + cap < len(records):
                headers["Link"] = f'<{path}?{urlencode({"cursor": _encode_token(start + cap)})}>; rel="next"'
            return Page(self._wrap(chunk), headers)

        if isinstance(paginator, PageNumber):
            per_page = min(cap, _int(query.get(paginator.size_param or ""), paginator.page_size))
            page_number = _int(query.get(paginator.page_param), paginator.first_page)
            start = (page_number - paginator.first_page) * per_page
            chunk = records[start : start + per_page] if start >= 0 else []
            total_pages = -(-len(records) // per_page) if records else 0
            extra: dict[str, Any] = {}
            if paginator.total_pages_path:
                extra[paginator.total_pages_path] = total_pages
                extra["total"] = len(records)
            if isinstance(self.envelope, Mapping) and "result_info" in self.envelope:
                extra["result_info"] = {
                    "count": len(chunk),
                    "page": page_number,
                    "per_page": per_page,
                    "total_count": len(records),
                }
            return Page(self._wrap(chunk, extra))

        if isinstance(paginator, OffsetLimit):
            offset = _int(query.get(paginator.offset_param), 0)
            limit = min(cap, _int(query.get(paginator.limit_param), paginator.page_size))
            chunk = records[offset : offset + limit]
            extra = {paginator.offset_param: offset, paginator.limit_param: limit}
            if paginator.total_path:
                extra[paginator.total_path] = len(records)
            return Page(self._wrap(chunk, extra))

        raise ValueError(f"no replay for paginator {paginator!r}")


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def _page_size_param(query: Mapping[str, str], default: int) -> int:
    for name in ("pageSize", "page_size", "limit", "per_page"):
        if name in query:
            return _int(query[name], default)
    return default


def _encode_token(offset: int) -> str:
    return f"o{offset}"


def _decode_token(token: str | None) -> str | None:
    if token and token.startswith("o"):
        return token[1:]
    return token
