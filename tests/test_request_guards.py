"""The plugin app's request guards, in-process with Airflow's real authentication (a JWT from the auth manager, sent
as a bearer header or as the UI's `_token` cookie) and the real catalog database:

- a cookie-authenticated POST from another origin, or from an unnamed one, is a 403; bearer requests are not checked;
- a trigger's option given in the query string and the JSON body with different values is a 422 naming it;
- every GET route refuses an unknown query parameter, a NUL byte and a malformed boolean with a 400, and the browser
  a page past the last; on an HTML page the 400 is an HTML page.

The end-to-end counterpart (a real run created with the cookie from the deployment's own origin) is in
`tests/reliability/test_request_guards_live.py`.
"""

from __future__ import annotations

import asyncio

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

PLUGIN_HOST = "http://testserver"
FOREIGN = "http://localhost:9999"
UNKNOWN_SLUG = "/provider/not-a-provider"


@pytest.fixture(scope="module")
def token(airflow_metadata_db):
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return init_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))


@pytest.fixture(scope="module")
def app():
    from include.gatewayz_sync.web.app import create_app

    return create_app()


@pytest.fixture
def client(app, catalog):
    with TestClient(app, base_url=PLUGIN_HOST) as client:
        yield client


def _cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"_token={token}"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- same origin for cookie-authenticated changes ---------------------------------------------------------------

@pytest.mark.parametrize("path", ["/all", "/all?unpause=true", "/provider/openrouter?dry_run=true&unpause=true"])
@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Origin": FOREIGN}, "cross-site request refused: Origin 'http://localhost:9999' is not this deployment "
                              "(http://testserver)"),
        ({"Origin": "http://testserver.evil.example"}, "is not this deployment"),
        ({"Origin": "https://testserver"}, "is not this deployment"),
        ({"Origin": "null"}, "Origin 'null' is not this deployment"),
        ({"Referer": f"{FOREIGN}/attack.html"}, "Referer 'http://localhost:9999/attack.html' is not this deployment"),
        ({"Origin": FOREIGN, "Referer": f"{PLUGIN_HOST}/admin/model-sync/page"}, "Origin 'http://localhost:9999'"),
        ({}, "a POST with the session cookie must carry an Origin or Referer header"),
    ],
)
def test_a_cookie_post_from_another_or_no_origin_is_a_403(client, token, path, headers, reason):
    refused = client.post(path, headers={**_cookie(token), **headers})
    assert refused.status_code == 403, refused.text
    assert list(refused.json()) == ["detail"] and "\n" not in refused.json()["detail"]
    assert reason in refused.json()["detail"]
    assert refused.json()["detail"].endswith("scripts use a bearer token from /auth/token instead of the session cookie")


@pytest.mark.parametrize(
    "headers",
    [{"Origin": PLUGIN_HOST}, {"Origin": "HTTP://TESTSERVER:80"}, {"Referer": f"{PLUGIN_HOST}/admin/model-sync/page"}],
)
def test_a_cookie_post_from_the_deployments_own_origin_passes(client, token, headers):
    """Past the guard and authentication, the route itself answers: the slug is unknown."""
    passed = client.post(UNKNOWN_SLUG, headers={**_cookie(token), **headers})
    assert passed.status_code == 404 and "unknown provider 'not-a-provider'" in passed.json()["detail"], passed.text


def test_the_configured_base_url_is_the_deployments_origin_too(client, token, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/")
    behind_proxy = client.post(UNKNOWN_SLUG, headers={**_cookie(token), "Origin": "https://airflow.example.com"})
    assert behind_proxy.status_code == 404, behind_proxy.text
    foreign = client.post(UNKNOWN_SLUG, headers={**_cookie(token), "Origin": "https://airflow.example.com:8443"})
    assert foreign.status_code == 403
    assert "(http://testserver, https://airflow.example.com)" in foreign.json()["detail"]


@pytest.mark.parametrize("headers", [{"Origin": FOREIGN}, {"Origin": "null"}, {}])
def test_bearer_requests_are_not_checked_even_with_the_cookie(client, token, headers):
    passed = client.post(UNKNOWN_SLUG, headers={**_bearer(token), **headers})
    assert passed.status_code == 404, passed.text
    with_cookie = client.post(UNKNOWN_SLUG, headers={**_bearer(token), **_cookie(token), **headers})
    assert with_cookie.status_code == 404, "Airflow authenticates by the bearer header then, not by the cookie"


@pytest.mark.parametrize("authorization", ["Bearer", "Basic YWRtaW46YWRtaW4=", "Token abc"])
def test_an_authorization_header_that_is_not_a_bearer_token_does_not_skip_the_check(client, token, authorization):
    """Airflow then authenticates by the cookie, so the cookie's origin rule applies."""
    refused = client.post(UNKNOWN_SLUG, headers={**_cookie(token), "Authorization": authorization, "Origin": FOREIGN})
    assert refused.status_code == 403 and "cross-site request refused" in refused.json()["detail"], refused.text


def test_authentication_still_comes_first(client, token):
    assert client.post("/all", headers={"Origin": FOREIGN}).status_code == 401
    forged = client.post("/all", headers={**_cookie("forged"), "Origin": FOREIGN})
    assert forged.status_code == 403 and forged.json()["detail"] == "Invalid JWT token"


def test_reads_with_the_cookie_are_not_checked(client, token):
    """A GET changes nothing, and a browser sends no Origin on a same-origin navigation."""
    assert client.get("/status", headers={**_cookie(token), "Origin": FOREIGN}).status_code == 200


# --- the query string and the body agree -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("query", "body", "detail"),
    [
        ("dry_run=true", {"dry_run": False},
         "dry_run differs: 'true' in the query string, false in the JSON body; give it in one place, or the same in both"),
        ("unpause=false&dry_run=1", {"dry_run": True, "unpause": True}, "unpause differs: 'false' in the query string"),
        ("dry_run=true&dry_run=false", {}, "dry_run is given more than once in the query string with different values"),
    ],
)
def test_a_key_given_twice_with_different_values_is_a_422_naming_it(client, token, query, body, detail):
    refused = client.post(f"{UNKNOWN_SLUG}?{query}", json=body, headers=_bearer(token))
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith(detail)


@pytest.mark.parametrize(
    ("query", "body"),
    [("dry_run=true", {"dry_run": True}), ("dry_run=1", {"dry_run": True}), ("dry_run=true&dry_run=true", {}),
     ("dry_run=false", {"unpause": True}), ("", {"dry_run": True})],
)
def test_the_same_value_in_both_places_is_fine(client, token, query, body):
    passed = client.post(f"{UNKNOWN_SLUG}?{query}", json=body, headers=_bearer(token))
    assert passed.status_code == 404, passed.text


def test_options_merge_from_both_places():
    from starlette.requests import Request

    from include.gatewayz_sync.web.airflow_api import TriggerOptions, trigger_options

    async def receive():
        return {"type": "http.request", "body": b'{"allow_shrink": true, "dry_run": true}', "more_body": False}

    request = Request({"type": "http", "method": "POST", "path": "/all", "headers": [],
                       "query_string": b"dry_run=true&unpause=1"}, receive)
    options = asyncio.run(trigger_options(request))
    assert options == TriggerOptions(dry_run=True, allow_shrink=True, unpause=True)


# --- strict query strings on every GET ---------------------------------------------------------------------------

GET_ROUTES = {
    "/status": "/status",
    "/health": "/health",
    "/changes": "/changes",
    "/prices": "/prices",
    "/page": "/page",
    "/models": "/models",
    "/models/{model_id}": "/models/1",
    "/export/openrouter/models": "/export/openrouter/models",
    "/export/{export}": "/export/litellm",
    "/prices/as-of": "/prices/as-of?at=2026-11-01T00:00:00Z",
}
HTML_ROUTES = {"/page", "/models", "/models/{model_id}"}


def _with(url: str, extra: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{extra}"


def test_the_cases_below_cover_every_get_route_of_the_app(app):
    routes = {route.path for route in app.routes if isinstance(route, APIRoute) and "GET" in route.methods}
    assert routes == set(GET_ROUTES)


@pytest.mark.parametrize("route", sorted(GET_ROUTES))
@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("surprise=1", "unknown query parameter(s) 'surprise'; this endpoint accepts: "),
        ("limt=5", "unknown query parameter(s) 'limt'"),
        ("q=a%00b", "contains a NUL byte"),
        ("a%00b=1", "query parameter 'a\\x00b' contains a NUL byte"),
    ],
)
def test_every_get_route_refuses_unknown_parameters_and_nul_bytes(client, token, route, extra, reason):
    if extra.startswith("q=") and route == "/models":
        reason = "query parameter 'q' contains a NUL byte"
    response = client.get(_with(GET_ROUTES[route], extra), headers=_bearer(token))
    assert response.status_code == 400, (route, response.status_code, response.text[:300])
    if route in HTML_ROUTES:
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>400 Bad Request</h1>" in response.text and "Traceback" not in response.text
        assert reason.replace("'", "&#39;") in response.text
    else:
        assert reason in response.json()["detail"]


def test_the_accepted_parameters_are_named(client, token):
    detail = client.get("/changes?sinse=2026-01-01", headers=_bearer(token)).json()["detail"]
    assert detail == "unknown query parameter(s) 'sinse'; this endpoint accepts: before_id, kind, limit, provider, since"
    detail = client.get("/health?verbose=1", headers=_bearer(token)).json()["detail"]
    assert detail == "unknown query parameter(s) 'verbose'; this endpoint accepts: none"


def test_declared_parameters_with_a_nul_byte_are_a_400_not_a_database_error(client, token):
    for path in ("/models?q=a%00b", "/models?provider=%00", "/changes?provider=open%00router",
                 "/prices?provider=x%00", "/status?provider=%00", "/prices/as-of?at=2026-11-01&provider=a%00"):
        response = client.get(path, headers=_bearer(token))
        assert response.status_code == 400, (path, response.text[:200])
        assert "contains a NUL byte" in response.text


@pytest.mark.parametrize("value", ["maybe", "yes", "on", "2", "truee", "%00"])
def test_a_boolean_is_true_false_1_or_0(client, token, value):
    response = client.get(f"/models?include_removed={value}", headers=_bearer(token))
    assert response.status_code == 400, response.text[:300]
    assert "Traceback" not in response.text and response.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("value", ["true", "false", "1", "0", "TRUE", ""])
def test_the_documented_boolean_spellings_are_accepted(client, token, value):
    assert client.get(f"/models?include_removed={value}", headers=_bearer(token)).status_code == 200


@pytest.mark.parametrize("page", ["99999999999999999999", "1000001", "0", "-1", "1.5", "²", "1e3"])
def test_an_absurd_page_is_a_400_not_a_clamp(client, token, page):
    response = client.get("/models", params={"page": page}, headers=_bearer(token))
    assert response.status_code == 400, response.text[:300]
    assert "page must be a whole number from 1 to 1,000,000" in response.text


def test_a_page_past_the_last_is_a_400_naming_the_last(catalog, run_dag, replay, client, token):
    assert run_dag("gatewayz_sync_providers").state == "success"
    assert run_dag("gatewayz_sync_models", {"providers": ["openrouter"]}).state == "success"
    total = catalog.execute("SELECT count(*) FROM models_current WHERE is_active").fetchone()[0]
    assert total > 200
    last = -(-total // 100)
    assert client.get(f"/models?per_page=100&page={last}", headers=_bearer(token)).status_code == 200
    beyond = client.get(f"/models?per_page=100&page={last + 1}", headers=_bearer(token))
    assert beyond.status_code == 400
    assert f"page {last + 1} is past the last page ({last}) of these {total} models at 100 per page" in beyond.text
    assert "<h1>400 Bad Request</h1>" in beyond.text
    assert client.get("/models?page=2&provider=openrouter&q=no-such-model", headers=_bearer(token)).status_code == 400
    assert client.get("/models?page=1&q=no-such-model", headers=_bearer(token)).status_code == 200, \
        "an empty listing still has its first page"


def test_html_pages_show_other_errors_as_pages_too(client, token):
    missing = client.get("/models/999999", headers=_bearer(token))
    assert missing.status_code == 404 and "<h1>404 Not Found</h1>" in missing.text
    assert '<a href="/page">' in missing.text, "links back to the app's root (the mount point under Airflow)"
    invalid = client.get("/models/abc", headers=_bearer(token))
    assert invalid.status_code == 422 and "<h1>422 Unprocessable " in invalid.text, invalid.text
    html_prices = client.get("/prices?format=html&status=bogus", headers=_bearer(token))
    assert html_prices.status_code == 422 and html_prices.headers["content-type"].startswith("text/html")
    assert client.get("/prices?status=bogus", headers=_bearer(token)).headers["content-type"] == "application/json"
    escaped = client.get("/models?provider=<script>x</script>", headers=_bearer(token))
    assert escaped.status_code == 400 and "<script>x" not in escaped.text and "&lt;script&gt;x" in escaped.text


def test_the_browsers_own_form_submits_only_declared_parameters(client, token):
    """Every field of the filter form, as a browser submits it (text fields and selects blank, ticked boxes with
    their value), passes the guard."""
    import re

    form = client.get("/models", headers=_bearer(token)).text
    fields = re.findall(r'<(input|select)([^>]*) name="([a-z_]+)"([^>]*)>', form)
    boxes = {(name, re.search(r'value="([^"]*)"', before + after).group(1))
             for _, before, name, after in fields if 'type="checkbox"' in before + after}
    blank = {name for _, before, name, after in fields if 'type="checkbox"' not in before + after}
    assert {"q", "provider", "per_page", "page"} - blank == {"page"} and {name for name, _ in boxes} == {
        "capability", "include_removed"}
    submitted = "&".join([f"{name}=" for name in sorted(blank)] + [f"{name}={value}" for name, value in sorted(boxes)])
    assert client.get(f"/models?{submitted}", headers=_bearer(token)).status_code == 200, submitted
