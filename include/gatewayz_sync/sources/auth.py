"""Where a provider expects its key, as one value in the registry, and the `requests` auth that puts it there.

A placement is data (`Bearer()`, `Header("x-api-key")`, `Query("key")`, `Scheme("Key")`), so a spec cannot
name a header style without the header. `KeyAuth` attaches the key only to requests for hosts we named: the
check duplicates the fetch loop's allow-list on purpose, because the key is the one thing that must never travel.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase


class KeyPlacement(ABC):
    """Where the key goes in a request, and how a server (the replay server) tells that it came."""

    @abstractmethod
    def attach(self, request: requests.PreparedRequest, key: str) -> None:
        """Put `key` into `request`."""

    @abstractmethod
    def present(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        """Whether a received request carries a key in this place."""

    def problem(self) -> str | None:
        """Why this placement is unusable, or None."""
        return None


@dataclass(frozen=True)
class Scheme(KeyPlacement):
    """`Authorization: <scheme> <key>`, e.g. fal's and Clarifai's `Key` scheme."""

    scheme: str

    def attach(self, request, key):
        request.headers["Authorization"] = f"{self.scheme} {key}"

    def present(self, headers, query):
        prefix = f"{self.scheme} "
        value = headers.get("Authorization", "")
        return value.startswith(prefix) and len(value) > len(prefix)

    def problem(self):
        return None if self.scheme and self.scheme.strip() == self.scheme and " " not in self.scheme else (
            f"scheme must be one word, got {self.scheme!r}"
        )


@dataclass(frozen=True)
class Bearer(Scheme):
    """`Authorization: Bearer <key>`: the OpenAI-compatible default."""

    scheme: str = "Bearer"


@dataclass(frozen=True)
class Header(KeyPlacement):
    """The bare key in a header of its own: `x-api-key: <key>`."""

    name: str

    def attach(self, request, key):
        request.headers[self.name] = key

    def present(self, headers, query):
        return bool(headers.get(self.name))

    def problem(self):
        return None if self.name and self.name.strip() == self.name else f"header name must not be blank, got {self.name!r}"


@dataclass(frozen=True)
class Query(KeyPlacement):
    """The key as a query parameter: `?key=<key>` (replacing any value already there)."""

    param: str

    def attach(self, request, key):
        parts = urlsplit(request.url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != self.param]
        query.append((self.param, key))
        request.url = urlunsplit(parts._replace(query=urlencode(query)))

    def present(self, headers, query):
        return bool(query.get(self.param))

    def problem(self):
        return None if self.param and self.param.strip() == self.param else f"query parameter must not be blank, got {self.param!r}"


class KeyAuth(AuthBase):
    def __init__(self, placement: KeyPlacement, key: str, allowed_hosts: frozenset[str]):
        self._placement = placement
        self._key = key
        self._allowed_hosts = allowed_hosts

    def __repr__(self) -> str:
        return f"KeyAuth({self._placement!r}, key=***)"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlsplit(request.url).netloc.lower() in self._allowed_hosts:
            self._placement.attach(request, self._key)
        return request


def build_auth(placement: KeyPlacement | None, key: str | None, allowed_hosts: frozenset[str]) -> AuthBase | None:
    """None when the API takes no key or none is configured."""
    if placement is None or not key:
        return None
    return KeyAuth(placement, key, allowed_hosts)
