"""The words of the alerts: a failed run, a provider failing run after run, deactivated providers, a run past its
deadline. Plain text that every Apprise service can carry, bounded: lists stop after a few entries with "and N
more", errors are cut to one short line, a body never exceeds `MAX_BODY_CHARS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ..store.alerts import FailureStreak
from .send import FAILURE, WARNING, Alert

MAX_LISTED = 10
MAX_ERROR_CHARS = 300
MAX_BODY_CHARS = 3500
MODEL_SYNC = "Model sync"


@dataclass(frozen=True)
class RunRef:
    """The DAG run an alert is about, with its page in the Airflow UI."""

    dag_id: str
    run_id: str
    url: str

    @classmethod
    def of(cls, base_url: str, dag_id: str, run_id: str) -> RunRef:
        return cls(dag_id, run_id, f"{base_url.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id, safe='')}")


def shorten(text: str | None, limit: int = MAX_ERROR_CHARS) -> str:
    """One line of at most `limit` characters."""
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def listed(lines: list[str], total: int | None = None, limit: int = MAX_LISTED) -> list[str]:
    """Bullets for the first `limit` lines, then "…and N more" when `total` says there were more."""
    total = len(lines) if total is None else total
    shown = [f"- {line}" for line in lines[:limit]]
    if total > len(shown):
        shown.append(f"- …and {total - len(shown)} more")
    return shown


def clamp(text: str, limit: int = MAX_BODY_CHARS) -> str:
    """The text cut at a line end so that it fits in `limit` characters, saying that it was cut."""
    if len(text) <= limit:
        return text
    note = "\n…(cut; the run's page has the rest)"
    head = text[: limit - len(note)]
    return head[: head.rfind("\n")] + note if "\n" in head else head + note


def names(slugs: list[str], limit: int = 3) -> str:
    shown = ", ".join(slugs[:limit])
    return shown if len(slugs) <= limit else f"{shown} and {len(slugs) - limit} more"


def _when(value: datetime | str | None) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value or "unknown")


def failed_run_alert(run: RunRef, statuses: Mapping[str, str], errors: Mapping[str, str],
                     streaks: Mapping[str, FailureStreak],
                     field_losses: Mapping[str, list[Mapping[str, Any]]] | None = None) -> Alert:
    """A model-sync run in which providers failed: which, each with its error, and the run's link. A load the
    field-loss guard refused lists every field the listing would have taken away."""
    failed = sorted(slug for slug, status in statuses.items() if status == "failed")
    ok = sum(1 for status in statuses.values() if status in ("success", "dry_run"))
    skipped = sum(1 for status in statuses.values() if status == "skipped")
    lines = []
    for slug in failed:
        streak = streaks.get(slug)
        in_a_row = f" ({streak.runs} failed runs in a row)" if streak and streak.runs > 1 else ""
        lines.append(f"{slug}: {shorten(errors.get(slug) or 'no error recorded')}{in_a_row}")
    refused = []
    for slug, losses in sorted((field_losses or {}).items()):
        refused += [f"{slug}: {loss['field']} on {loss['lost']} of {loss['had']} models "
                    f"(e.g. {', '.join(loss['examples'])})" for loss in losses]
    body = "\n".join([
        f"Run {run.run_id} of {run.dag_id} failed: {len(failed)} provider(s) failed, {ok} ok, {skipped} skipped.",
        "",
        *listed(lines),
        *(["", "Fields the refused listings would have removed (nothing was written):", *listed(refused)]
          if refused else []),
        "",
        f"Run: {run.url}",
    ])
    return Alert(f"{MODEL_SYNC} failed: {names(failed)}", clamp(body), FAILURE)


def unlisted_run_alert(run: RunRef) -> Alert:
    """A model-sync run that failed before any provider was synced: `list_providers` produced no list."""
    body = "\n".join([
        f"Run {run.run_id} of {run.dag_id} failed before any provider was synced: list_providers did not finish "
        "(is the catalog database, connection gatewayz_db, reachable?).",
        "",
        f"Run: {run.url}",
    ])
    return Alert(f"{MODEL_SYNC} failed: could not list providers", body, FAILURE)


def failure_streak_alert(run: RunRef, streaks: list[FailureStreak], threshold: int) -> Alert:
    """Providers whose failed runs in a row just reached `threshold`."""
    streaks = sorted(streaks, key=lambda streak: streak.slug)
    slugs = [streak.slug for streak in streaks]
    lines = [f"{s.slug}: failed the last {s.runs} runs, since {_when(s.since)}; latest error: {shorten(s.last_error)}"
             for s in streaks]
    subject = f"{slugs[0]} has" if len(slugs) == 1 else f"{len(slugs)} providers have"
    body = "\n".join([
        f"{subject} failed {threshold} model-sync runs in a row; the catalog keeps their last good listing.",
        "",
        *listed(lines),
        "",
        f"Latest run: {run.url}",
    ])
    return Alert(f"{MODEL_SYNC}: {names(slugs)} failed {threshold} runs in a row", clamp(body), FAILURE)


def deactivation_alert(run: RunRef, deactivated: list[str], models_deactivated: int) -> Alert:
    """A provider sync that deactivated providers (they left the registry), and with them their models."""
    deactivated = sorted(deactivated)
    body = "\n".join([
        f"The provider sync deactivated {len(deactivated)} provider(s) that left the registry, and "
        f"{models_deactivated} of their active models:",
        "",
        *listed(deactivated),
        "",
        f"Run: {run.url}",
    ])
    return Alert(f"Provider sync deactivated {names(deactivated)}", clamp(body), WARNING)


def deadline_alert(run: RunRef, minutes: float, queued_at: str | None, deadline_time: str | None,
                   state: str | None) -> Alert:
    """A run still unfinished `minutes` after it was queued (a Deadline Alert, sent by the triggerer)."""
    body = "\n".join([
        f"Run {run.run_id} of {run.dag_id} is still {state or 'unfinished'} {minutes:g} minutes after it was "
        f"queued (queued {queued_at or 'unknown'}, deadline {deadline_time or 'unknown'}).",
        "A provider may be hanging, or the run is waiting for a worker or pool slot.",
        "",
        f"Run: {run.url}",
    ])
    return Alert(f"{MODEL_SYNC} past its deadline: {run.run_id}", clamp(body), WARNING)



def publish_failed_alert(run: RunRef, error: str, base_url: str | None, attempts: int) -> Alert:
    """A catalog publish that failed (after its retries): where, why, and the run's link."""
    body = "\n".join([
        f"Run {run.run_id} of {run.dag_id} failed after {attempts} attempt(s): nothing new was published"
        f"{f' at {base_url}' if base_url else ''}; the files there are the last good version.",
        "",
        shorten(error, MAX_BODY_CHARS // 3),
        "",
        f"Run: {run.url}",
    ])
    return Alert("Catalog publish failed", clamp(body), FAILURE)
