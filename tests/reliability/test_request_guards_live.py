"""The plugin app's request guards on a real deployment (api-server with the plugin, scheduler, dag-processor,
LocalExecutor, PostgreSQL metadata), driven as a browser and a script would: the UI's session cookie (the JWT from
`/auth/token` in `_token`) from another origin cannot trigger or lift a pause; from the deployment's own origin it
can; a bearer token is not checked; a query string and a body that disagree create no run; the pages answer bad
query strings with a 400 page."""

from __future__ import annotations

import secrets
import time

import pytest
import requests

from include.gatewayz_sync.dev.local import catalog_connection_json
from tests.cluster import AirflowCluster, free_port
from tests.conftest import PG_ADMIN_DSN, PG_USER, SESSION_DIR, admin_connection, scratch_database
from tests.e2e.test_operations import browser  # noqa: F401
from tests.loopback import serve_document

pytestmark = pytest.mark.slow

MODEL_DAG = "gatewayz_sync_models"
PROVIDER_DAG = "gatewayz_sync_providers"
PLUGIN = "/admin/model-sync"


@pytest.fixture(scope="module")
def deployment(e2e_replay):
    from include.gatewayz_sync.store import schema

    with scratch_database("gatewayz_guards_catalog") as catalog_db:
        import psycopg

        schema.migrate(lambda: psycopg.connect(PG_ADMIN_DSN, dbname=catalog_db))
        env = {
            "AIRFLOW_CONN_GATEWAYZ_DB": catalog_connection_json(PG_ADMIN_DSN, catalog_db),
            "GATEWAYZ_BASE_URL_OVERRIDE": e2e_replay.base_url_override,
            "GATEWAYZ_TASK_RETRIES": "0",
        }
        cluster = AirflowCluster(SESSION_DIR / f"guards-{secrets.token_hex(2)}", admin_connection, PG_USER, env,
                                 executor="LocalExecutor")
        try:
            cluster.start()
            cluster.access_token = cluster.token()
            _set_paused(cluster, PROVIDER_DAG, False)
            assert _wait(cluster, _trigger(cluster, PROVIDER_DAG), PROVIDER_DAG) == "success"
            yield cluster
        finally:
            cluster.stop()


def _bearer(cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.access_token}"}


def _cookie(cluster, **headers: str) -> dict[str, str]:
    """What the browser sends with the UI's session: the same JWT, as the `_token` cookie, and no bearer header."""
    return {"Cookie": f"_token={cluster.access_token}", **headers}


def _set_paused(cluster, dag_id: str, paused: bool) -> None:
    requests.patch(f"{cluster.url}/api/v2/dags/{dag_id}", headers=_bearer(cluster), json={"is_paused": paused},
                   timeout=60).raise_for_status()


def _paused(cluster) -> bool:
    return requests.get(f"{cluster.url}/api/v2/dags/{MODEL_DAG}", headers=_bearer(cluster), timeout=60).json()["is_paused"]


def _runs(cluster) -> int:
    return requests.get(f"{cluster.url}/api/v2/dags/{MODEL_DAG}/dagRuns", headers=_bearer(cluster),
                        timeout=60).json()["total_entries"]


def _trigger(cluster, dag_id: str) -> str:
    created = requests.post(f"{cluster.url}/api/v2/dags/{dag_id}/dagRuns", headers=_bearer(cluster),
                            json={"logical_date": None}, timeout=60)
    created.raise_for_status()
    return created.json()["dag_run_id"]


def _wait(cluster, run_id: str, dag_id: str = MODEL_DAG, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = requests.get(f"{cluster.url}/api/v2/dags/{dag_id}/dagRuns/{run_id}", headers=_bearer(cluster),
                             timeout=60).json()["state"]
        if state in ("success", "failed"):
            return state
        time.sleep(1)
    raise TimeoutError(f"{dag_id} {run_id} did not finish within {timeout} s")


def _post(cluster, path: str, headers: dict[str, str], **kwargs) -> requests.Response:
    return requests.post(f"{cluster.url}{PLUGIN}{path}", headers=headers, timeout=60, **kwargs)


def test_the_session_cookie_from_another_origin_neither_triggers_nor_unpauses(deployment):
    cluster = deployment
    _set_paused(cluster, MODEL_DAG, True)
    before = _runs(cluster)
    other_port = f"http://127.0.0.1:{free_port()}"
    for headers in ({"Origin": other_port}, {"Origin": "http://evil.example"}, {"Referer": f"{other_port}/x.html"},
                    {"Origin": "null"}, {}):
        refused = _post(cluster, "/provider/groq", _cookie(cluster, **headers), params={"dry_run": "true", "unpause": "true"})
        assert refused.status_code == 403, (headers, refused.text)
        reason = refused.json()["detail"]
        assert ("is not this deployment" in reason or "must carry an Origin or Referer" in reason) and "\n" not in reason
    assert _paused(cluster) and _runs(cluster) == before, "nothing unpaused, no run created"


def test_the_session_cookie_from_the_deployments_own_origin_triggers(deployment):
    cluster = deployment
    _set_paused(cluster, MODEL_DAG, True)
    allowed = _post(cluster, "/provider/groq", _cookie(cluster, Origin=cluster.url),
                    params={"dry_run": "true", "unpause": "true"})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["unpaused"] is True and allowed.json()["conf"]["dry_run"] is True
    assert _wait(cluster, allowed.json()["dag_run_id"]) == "success"

    port = cluster.url.rsplit(":", 1)[1]
    by_name = _post(cluster, "/provider/groq", _cookie(cluster, Origin=f"http://localhost:{port}",
                                                       Host=f"localhost:{port}"), params={"dry_run": "true"})
    assert by_name.status_code == 200, "the origin the browser used (Host) counts as the deployment's own"
    assert _wait(cluster, by_name.json()["dag_run_id"]) == "success"


def test_a_bearer_token_is_not_subject_to_the_origin_check(deployment):
    cluster = deployment
    response = _post(cluster, "/provider/groq", {**_bearer(cluster), "Origin": "http://evil.example"},
                     params={"dry_run": "true"})
    assert response.status_code == 200, response.text
    assert _wait(cluster, response.json()["dag_run_id"]) == "success"


def test_a_query_string_and_a_body_that_disagree_create_no_run(deployment):
    cluster = deployment
    _set_paused(cluster, MODEL_DAG, False)
    before = _runs(cluster)
    refused = _post(cluster, "/provider/openrouter", _bearer(cluster), params={"dry_run": "true"}, json={"dry_run": False})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith("dry_run differs: 'true' in the query string, false in the JSON body")
    assert _runs(cluster) == before

    agreed = _post(cluster, "/provider/groq", _bearer(cluster), params={"dry_run": "true"}, json={"dry_run": True})
    assert agreed.status_code == 200 and agreed.json()["conf"]["dry_run"] is True, agreed.text
    assert _wait(cluster, agreed.json()["dag_run_id"]) == "success"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/models?q=a%00b", "query parameter &#39;q&#39; contains a NUL byte"),
        ("/models?page=99999999999999999999", "page must be a whole number from 1 to 1,000,000"),
        ("/models?page=100000", "page 100000 is past the last page ("),
        ("/models?include_removed=maybe", "include_removed must be true, false, 1 or 0; got &#39;maybe&#39;"),
        ("/models?sort=price&colour=red", "unknown query parameter(s) &#39;colour&#39;"),
        ("/page?refresh=1", "unknown query parameter(s) &#39;refresh&#39;; this endpoint accepts: none"),
    ],
)
def test_the_pages_answer_a_bad_query_string_with_a_400_page(deployment, path, reason):
    cluster = deployment
    response = requests.get(f"{cluster.url}{PLUGIN}{path}", headers=_cookie(cluster), timeout=60)
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>400 Bad Request</h1>" in response.text and reason in response.text, response.text
    assert f'<a href="{PLUGIN}/page">' in response.text, "the way back is under the plugin's mount point"
    assert "Traceback" not in response.text and "psycopg" not in response.text


def test_the_api_answers_a_bad_query_string_with_a_400(deployment):
    cluster = deployment
    for path in ("/status?provider=a%00b", "/changes?kind=added&colour=red", "/prices?status=held&x=1"):
        response = requests.get(f"{cluster.url}{PLUGIN}{path}", headers=_bearer(cluster), timeout=60)
        assert response.status_code == 400, (path, response.text[:300])
        assert list(response.json()) == ["detail"]


ATTACK_PAGE = """<!doctype html><html><body>
<form id="attack" method="post" action="{target}?dry_run=true&amp;unpause=true"></form>
<script>
window.noCorsFetch = () => fetch("{target}?unpause=true", {{method: "POST", mode: "no-cors", credentials: "include"}});
</script></body></html>"""


def attacker_site(target: str):
    """Another site on this machine (another port of 127.0.0.1, so the same *site* for SameSite=Lax cookies)."""
    page = ATTACK_PAGE.format(target=target).encode()
    return serve_document(lambda: page, "text/html")


def test_in_chromium_a_page_on_another_port_cannot_use_the_session(deployment, browser):  # noqa: F811
    """The issue's attack in a real browser: the UI cookie (SameSite=Lax, as Airflow sets it) rides along from a
    page on another port of the same host; the guard refuses it. The deployment's own page, fetching with no
    Referer at all, still triggers: Chromium sends Origin on every POST, which is why a cookie POST without one is
    refused rather than let through."""
    cluster = deployment
    _set_paused(cluster, MODEL_DAG, True)
    before = _runs(cluster)
    browser.get(f"{cluster.url}/api/v2/version")
    browser.add_cookie({"name": "_token", "value": cluster.access_token, "path": "/", "sameSite": "Lax",
                        "httpOnly": True})
    target = f"{cluster.url}{PLUGIN}/provider/groq"
    with attacker_site(target) as attacker:
        browser.get(f"{attacker}/")
        browser.set_script_timeout(30)
        browser.execute_async_script("window.noCorsFetch().then(() => arguments[0](true), () => arguments[0](false))")
        browser.execute_script("document.getElementById('attack').submit()")
        deadline = time.monotonic() + 30
        while not browser.current_url.startswith(target) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert browser.current_url.startswith(target), browser.current_url
        assert f"Origin '{attacker}' is not this deployment" in browser.page_source, browser.page_source[:500]
    assert _paused(cluster) and _runs(cluster) == before, "the cross-site form and fetch changed nothing"

    browser.get(f"{cluster.url}{PLUGIN}/page")
    status = browser.execute_async_script(
        "fetch(arguments[0], {method: 'POST', credentials: 'same-origin', referrerPolicy: 'no-referrer'})"
        ".then(r => arguments[1](r.status), e => arguments[1](String(e)))",
        f"{target}?dry_run=true&unpause=true",
    )
    assert status == 200, status
    assert not _paused(cluster) and _runs(cluster) == before + 1
