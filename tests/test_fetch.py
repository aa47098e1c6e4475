"""The fetch loop over real HTTP on loopback: paging styles, error bodies, retries and every guard."""

from __future__ import annotations

import dataclasses
import socket
import time

import pytest

from include.gatewayz_sync.config import FetchSettings
from include.gatewayz_sync.dev.replay.catalogs import load_json
from include.gatewayz_sync.dev.replay.server import ReplayServer
from include.gatewayz_sync.errors import (
    AuthenticationFailed,
    ForeignHost,
    InsecureEndpoint,
    InvalidJson,
    MissingCredentials,
    PaginationLoop,
    ProviderHttpError,
    ProviderTimeout,
    ProviderUnreachable,
    ResponseTooLarge,
    UnexpectedShape,
)
from include.gatewayz_sync.sources.auth import Bearer
from include.gatewayz_sync.sources.endpoints import resolve_endpoint
from include.gatewayz_sync.sources.fetch import ProviderFetcher
from include.gatewayz_sync.sources.paging import LinkHeader
from include.gatewayz_sync.sources.registry import GATEWAY_REGISTRY
from include.gatewayz_sync.sources.specs import FieldMap, ListApiSpec, Priority, Provider
from tests.conftest import PROVIDER_KEYS

FAST = FetchSettings(connect_timeout=2, read_timeout=2, backoff_seconds=0.01, max_retry_after=5)


def fetch_all(slug: str, replay, settings: FetchSettings = FAST, env: dict | None = None, provider=None):
    provider = provider or GATEWAY_REGISTRY[slug]
    environment = {
        "GATEWAYZ_BASE_URL_OVERRIDE": replay.base_url_override,
        provider.api_key_env: PROVIDER_KEYS.get(slug, "sk-test"),
        "CLOUDFLARE_ACCOUNT_ID": "acct",
        **(env or {}),
    }
    fetcher = ProviderFetcher(provider, resolve_endpoint(provider, None, environment), settings)
    records = [record for page in fetcher.pages() for record in page.records()]
    return records, fetcher.stats


PAGED = {
    "anthropic": (4, 10, 3),  # has_more / after_id cursor
    "alibaba": (60, 159, 3),  # has_more / after cursor
    "google-vertex": (20, 50, 3),  # nextPageToken -> pageToken
    "cohere": (10, 31, 4),  # next_page_token -> page_token
    "openrouter": (100, 225, 3),  # links.next, a relative URL
    "cloudflare-workers-ai": (30, 63, 4),  # page numbers until an empty page
    "near": (2, 4, 2),  # offset / limit until total
}


@pytest.mark.parametrize("slug", sorted(PAGED))
def test_each_paging_style_walks_every_page(slug, replay):
    page_size, total, pages = PAGED[slug]
    replay.set_page_size(slug, page_size)
    records, stats = fetch_all(slug, replay)
    assert (len(records), stats.pages) == (total, pages)
    ids = [r.get("id") or r.get("name") or r.get("modelId") for r in records]
    assert len(set(ids)) == total


def test_page_numbers_stop_at_total_pages_for_featherless(replay):
    records = [{"id": f"org/model-{n}", "context_length": 8192} for n in range(2500)]
    replay.set_records("featherless", records)
    fetched, stats = fetch_all("featherless", replay)
    assert (len(fetched), stats.pages) == (2500, 3)


def test_page_token_with_next_cursor_for_fal(replay):
    replay.set_records("fal", [{"endpoint_id": f"fal-ai/m{n}", "metadata": {}} for n in range(250)])
    fetched, stats = fetch_all("fal", replay)
    assert (len(fetched), stats.pages) == (250, 3)


def test_link_header_paging_over_the_hugging_face_hub_api():
    from pathlib import Path

    hub = Provider(
        slug="hf-hub", name="HF Hub", color="bg-yellow-600", priority=Priority.SLOW, site_url="https://huggingface.co",
        list_api=ListApiSpec(base_url="https://huggingface.co/api", path="/models", auth=Bearer(),
                             records_path=None, paginator=LinkHeader(), fields=FieldMap()),
    )
    server = ReplayServer(providers=[hub], page_sizes={"hf-hub": 100}, recordings_dir=Path(__file__).parent / "fixtures")
    server._catalogs["hf-hub"] = server._catalogs.get("hf-hub") or _hub_catalog(hub)
    with server:
        records, stats = fetch_all("hf-hub", server, provider=hub)
    assert (len(records), stats.pages) == (250, 3)


def _hub_catalog(hub):
    from pathlib import Path

    from include.gatewayz_sync.dev.replay.catalogs import RecordedCatalog

    path = Path(__file__).parent / "fixtures" / "huggingface_hub_api_models_inference_warm_page1_excerpt.json"
    return RecordedCatalog.from_file("hf-hub", hub.list_api, path)


ERROR_BODIES = {
    "openai": (401, "Incorrect API key provided"),
    "anthropic": (401, "invalid x-api-key"),
    "google-vertex": (400, "API key not valid"),
    "cloudflare-workers-ai": (400, "Unable to authenticate request"),
    "groq": (401, "Invalid API Key"),
    "mistral": (401, "Unauthorized"),
    "cohere": (401, "invalid api token"),
    "cerebras": (401, "Wrong API Key"),
    "deepseek": (401, "Authentication Fails"),
    "together": (401, "Unauthorized"),
    "huggingface": (401, "Invalid credentials"),
    "near": (401, "Invalid or expired API key"),
}


@pytest.mark.parametrize("slug", sorted(ERROR_BODIES))
def test_recorded_bad_key_bodies_become_authentication_failures(slug, replay):
    replay.add_fault(slug, auth_error=True)
    with pytest.raises(AuthenticationFailed) as failure:
        fetch_all(slug, replay)
    message = str(failure.value)
    status, fragment = ERROR_BODIES[slug]
    assert message.startswith(f"authentication failed for {slug}: HTTP {status}")
    assert fragment.lower() in message.lower()
    assert PROVIDER_KEYS[slug] not in message
    assert len(replay.requests_for(slug)) == 1, "a bad key is not retried"


def test_a_key_echoed_in_an_error_body_is_redacted(replay):
    key = PROVIDER_KEYS["openai"]
    replay.add_fault("openai", status=401, body=f'{{"error": {{"message": "Incorrect API key provided: {key}."}}}}')
    with pytest.raises(AuthenticationFailed) as failure:
        fetch_all("openai", replay)
    assert key not in str(failure.value) and "***" in str(failure.value)


def test_a_transient_500_is_retried(replay):
    replay.add_fault("groq", status=500, times=1)
    records, stats = fetch_all("groq", replay)
    assert len(records) == 13 and stats.http_requests == 2


def test_a_persistent_503_fails_after_bounded_retries(replay):
    replay.add_fault("groq", status=503, times=-1)
    with pytest.raises(ProviderHttpError, match=r"HTTP 503 from groq: .*\(after 3 attempts\)"):
        fetch_all("groq", replay)
    assert len(replay.requests_for("groq")) == 3


def test_429_honours_retry_after(replay):
    replay.add_fault("groq", status=429, headers={"Retry-After": "1"})
    started = time.monotonic()
    records, _ = fetch_all("groq", replay)
    assert len(records) == 13
    assert time.monotonic() - started >= 0.9


def test_connection_refused_fails_quickly():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = GATEWAY_REGISTRY["groq"]
    env = {"GATEWAYZ_BASE_URL_OVERRIDE": f"http://127.0.0.1:{port}/{{slug}}", "GROQ_API_KEY": "k"}
    fetcher = ProviderFetcher(provider, resolve_endpoint(provider, None, env), FAST)
    started = time.monotonic()
    with pytest.raises(ProviderUnreachable, match=f"connection refused by groq at 127.0.0.1:{port}"):
        list(fetcher.pages())
    assert time.monotonic() - started < 5


def test_a_server_that_never_answers_times_out(replay):
    replay.add_fault("groq", hang=30)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"no response from groq .* within 2 s \(read timeout\)"):
        fetch_all("groq", replay)
    assert time.monotonic() - started < 6


@pytest.mark.parametrize("kind", ["truncated", "not_json", "html"])
def test_bodies_that_are_not_json_fail_clearly(kind, replay):
    replay.add_fault("groq", malformed=kind, times=-1)
    with pytest.raises(InvalidJson, match="invalid JSON from groq"):
        fetch_all("groq", replay)


def test_json_of_the_wrong_shape_names_the_records_path(replay):
    replay.add_fault("groq", malformed="wrong_shape")
    with pytest.raises(UnexpectedShape, match=r"unexpected response from groq: no list of models at 'data'; .*'error'"):
        fetch_all("groq", replay)


@pytest.mark.parametrize("slug", ["anthropic", "google-vertex", "openrouter", "cloudflare-workers-ai"])
def test_a_cursor_that_repeats_forever_is_a_pagination_loop(slug, replay):
    replay.add_fault(slug, repeat_cursor=True, times=-1)
    settings = dataclasses.replace(FAST, max_pages=50)
    started = time.monotonic()
    with pytest.raises(PaginationLoop, match=f"pagination loop from {slug}"):
        fetch_all(slug, replay, settings)
    assert time.monotonic() - started < 10
    assert len(replay.requests_for(slug)) <= 50


def test_a_next_page_link_to_another_host_is_refused_and_the_key_stays_home(replay):
    with ReplayServer(host="127.0.0.2") as other:
        replay.add_fault("openrouter", next_link=f"{other.url}/openrouter/api/v1/models?offset=100")
        with pytest.raises(ForeignHost, match=r"refused next-page link from openrouter to http://127.0.0.2:\d+"):
            fetch_all("openrouter", replay)
        assert other.requests == []


def test_responses_over_the_maximum_are_aborted(replay):
    settings = dataclasses.replace(FAST, max_response_bytes=4096)
    with pytest.raises(ResponseTooLarge, match="response from openai exceeded the maximum of 4096 bytes"):
        fetch_all("openai", replay, settings)
    replay.add_fault("openai", chunked=True)
    with pytest.raises(ResponseTooLarge):
        fetch_all("openai", replay, settings)


def test_missing_credentials_are_a_skip_with_the_reason(replay):
    provider = GATEWAY_REGISTRY["openai"]
    with pytest.raises(MissingCredentials, match=r"no credentials \(set OPENAI_API_KEY or connection gatewayz_openai\)"):
        resolve_endpoint(provider, None, {})
    cloudflare = GATEWAY_REGISTRY["cloudflare-workers-ai"]
    with pytest.raises(MissingCredentials, match="no account_id"):
        resolve_endpoint(cloudflare, None, {"CLOUDFLARE_API_TOKEN": "t"})


def test_keys_never_travel_over_plain_http_to_a_remote_host():
    provider = GATEWAY_REGISTRY["openai"]
    with pytest.raises(InsecureEndpoint, match="over plain http"):
        resolve_endpoint(provider, None, {"GATEWAYZ_BASE_URL_OVERRIDE": "http://models.example.com/{slug}", "OPENAI_API_KEY": "k"})


def test_connection_host_with_a_path_prefix_replaces_the_registry_base_url():
    from types import SimpleNamespace

    provider = GATEWAY_REGISTRY["openrouter"]
    connection = SimpleNamespace(conn_type="http", host="https://proxy.internal/openrouter/api/v1", port=None,
                                 schema=None, password="from-conn", extra_dejson={})
    endpoint = resolve_endpoint(provider, connection, {"OPENROUTER_API_KEY": "from-env"})
    assert endpoint.base_url == "https://proxy.internal/openrouter/api/v1"
    assert endpoint.key == "from-conn" and "from-conn" not in repr(endpoint)
    assert endpoint.allowed_hosts == frozenset({"proxy.internal"})
    uri_style = SimpleNamespace(conn_type="https", host="openrouter.ai", port=None, schema="api/v1", password=None,
                                extra_dejson={})
    assert resolve_endpoint(provider, uri_style, {}).base_url == "https://openrouter.ai/api/v1"


def test_recorded_error_bodies_exist_for_the_auth_tests():
    from include.gatewayz_sync.dev.replay.catalogs import RECORDINGS_DIR

    for slug in ERROR_BODIES:
        assert load_json(RECORDINGS_DIR / "errors" / f"{slug}_bad_key.json")["status"] == ERROR_BODIES[slug][0]
