"""Hostile upstream text through the real fetch loop, replay server and PostgreSQL (hardening rows 1 and 3).

A provider that echoes the key it received, at every offset around each place a message is shortened and in
each encoding, never leaves a fragment of the key in `sync_runs.error`; terminal escapes and bidi overrides from
a provider never reach storage raw.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
from urllib.parse import quote

import pytest

from include.gatewayz_sync.config import FetchSettings, SyncSettings
from include.gatewayz_sync.errors import ProviderSyncError
from include.gatewayz_sync.model_sync import sync_provider_models
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.sources.responses import MESSAGE_LIMIT, TEXT_LIMIT
from include.gatewayz_sync.store.listing import LoadOptions
from include.gatewayz_sync.store.runs import RunInfo
from include.gatewayz_sync.untrusted import has_controls
from tests.conftest import PROVIDER_KEYS, catalog_connection

KEY = PROVIDER_KEYS["openai"]
PREFIX = "authentication failed for openai: HTTP 401: "
SNIPPET = 60
FRAGMENT = 6


def _sync(catalog, slug: str = "openai") -> str:
    """One provider sync over real HTTP into the real catalog; returns the error its sync_runs row recorded."""
    run = RunInfo("gatewayz_sync_models", f"hostile-{secrets.token_hex(4)}", 1, dt.datetime.now(dt.UTC))
    with pytest.raises(ProviderSyncError):
        sync_provider_models(
            GATEWAY_REGISTRY[slug], catalog_connection, run, LoadOptions.from_settings(SyncSettings()),
            connection_for=lambda provider: None, env=os.environ,
            fetch_settings=FetchSettings(http_attempts=1, backoff_seconds=0),
        )
    return catalog.execute("SELECT error FROM sync_runs WHERE dag_run_id = %s", (run.dag_run_id,)).fetchone()[0]


def _leaks(error: str, secret: str) -> list[str]:
    """Fragments of `secret` in the part of `error` that quotes the provider (our own wording names the slug)."""
    quoted = error.split("HTTP 401: ", 1)[-1].split("starts with ", 1)[-1]
    return [secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1) if secret[i : i + FRAGMENT] in quoted]


def _offsets(cut: int, preamble: int = 0) -> range:
    """Every filler length that puts the key across, just before or just after the cut."""
    start = cut - preamble - len(KEY) - 2
    return range(max(0, start), cut - preamble + 3)


@pytest.mark.parametrize(
    ("where", "fault", "cut"),
    [
        ("a JSON error message", {"status": 401, "echo_as_json": True}, MESSAGE_LIMIT),
        ("a plain-text error body", {"status": 401, "echo_as_json": False}, TEXT_LIMIT),
        ("the start of a 200 body that is not JSON", {"status": 200, "echo_as_json": False}, SNIPPET),
    ],
)
def test_an_echoed_key_leaves_no_fragment_at_any_offset_around_each_cut(catalog, replay, where, fault, cut):
    checked = 0
    for offset in _offsets(cut):
        replay.add_fault("openai", echo_key=True, echo_offset=offset, **fault)
        error = _sync(catalog)
        assert not _leaks(error, KEY), f"{where}, key at offset {offset}: {error!r}"
        checked += 1
    assert checked >= len(KEY) + 2
    assert {r.auth_present for r in replay.requests_for("openai")} == {True}, "the key was really sent and echoed"


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [("url", quote(KEY, safe="")), ("base64", base64.b64encode(KEY.encode()).decode())],
)
def test_an_echoed_key_is_redacted_url_encoded_and_base64_encoded(catalog, replay, encoding, encoded):
    for offset in (0, 1, 2, MESSAGE_LIMIT - len(encoded) // 2):
        replay.add_fault("openai", status=401, echo_key=True, echo_offset=offset, echo_encoding=encoding)
        error = _sync(catalog)
        assert error.startswith(PREFIX)
        assert not _leaks(error, encoded), f"{encoding} at offset {offset}: {error!r}"
        assert not _leaks(error, KEY)


def test_an_echo_inside_a_longer_base64_string_is_redacted_at_every_alignment(catalog, replay):
    for filler in ("", "u", "us", "usr"):
        token = base64.b64encode(f"{filler}:{KEY}:tail".encode()).decode()
        replay.add_fault("openai", status=401, body=f'{{"error": {{"message": "bad token {token}"}}}}')
        error = _sync(catalog)
        middle = base64.b64encode(KEY.encode()).decode()[4:-4]
        assert "***" in error and middle[:FRAGMENT] not in error, error


def test_terminal_escapes_and_bidi_overrides_never_reach_storage_raw(catalog, replay):
    replay.add_fault("groq", status=500, ansi=True)
    error = _sync(catalog, "groq")
    assert not has_controls(error), repr(error)
    assert error == "HTTP 500 from groq: x\\x1b[2J\\x1b[31mRED\\u202eevil\\x9b1m"
    replay.add_fault("groq", status=502, body="x\u001b[2J\u001b[31mRED")
    assert _sync(catalog, "groq") == "HTTP 502 from groq: x\\x1b[2J\\x1b[31mRED"
