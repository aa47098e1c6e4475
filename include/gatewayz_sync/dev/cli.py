"""`gatewayz`: drive the catalog sync through Airflow's REST API v2 from a terminal.

    gatewayz sync all [--dry-run] [--unpause]   trigger gatewayz_sync_models for every provider and follow it
    gatewayz sync provider SLUG [--dry-run]     one provider
    gatewayz sync providers [--unpause]         the deploy hook: trigger gatewayz_sync_providers; with --unpause,
                                                once it succeeds, every DAG the catalog needs is unpaused too
    gatewayz follow RUN_ID [--dag DAG_ID]       follow a run that is already going
    gatewayz status [--json]                    the status table (from /admin/model-sync/status)
    gatewayz health                             exit 0 when /health answers 200 (fresh, components alive)

A paused DAG stays paused: `sync` refuses it unless --unpause is given. Ctrl-C stops following, never the run.
Text from the server is printed with control characters escaped.

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
from ..sync_plan import SKIPPED_XCOM_KEY
from ..untrusted import escape_controls

MODEL_DAG = "gatewayz_sync_models"
PROVIDER_DAG = "gatewayz_sync_providers"
PRICES_DAG = "gatewayz_sync_prices"
PUBLISH_DAG = "gatewayz_publish_catalog"
# What a deploy unpauses once the providers exist, in this order: the model sync last, since unpausing it starts
# the run its schedule missed, which the price and publish DAGs then follow (their asset).
AFTER_PROVIDERS = (PRICES_DAG, PUBLISH_DAG, MODEL_DAG)
CATALOG_DAGS = (PROVIDER_DAG, *AFTER_PROVIDERS)
TERMINAL_RUN_STATES = {"success", "failed"}
GUARD_OVERRIDES = {
    "allow_shrink": "load a listing that lost a large share of the provider's models (the shrink guard)",
    "allow_field_loss": "load a listing that drops a field from a large share of its models (the content guard)",
    "accept_price_jumps": "apply list-API prices that moved 10x or more instead of holding them as disputed",
}
FINISHED_TASK_STATES = ("success", "failed", "skipped", "upstream_failed", "removed")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def safe(text: Any) -> str:
    """Server text for a terminal: control characters as visible escapes."""
    return escape_controls(str(text))


class CliError(Exception):
    """A refused login or request; printed as one line and exit code 1."""


def unreachable(url: str, error: requests.RequestException) -> CliError:
    """One plain line for a transport failure, instead of urllib3's nested text."""
    text = str(error).lower()
    if isinstance(error, requests.Timeout):
        reason = "no answer in time"
    elif "refused" in text:
        reason = "connection refused"
    elif "name resolution" in text or "name or service not known" in text or "nodename nor servname" in text:
        reason = "unknown host"
    else:
        reason = type(error).__name__
    return CliError(f"cannot reach Airflow at {url} ({reason}); check --url / GATEWAYZ_AIRFLOW_URL")


class AirflowClient:
    def __init__(self, url: str, user: str, password: str, timeout: float = 30):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.timeout = timeout
        response = self.send("POST", "/auth/token", json={"username": user, "password": password})
        if response.status_code >= 300:
            raise CliError(f"could not log in to {self.url} as {user}: HTTP {response.status_code} {response.text[:200]}")
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def send(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            raise unreachable(self.url, error) from None

    def request(self, method: str, path: str, **kwargs) -> Any:
        response = self.send(method, path, **kwargs)
        if response.status_code >= 300:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise CliError(f"{method} {path}: HTTP {response.status_code}: {detail}")
        return response.json() if response.content else None

    def trigger(self, dag_id: str, conf: dict[str, Any], unpause: bool = False) -> str:
        dag = self.request("GET", f"/api/v2/dags/{dag_id}")
        if dag.get("is_paused"):
            if not unpause:
                raise CliError(
                    f"{dag_id} is paused, so no run was created. Unpause it in the Airflow UI or with "
                    f"`airflow dags unpause {dag_id}`, or run this again with --unpause "
                    "(scheduled runs then start again too)"
                )
            self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
            print(f"{dag_id} was paused; unpaused it (--unpause)")
        run = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def unpause(self, dag_ids) -> list[str]:
        """Unpause each of `dag_ids` that is paused, printing its name; returns the names unpaused."""
        unpaused = []
        for dag_id in dag_ids:
            if self.request("GET", f"/api/v2/dags/{dag_id}").get("is_paused"):
                self.request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
                print(f"unpaused {dag_id}", flush=True)
                unpaused.append(dag_id)
        return unpaused

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def list_providers_xcom(self, dag_id: str, run_id: str, key: str) -> Any:
        """One XCom value of the run's list_providers task, or None."""
        try:
            entry = self.request(
                "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/list_providers/xcomEntries/{key}",
            )
        except CliError:
            return None
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return None
        return value

    def provider_labels(self, dag_id: str, run_id: str) -> list[str]:
        """The slugs the run fetches, by map index (list_providers' return value), once it has run."""
        value = self.list_providers_xcom(dag_id, run_id, "return_value")
        return [str(slug) for slug in value] if isinstance(value, list) else []

    def planned_skips(self, dag_id: str, run_id: str) -> dict[str, str]:
        """The providers the run skipped before any task of theirs (they have none): slug -> reason."""
        value = self.list_providers_xcom(dag_id, run_id, SKIPPED_XCOM_KEY)
        return {str(slug): str(reason) for slug, reason in value.items()} if isinstance(value, dict) else {}

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


def _label(ti: dict[str, Any], slugs: list[str]) -> str:
    """A provider task by its slug: from the run's provider list (Airflow shows a running instance's map index
    until the task renders its label)."""
    index = ti.get("map_index", -1)
    if ti["task_id"] != "sync_provider":
        return ti["task_id"]
    if index < len(slugs):
        return slugs[index]
    rendered = ti.get("rendered_map_index")
    return rendered if rendered and rendered != str(index) else f"provider #{index}"


def follow(client: AirflowClient, dag_id: str, run_id: str, timeout: float, poll: float) -> str:
    """Print each task's (each provider's) state changes until the run ends; return the run's final state."""
    print(f"Following {dag_id} run {run_id}")
    seen: dict[tuple[str, int], str] = {}
    slugs: list[str] = []
    skipped: dict[str, str] | None = None
    last_done = -1
    deadline = time.monotonic() + timeout
    state = "queued"
    while time.monotonic() < deadline:
        state = client.run_state(dag_id, run_id)
        instances = client.task_instances(dag_id, run_id)
        # Before list_providers ends, the mapped task is one placeholder instance that stands for no provider.
        mapped = [ti for ti in instances if ti["task_id"] == "sync_provider" and ti.get("map_index", -1) >= 0]
        if not slugs and mapped:
            slugs = client.provider_labels(dag_id, run_id)
        for ti in sorted(instances, key=lambda t: (t["task_id"] != "list_providers", t.get("map_index", -1))):
            if ti["task_id"] == "sync_provider" and ti.get("map_index", -1) < 0:
                continue
            key = (ti["task_id"], ti.get("map_index", -1))
            ti_state = ti.get("state") or "queued"
            if seen.get(key) == ti_state:
                continue
            seen[key] = ti_state
            label = _label(ti, slugs)
            line = f"  {safe(label):<24} {ti_state}"
            if ti["task_id"] == "sync_provider" and ti_state == "failed":
                error = client.provider_error(label, run_id)
                line += f": {safe(error)}" if error else ""
            print(line, flush=True)
            if ti["task_id"] == "list_providers" and ti_state == "success" and skipped is None:
                skipped = client.planned_skips(dag_id, run_id)
                for slug, reason in skipped.items():
                    print(f"  {safe(slug):<24} skipped: {safe(reason)}", flush=True)
        expanding = any(ti["task_id"] == "sync_provider" and ti.get("map_index", -1) < 0
                        and ti.get("state") not in FINISHED_TASK_STATES for ti in instances)
        planned = len(skipped or {})
        done = planned + sum(1 for ti in mapped if ti.get("state") in FINISHED_TASK_STATES)
        if (mapped or planned) and not expanding and done != last_done:
            running = [_label(ti, slugs) for ti in mapped if ti.get("state") == "running"]
            suffix = f"; running: {safe(', '.join(running))}" if running else ""
            print(f"  [{done}/{len(mapped) + planned} providers done{suffix}]", flush=True)
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
        error = safe(attempt.get("error") or p.get("disabled_reason") or "")[:90]
        print(
            f"{safe(p['state']):<9} {safe(p['slug']):<22} {p['active_models']:>7} {p['inactive_models']:>8} "
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
    sync.add_argument("--unpause", action="store_true", help="unpause the DAG if it is paused (it stays unpaused)")
    sync.add_argument("--no-follow", action="store_true")
    for flag, what in GUARD_OVERRIDES.items():
        sync.add_argument(f"--{flag.replace('_', '-')}", dest=flag, action="store_true", help=what)
    follow_run = commands.add_parser("follow", help="follow a run that is already going")
    follow_run.add_argument("run_id")
    follow_run.add_argument("--dag", default=MODEL_DAG, choices=[MODEL_DAG, PROVIDER_DAG])
    for command in (sync, follow_run):
        command.add_argument("--timeout", type=float, default=3600)
        command.add_argument("--poll", type=float, default=2)
    status = commands.add_parser("status", help="per-provider status")
    status.add_argument("--json", action="store_true")
    commands.add_parser("health", help="exit 0 when /health answers 200 (fresh, every component alive), else 1")
    return parser.parse_args(argv)


def _sync_conf(args: argparse.Namespace) -> dict[str, Any] | None:
    """The run conf for `sync`, or None after printing why the arguments are wrong."""
    overrides = {flag: True for flag in GUARD_OVERRIDES if getattr(args, flag)}
    if args.target == "providers":
        if overrides:
            print("--allow-shrink, --allow-field-loss and --accept-price-jumps apply to model syncs", file=sys.stderr)
            return None
        return {}
    if args.target == "all":
        return {"providers": [], "dry_run": args.dry_run, **overrides}
    if not args.slug:
        print("usage: gatewayz sync provider SLUG", file=sys.stderr)
        return None
    if args.slug not in GATEWAY_REGISTRY:
        print(f"unknown provider {args.slug!r}. Valid slugs: {', '.join(sorted(GATEWAY_REGISTRY))}", file=sys.stderr)
        return None
    return {"providers": [args.slug], "dry_run": args.dry_run, **overrides}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    conf = _sync_conf(args) if args.command == "sync" else {}
    if conf is None:
        return EXIT_USAGE
    if not args.password:
        print("no password: pass --password or set GATEWAYZ_AIRFLOW_PASSWORD", file=sys.stderr)
        return EXIT_USAGE
    dag_id, run_id = None, None
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
            response = client.send("GET", "/admin/model-sync/health")
            print(json.dumps(response.json(), indent=2))
            return EXIT_OK if response.status_code == 200 else EXIT_FAILED
        if args.command == "follow":
            dag_id, run_id = args.dag, args.run_id
        else:
            dag_id = PROVIDER_DAG if args.target == "providers" else MODEL_DAG
            run_id = client.trigger(dag_id, conf, unpause=args.unpause)
            print(f"Triggered {dag_id}: {run_id}")
            if args.no_follow:
                if dag_id == PROVIDER_DAG and args.unpause:
                    print(f"Not unpausing {', '.join(AFTER_PROVIDERS)}: they wait for the provider sync to succeed "
                          "(run this without --no-follow)")
                return EXIT_OK
        state = follow(client, dag_id, run_id, args.timeout, args.poll)
        if state == "success" and dag_id == PROVIDER_DAG and args.unpause:
            client.unpause(AFTER_PROVIDERS)
            print(f"Unpaused: every DAG the catalog needs runs ({', '.join(CATALOG_DAGS)})")
        return EXIT_OK if state == "success" else EXIT_FAILED
    except KeyboardInterrupt:
        if run_id is None:
            print("\ninterrupted", file=sys.stderr)
        else:
            print(f"\nStopped following. Run {run_id} of {dag_id} continues in Airflow; follow it again with:\n"
                  f"  scripts/gatewayz follow {run_id} --dag {dag_id}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CliError as error:
        print(f"error: {safe(error)}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
