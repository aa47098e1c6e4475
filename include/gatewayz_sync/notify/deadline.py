"""The model sync's Deadline Alert: a run still unfinished N minutes after it was queued tells `gatewayz_alerts`.

Airflow's triggerer runs the callback (Deadline Alerts are experimental in Airflow 3.3), so the notifier is a
`BaseNotifier` with `async_notify`, importable from this package, and it returns None: in 3.3.2 a callback
that returns anything but a string kills the triggerer when it stores the result, and again on restart.
It never raises either; a failed send is a warning in the triggerer's log. Its context holds the run as the
REST API shows it (`dag_run`) and the deadline (`deadline`), no task instance.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import AsyncCallback, BaseNotifier, DeadlineAlert, DeadlineReference

from ..config import ALERTS_CONN_ID, AlertSettings, model_sync_deadline_minutes

log = logging.getLogger(__name__)


class DeadlineMissedNotifier(BaseNotifier):
    """Tells the alert connection that a model-sync run is past its deadline."""

    def __init__(self, *, deadline_minutes: float, context=None):
        super().__init__(context=context)
        self.deadline_minutes = deadline_minutes

    async def async_notify(self, context) -> None:
        from airflow.configuration import conf
        from airflow.providers.common.compat.connection import get_async_connection

        from .messages import RunRef, deadline_alert
        from .send import send_alert_async

        dag_run = dict((context or {}).get("dag_run") or {})
        deadline = dict((context or {}).get("deadline") or {})
        try:
            run = RunRef.of(conf.get("api", "base_url", fallback="http://localhost:8080"),
                            dag_run.get("dag_id") or "gatewayz_sync_models", dag_run.get("dag_run_id") or "unknown")
            alert = deadline_alert(run, self.deadline_minutes, dag_run.get("queued_at"),
                                   deadline.get("deadline_time"), dag_run.get("state"))
            try:
                connection = await get_async_connection(ALERTS_CONN_ID)
            except Exception as error:
                log.info("No connection %s (%s): deadline alert %r not sent", ALERTS_CONN_ID, error, alert.title)
                return None
            await send_alert_async(connection, alert, AlertSettings.from_env().send_timeout_seconds)
        except Exception:
            log.exception("The deadline alert for %s could not be sent", dag_run.get("dag_run_id"))
        return None


def model_sync_deadline() -> DeadlineAlert | None:
    """The DAG's `deadline`, from MODEL_SYNC_DEADLINE_MINUTES (0 turns it off); read when the DAG is parsed."""
    minutes = model_sync_deadline_minutes()
    if not minutes:
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=minutes),
        callback=AsyncCallback(DeadlineMissedNotifier, kwargs={"deadline_minutes": minutes}),
    )
