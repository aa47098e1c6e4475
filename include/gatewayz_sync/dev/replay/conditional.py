"""`ETag` / `Last-Modified` as the replay server sends and honours them, the way the real list API does.

Which real list APIs send validators is recorded in `recordings/_manifest.json` under "response_validators",
by endpoint (base URL + path), from captured response headers: of the fourteen list APIs captured, only the
Hugging Face Hub API sends one (a weak ETag), and none sends Last-Modified. Tests may give any provider
validators, including an ETag that changes on every response while the body does not (as tags minted per
server node do).
"""

from __future__ import annotations

import email.utils
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ...sources.specs import Provider
from .catalogs import RECORDINGS_DIR, load_json

ETAG_KINDS = ("strong", "weak", "rotating")


@dataclass(frozen=True)
class Validators:
    """What a provider sends: `etag` "strong", "weak" or "rotating" (new on every response), `last_modified`."""

    etag: str | None = None
    last_modified: bool = False

    def __post_init__(self) -> None:
        if self.etag is not None and self.etag not in ETAG_KINDS:
            raise ValueError(f"etag must be one of {ETAG_KINDS}, got {self.etag!r}")

    def headers(self, body: bytes, changed_at: float, serial: int) -> dict[str, str]:
        headers = {}
        tag = hashlib.sha256(body).hexdigest()[:27]
        if self.etag == "strong":
            headers["ETag"] = f'"{tag}"'
        elif self.etag == "weak":
            headers["ETag"] = f'W/"{tag}"'
        elif self.etag == "rotating":
            headers["ETag"] = f'"{tag}-{serial}"'
        if self.last_modified:
            headers["Last-Modified"] = email.utils.formatdate(changed_at, usegmt=True)
        return headers


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def is_not_modified(response_headers: Mapping[str, str], request_headers: Mapping[str, str]) -> bool:
    """RFC 9110: If-None-Match (weak comparison) decides when present; else If-Modified-Since."""
    if_none_match = request_headers.get("If-None-Match")
    etag = response_headers.get("ETag")
    if if_none_match is not None:
        if etag is None:
            return False
        return if_none_match.strip() == "*" or _opaque(etag) in {_opaque(t) for t in if_none_match.split(",")}
    since, last_modified = request_headers.get("If-Modified-Since"), response_headers.get("Last-Modified")
    if not since or not last_modified:
        return False
    try:
        return email.utils.parsedate_to_datetime(last_modified) <= email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def recorded_validators(providers: Iterable[Provider]) -> dict[str, Validators]:
    """The validators each provider's real endpoint was recorded sending, from the recordings' manifest."""
    recorded = load_json(RECORDINGS_DIR / "_manifest.json").get("response_validators", {}).get("by_endpoint", {})
    found = {}
    for provider in providers:
        spec = provider.list_api
        entry = recorded.get(spec.base_url.rstrip("/") + spec.path) if spec else None
        if entry:
            found[provider.slug] = Validators(etag=entry.get("etag"), last_modified=bool(entry.get("last_modified")))
    return found
