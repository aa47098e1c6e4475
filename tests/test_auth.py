"""Each auth strategy puts the key where its provider expects it, and nowhere else, and only for its own host."""

from __future__ import annotations

import pytest
import requests

from include.gatewayz_sync.sources.auth import Query, build_auth
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY

HOSTS = frozenset({"api.example.com"})


def prepared(auth, url="https://api.example.com/v1/models?limit=5"):
    return requests.Request("GET", url, auth=auth).prepare()


@pytest.mark.parametrize(
    ("slug", "header", "value"),
    [
        ("openai", "Authorization", "Bearer k-123"),
        ("anthropic", "x-api-key", "k-123"),
        ("google-vertex", "x-goog-api-key", "k-123"),
        ("fal", "Authorization", "Key k-123"),
        ("clarifai", "Authorization", "Key k-123"),
    ],
)
def test_header_strategies(slug, header, value):
    request = prepared(build_auth(GATEWAY_REGISTRY[slug].list_api.auth, "k-123", HOSTS))
    assert request.headers[header] == value
    assert "k-123" not in request.url


def test_query_key_strategy_replaces_any_existing_value():
    request = prepared(build_auth(Query("key"), "k-123", HOSTS), "https://api.example.com/v1/models?key=old&limit=5")
    assert request.url == "https://api.example.com/v1/models?limit=5&key=k-123"
    assert "Authorization" not in request.headers


def test_no_auth_and_no_key_attach_nothing():
    assert build_auth(GATEWAY_REGISTRY["aihubmix"].list_api.auth, "k-123", HOSTS) is None
    assert build_auth(GATEWAY_REGISTRY["openai"].list_api.auth, None, HOSTS) is None


@pytest.mark.parametrize("slug", ["openai", "anthropic", "fal"])
def test_a_key_is_never_attached_for_another_host(slug):
    request = prepared(build_auth(GATEWAY_REGISTRY[slug].list_api.auth, "k-123", HOSTS), "https://evil.example.net/models")
    assert "k-123" not in str(request.headers) and "k-123" not in request.url


def test_the_key_does_not_show_in_reprs():
    auth = build_auth(GATEWAY_REGISTRY["openai"].list_api.auth, "k-123", HOSTS)
    assert "k-123" not in repr(auth)
