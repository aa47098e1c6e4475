"""Checks every route of the plugin app runs before its own code, so no route can forget them.

- **Same origin for cookie-authenticated changes.** The UI's session cookie is `SameSite=Lax`, and browsers count
  every port of a host as the same site: a page on `http://localhost:9999` could POST a trigger with the operator's
  cookie. A POST, PUT, PATCH or DELETE that authenticates by that cookie (no `Authorization: Bearer` header, which
  Airflow would prefer) must say where it comes from: its `Origin` (else its `Referer`) must be the deployment's
  own origin, `[api] base_url` or the scheme and `Host` of the request itself. A cookie request with neither
  header is refused too: browsers send `Origin` on every POST, so only a script lacks both, and a script has a
  bearer token to use. Bearer requests are not checked: a browser never attaches one on its own.
- **Strict query strings for reads.** A GET accepts only the query parameters its route declares (FastAPI's own,
  plus the `parameters` a route that reads the raw query string lists in its `openapi_extra`); an unknown name,
  a NUL byte anywhere, or a boolean other than true/false/1/0 is a 400 naming the parameter, never a silently
  ignored filter or a database error.
"""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.security.utils import get_authorization_scheme_param

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
DEFAULT_PORTS = {"http": 80, "https": 443}
BEARER_ONLY = "scripts use a bearer token from /auth/token instead of the session cookie"


def _origin(url: str | None) -> str | None:
    """`scheme://host[:port]`, lowercase, the scheme's default port left out; None for anything else (`null`)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + ("" if port in (None, DEFAULT_PORTS[parts.scheme]) else f":{port}")


def own_origins(request: Request) -> set[str]:
    """The deployment's origins: `[api] base_url` when configured, and the origin this request was sent to."""
    from airflow.configuration import conf

    configured = _origin(conf.get("api", "base_url", fallback=""))
    addressed = _origin(f"{request.url.scheme}://{request.headers.get('host', '')}")
    return {origin for origin in (configured, addressed) if origin}


def _by_bearer(request: Request) -> bool:
    """Whether Airflow authenticates this request by its bearer header (as its `HTTPBearer` reads it), not the cookie."""
    scheme, credentials = get_authorization_scheme_param(request.headers.get("authorization"))
    return scheme.lower() == "bearer" and bool(credentials)


def same_origin(request: Request) -> None:
    """403 for a cookie-authenticated state change from another origin, or from an unnamed one."""
    if request.method not in STATE_CHANGING or _by_bearer(request) or SESSION_COOKIE not in request.cookies:
        return
    header = "Origin" if request.headers.get("origin") is not None else "Referer"
    sent = request.headers.get(header)
    if sent is None:
        raise HTTPException(403, f"cross-site check: a {request.method} with the session cookie must carry an Origin or "
                                 f"Referer header (browsers send one); {BEARER_ONLY}")
    own = own_origins(request)
    if _origin(sent) not in own:
        raise HTTPException(403, f"cross-site request refused: {header} {sent[:200]!r} is not this deployment "
                                 f"({', '.join(sorted(own))}); {BEARER_ONLY}")


def query_parameters(*names: str, booleans: tuple[str, ...] = ()) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its query string itself: the names it accepts, and which are flags."""
    return {"parameters": [
        {"name": name, "in": "query", "schema": {"type": "boolean" if name in booleans else "string"}}
        for name in (*names, *booleans)
    ]}


def _is_boolean(annotation: Any) -> bool:
    if annotation is bool:
        return True
    return get_origin(annotation) in (Union, UnionType) and bool in get_args(annotation)


def declared_query(route) -> dict[str, bool]:
    """The query parameters a route declares, each with whether it is a boolean."""
    declared = {field.alias: _is_boolean(field.field_info.annotation)
                for field in get_flat_dependant(route.dependant).query_params}
    for parameter in (getattr(route, "openapi_extra", None) or {}).get("parameters", ()):
        if parameter.get("in") == "query":
            declared[parameter["name"]] = parameter.get("schema", {}).get("type") == "boolean"
    return declared


def flag(value: str | None, default: bool = False) -> bool:
    """A boolean query value already checked by `strict_query`; blank means the default."""
    return BOOLEANS.get((value or "").strip().lower(), default)


def strict_query(request: Request) -> None:
    """400 for a GET whose query string has a NUL byte, a name its route does not declare, or a bad boolean."""
    if request.method != "GET" or request.scope.get("route") is None:
        return
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise HTTPException(400, f"query parameter {name[:100]!r} contains a NUL byte")
    declared = declared_query(request.scope["route"])
    unknown = sorted(set(request.query_params) - declared.keys())
    if unknown:
        accepted = ", ".join(sorted(declared)) or "none"
        raise HTTPException(400, f"unknown query parameter(s) {', '.join(repr(name[:100]) for name in unknown)}; "
                                 f"this endpoint accepts: {accepted}")
    for name, is_boolean in declared.items():
        for value in request.query_params.getlist(name) if is_boolean else ():
            if value.strip() and value.strip().lower() not in BOOLEANS:
                raise HTTPException(400, f"{name} must be true, false, 1 or 0; got {value[:100]!r}")
