"""Auth strategies as `requests.auth.AuthBase`, each refusing to attach a key to a host we did not name.

The host check duplicates the fetch loop's allow-list on purpose: a key is the one thing that must never
travel, so the object that holds it checks the destination itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase

from .specs import AuthStyle, ListApiSpec


class _KeyAuth(AuthBase, ABC):
    def __init__(self, key: str, allowed_hosts: frozenset[str]):
        self._key = key
        self._allowed_hosts = allowed_hosts

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key=***)"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlsplit(request.url).netloc.lower() in self._allowed_hosts:
            self.attach(request)
        return request

    @abstractmethod
    def attach(self, request: requests.PreparedRequest) -> None:
        """Put the key where this provider expects it."""


class BearerAuth(_KeyAuth):
    def attach(self, request):
        request.headers["Authorization"] = f"Bearer {self._key}"


class KeySchemeAuth(_KeyAuth):
    def attach(self, request):
        request.headers["Authorization"] = f"Key {self._key}"


class HeaderKeyAuth(_KeyAuth):
    def __init__(self, key: str, allowed_hosts: frozenset[str], header: str):
        super().__init__(key, allowed_hosts)
        self._header = header

    def attach(self, request):
        request.headers[self._header] = self._key


class QueryKeyAuth(_KeyAuth):
    def __init__(self, key: str, allowed_hosts: frozenset[str], param: str):
        super().__init__(key, allowed_hosts)
        self._param = param

    def attach(self, request):
        parts = urlsplit(request.url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != self._param]
        query.append((self._param, self._key))
        request.url = urlunsplit(parts._replace(query=urlencode(query)))


def build_auth(spec: ListApiSpec, key: str | None, allowed_hosts: frozenset[str]) -> AuthBase | None:
    if not key or spec.auth is AuthStyle.NONE:
        return None
    if spec.auth is AuthStyle.BEARER:
        return BearerAuth(key, allowed_hosts)
    if spec.auth is AuthStyle.KEY_SCHEME:
        return KeySchemeAuth(key, allowed_hosts)
    if spec.auth is AuthStyle.HEADER:
        return HeaderKeyAuth(key, allowed_hosts, spec.auth_header)
    if spec.auth is AuthStyle.QUERY:
        return QueryKeyAuth(key, allowed_hosts, spec.auth_query_param)
    raise ValueError(f"unknown auth style {spec.auth!r}")
