"""Conditional requests: the validators a provider sent with the last loaded listing, sent back next time.

A provider that answers with `ETag` or `Last-Modified` gets `If-None-Match` / `If-Modified-Since` on the next
sync. A `304 Not Modified` stands for the very bytes those validators came with, whose digest is kept beside
them, so the sync treats it exactly like a byte-identical listing. Only a single-response listing qualifies:
a 304 for the first of many pages says nothing about the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ListingValidators:
    body_digest: str
    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def from_response(
        cls, headers: Mapping[str, str], body_digest: str, previous: ListingValidators | None = None
    ) -> ListingValidators | None:
        """The validators a response carries; for the same bytes (a 304, or an identical body) a validator the
        response does not repeat is kept from the ones it answered."""
        etag, last_modified = headers.get("ETag") or None, headers.get("Last-Modified") or None
        if previous is not None and previous.body_digest == body_digest:
            etag, last_modified = etag or previous.etag, last_modified or previous.last_modified
        if not etag and not last_modified:
            return None
        return cls(body_digest, etag, last_modified)

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def as_json(self) -> dict[str, str]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> ListingValidators | None:
        if not value or not value.get("body_digest"):
            return None
        return cls(str(value["body_digest"]), value.get("etag"), value.get("last_modified"))
