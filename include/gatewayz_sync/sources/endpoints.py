"""Where a provider's list lives and with which key: Airflow connection first, then registry + env var.

Connection `gatewayz_<slug>`: host (a full base URL, path prefix allowed) replaces the registry's base URL and
the password is the key. `GATEWAYZ_BASE_URL_OVERRIDE` (`http://127.0.0.1:9000/{slug}`) redirects every
provider without a connection host, for replays and tests. Run conf never reaches this module, so a run
cannot point a key elsewhere.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..errors import InsecureEndpoint, MissingCredentials
from .specs import Provider

BASE_URL_OVERRIDE_ENV = "GATEWAYZ_BASE_URL_OVERRIDE"


class ConnectionLike(Protocol):
    conn_type: str | None
    host: str | None
    port: int | None
    schema: str | None
    password: str | None
    extra_dejson: Mapping[str, Any]


@dataclass(frozen=True)
class Endpoint:
    slug: str
    base_url: str
    key: str | None = field(repr=False)
    allowed_hosts: frozenset[str]
    path_values: Mapping[str, str]
    source: str


def connection_base_url(connection: ConnectionLike) -> str | None:
    host = (connection.host or "").strip()
    if not host:
        return None
    if "://" in host:
        return host.rstrip("/")
    scheme = connection.conn_type if connection.conn_type in ("http", "https") else "https"
    netloc = f"{host}:{connection.port}" if connection.port else host
    path = "/" + connection.schema.strip("/") if connection.schema else ""
    return f"{scheme}://{netloc}{path}".rstrip("/")


def _is_loopback(hostname: str | None) -> bool:
    if not hostname:
        return False
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def configured_key(provider: Provider, connection: ConnectionLike | None, env: Mapping[str, str]) -> str | None:
    """The provider's key: the connection's password, else its env var; None when neither is set (a blank one is
    not set, so a connection only ever adds a key to the environment's)."""
    for key in (connection.password if connection is not None else None, env.get(provider.api_key_env)):
        if key and key.strip():
            return key.strip()
    return None


def skip_reason(provider: Provider, connection: ConnectionLike | None, env: Mapping[str, str]) -> str | None:
    """Why the provider is skipped rather than asked for its list: no list API, no key, no path value; else None.

    The one check for both places that make it: the model sync's `list_providers`, which records the skip before
    any provider task exists, and `resolve_endpoint`, which raises it as MissingCredentials.
    """
    spec = provider.list_api
    if spec is None:
        return provider.no_list_reason or "no public model list API"
    if spec.key_required and configured_key(provider, connection, env) is None:
        return f"no credentials (set {provider.api_key_env} or connection {provider.connection_id})"
    extra = connection.extra_dejson if connection is not None else {}
    for placeholder, env_name in spec.path_params.items():
        if not (extra.get(placeholder) or env.get(env_name)):
            return f"no {placeholder} (set {env_name} or extra {placeholder!r} on connection {provider.connection_id})"
    return None


def resolve_endpoint(
    provider: Provider, connection: ConnectionLike | None, env: Mapping[str, str]
) -> Endpoint:
    """Raises MissingCredentials (a skip, not a failure) when there is no list API or a key or path value is absent."""
    reason = skip_reason(provider, connection, env)
    if reason is not None:
        raise MissingCredentials(provider.slug, reason)
    spec = provider.list_api

    from_connection = connection_base_url(connection) if connection is not None else None
    override = env.get(BASE_URL_OVERRIDE_ENV, "").strip()
    if from_connection:
        base_url, source = from_connection, f"connection {provider.connection_id}"
    elif override:
        base_url = override.format(slug=provider.slug).rstrip("/") + urlsplit(spec.base_url).path.rstrip("/")
        source = BASE_URL_OVERRIDE_ENV
    else:
        base_url, source = spec.base_url, "registry"

    key = configured_key(provider, connection, env)
    extra = connection.extra_dejson if connection is not None else {}
    path_values = {placeholder: str(extra.get(placeholder) or env.get(env_name))
                   for placeholder, env_name in spec.path_params.items()}

    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InsecureEndpoint(provider.slug, f"base URL for {provider.slug} is not an http(s) URL: {base_url!r}")
    if parts.scheme == "http" and key is not None and not _is_loopback(parts.hostname):
        raise InsecureEndpoint(
            provider.slug, f"refusing to send the {provider.slug} key over plain http to {parts.netloc}"
        )
    return Endpoint(
        slug=provider.slug,
        base_url=base_url,
        key=key,
        allowed_hosts=frozenset({parts.netloc.lower()}),
        path_values=path_values,
        source=source,
    )
