"""`gatewayz`: drive the catalog sync through Airflow's REST API v2 from a terminal.

    gatewayz sync all [--dry-run]            trigger gatewayz_sync_models for every provider and follow it
    gatewayz sync provider SLUG [--dry-run]  one provider
    gatewayz sync providers                  the deploy hook: trigger gatewayz_sync_providers
    gatewayz status [--json]                 the status table (from /admin/model-sync/status)
    gatewayz health                          exit 0 when every provider with credentials is fresh

Connection: --url / GATEWAYZ_AIRFLOW_URL (http://localhost:8080), --user / GATEWAYZ_AIRFLOW_USER (admin),
--password / GATEWAYZ_AIRFLOW_PASSWORD; a JWT comes from POST /auth/token. Exit code 0 only on success.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import requests

from ..sources.registry import GATEWAY_REGISTRY

MODEL_DAG = "gatewayz_sync_models"
PROVIDER_DAG = "gatewayz_sync_providers"
TERMINAL_RUN_STATES = {"success", "failed"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A refused login or request; printed as one line and exit code 1."""


class AirflowClient:
    def __init__(self, url: str, user: str, password: str, timeout: float = 30):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.timeout = timeout
        response = self.session.post(
            f"{self.url}/auth/token", json={"username": user, "password": password}, timeout=timeout
        )
        if response.status_code >= 300:
            raise CliError(f"could not log in to {self.url} as {user}: HTTP {response.status_code} {response.text[:200]}")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def request(self, method: str, path: str, **kwargs) -> Any:
        response = self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        if response.status_code >= 300:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise CliError(f"{method} {path}: HTTP {response.status_code}: {detail}")
        return response.json() if response.content else None

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        dag = self.request("GET", f"/api/v2/dags/{dag_id}")
        if dag.get("is_paused"):
            self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
            print(f"{dag_id} was paused; unpaused it")
        run = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        document = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        return document["task_instances"]

    def provider_error(self, slug: str, run_id: str) -> str | None:
        try:
            status = self.request("GET", "/admin/model-sync/status", params={"provider": slug})
        except CliError:
            return None
        for provider in status["providers"]:
            attempt = provider.get("last_attempt") or {}
            if attempt.get("dag_run_id") == run_id:
                return attempt.get("error")
        return None


def follow(client: AirflowClient, dag_id: str, run_id: str, timeout: float, poll: float) -> str:
    """Print each task's (each provider's) state changes until the run ends; return the run's final state."""
    print(f"Following {dag_id} run {run_id}")
    seen: dict[tuple[str, int], str] = {}
    last_done = -1
    deadline = time.monotonic() + timeout
    state = "queued"
    while time.monotonic() < deadline:
        state = client.run_state(dag_id, run_id)
        instances = client.task_instances(dag_id, run_id)
        for ti in sorted(instances, key=lambda t: (t["task_id"] != "list_providers", t.get("map_index", -1))):
            key = (ti["task_id"], ti.get("map_index", -1))
            ti_state = ti.get("state") or "queued"
            if seen.get(key) == ti_state:
                continue
            seen[key] = ti_state
            label = ti.get("rendered_map_index") or ti["task_id"]
            line = f"  {label:<24} {ti_state}"
            if ti["task_id"] == "sync_provider" and ti_state == "failed":
                error = client.provider_error(label, run_id)
                line += f": {error}" if error else ""
            print(line, flush=True)
        mapped = [ti for ti in instances if ti["task_id"] == "sync_provider"]
        done = sum(1 for ti in mapped if ti.get("state") in ("success", "failed", "skipped", "upstream_failed"))
        if mapped and done != last_done:
            print(f"  [{done}/{len(mapped)} providers done]", flush=True)
            last_done = done
        if state in TERMINAL_RUN_STATES:
            break
        time.sleep(poll)
    else:
        raise CliError(f"gave up following {run_id} after {timeout:.0f} s (it is still {state})")
    print(f"Run {run_id}: {state}")
    return state


def print_status(document: dict[str, Any]) -> None:
    header = f"{'state':<9} {'provider':<22} {'active':>7} {'inactive':>8} {'last attempt':<27} {'age h':>7}  error"
    print(header)
    print("-" * len(header))
    for p in document["providers"]:
        attempt = p.get("last_attempt") or {}
        finished = attempt.get("finished_at") or ""
        age = "" if p.get("age_hours") is None else f"{p['age_hours']:.1f}"
        error = (attempt.get("error") or p.get("disabled_reason") or "")[:90]
        print(
            f"{p['state']:<9} {p['slug']:<22} {p['active_models']:>7} {p['inactive_models']:>8} "
            f"{(attempt.get('status') or '') + ' ' + finished[:19]:<27} {age:>7}  {error}"
        )
    totals = document["totals"]
    print(
        f"\n{totals['enabled_providers']} enabled providers, {totals['active_models']} active models, "
        f"{totals['inactive_models']} inactive, {totals['changes_last_24h']} changes in 24 h; "
        f"next model sync: {document['next_model_sync'].get('next_run_after') or 'not scheduled'}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gatewayz", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("GATEWAYZ_AIRFLOW_URL", "http://localhost:8080"))
    parser.add_argument("--user", default=os.environ.get("GATEWAYZ_AIRFLOW_USER", "admin"))
    parser.add_argument("--password", default=os.environ.get("GATEWAYZ_AIRFLOW_PASSWORD"))
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="trigger a sync and follow it")
    sync.add_argument("target", choices=["all", "provider", "providers"])
    sync.add_argument("slug", nargs="?")
    sync.add_argument("--dry-run", action="store_true")
    sync.add_argument("--no-follow", action="store_true")
    sync.add_argument("--timeout", type=float, default=3600)
    sync.add_argument("--poll", type=float, default=2)
    status = commands.add_parser("status", help="per-provider status")
    status.add_argument("--json", action="store_true")
    commands.add_parser("health", help="exit 0 when fresh, 1 when stale")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    conf: dict[str, Any] = {}
    if args.command == "sync":
        if args.target == "provider":
            if not args.slug:
                print("usage: gatewayz sync provider SLUG", file=sys.stderr)
                return EXIT_USAGE
            if args.slug not in GATEWAY_REGISTRY:
                print(f"unknown provider {args.slug!r}. Valid slugs: {', '.join(sorted(GATEWAY_REGISTRY))}", file=sys.stderr)
                return EXIT_USAGE
            conf = {"providers": [args.slug], "dry_run": args.dry_run}
        elif args.target == "all":
            conf = {"providers": [], "dry_run": args.dry_run}
    if not args.password:
        print("no password: pass --password or set GATEWAYZ_AIRFLOW_PASSWORD", file=sys.stderr)
        return EXIT_USAGE
    try:
        client = AirflowClient(args.url, args.user, args.password)
        if args.command == "status":
            document = client.request("GET", "/admin/model-sync/status", params={"limit": 1000})
            if args.json:
                print(json.dumps(document, indent=2))
            else:
                print_status(document)
            return EXIT_OK
        if args.command == "health":
            response = client.session.get(f"{client.url}/admin/model-sync/health", timeout=client.timeout)
            print(json.dumps(response.json(), indent=2))
            return EXIT_OK if response.status_code == 200 else EXIT_FAILED
        dag_id = PROVIDER_DAG if args.target == "providers" else MODEL_DAG
        run_id = client.trigger(dag_id, conf)
        print(f"Triggered {dag_id}: {run_id}")
        if args.no_follow:
            return EXIT_OK
        state = follow(client, dag_id, run_id, args.timeout, args.poll)
        return EXIT_OK if state == "success" else EXIT_FAILED
    except (CliError, requests.RequestException) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
