"""Delivery through the Apprise connection `gatewayz_alerts`: every URL of its config, with no tag filter.

Alerting is best-effort. A send is bounded by Apprise's own call timeout (a URL that never answers reports
TIMEOUT when it runs out) and its outcome is returned and logged, never raised: a receiver that answers 500
or hangs changes nothing about a sync. The connection's parsing is the Apprise provider's own (`AppriseHook`);
it is used instead of `AppriseHook.notify` because that method discards Apprise's result, so a failed send
would leave no trace of its own in our log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..config import ALERTS_CONN_ID

log = logging.getLogger(__name__)

FAILURE, WARNING, INFO = "failure", "warning", "info"


@dataclass(frozen=True)
class Alert:
    """One message: its title, its plain-text body, and Apprise's notify type (failure, warning or info)."""

    title: str
    body: str
    notify_type: str = INFO


@dataclass(frozen=True)
class Delivery:
    """What happened to one alert: `sent`, `failed` or `timed out`, and a line saying which URLs did what."""

    title: str
    outcome: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "outcome": self.outcome, "detail": self.detail}


def _targets(connection):
    import apprise
    from airflow.providers.apprise.hooks.apprise import AppriseHook

    targets = apprise.Apprise()
    AppriseHook(apprise_conn_id=ALERTS_CONN_ID).set_config_from_conn(conn=connection, apprise_obj=targets)
    return targets


def _delivery(alert: Alert, result) -> Delivery:
    from apprise import AppriseResultStatus

    services = list(result)
    timed_out = sum(1 for service in services if getattr(service, "status", None) == AppriseResultStatus.TIMEOUT)
    failed = sum(1 for service in services if not service) - timed_out
    if result and services:
        return Delivery(alert.title, "sent", f"delivered to {len(services)} URL(s) in {result.elapsed:.1f} s")
    if not services:
        return Delivery(alert.title, "failed", f"no URL to send to ({result.status.name.lower()})")
    outcome = "timed out" if timed_out and not failed else "failed"
    detail = (f"{len(services) - failed - timed_out} of {len(services)} URL(s) delivered, {failed} failed, "
              f"{timed_out} timed out after {result.elapsed:.1f} s")
    return Delivery(alert.title, outcome, detail)


def _log(delivery: Delivery) -> None:
    if delivery.outcome == "sent":
        log.info("Alert %r %s", delivery.title, delivery.detail)
    else:
        log.warning("Alert %r not delivered everywhere (%s); the sync's outcome is unchanged", delivery.title,
                    delivery.detail)


def _refused(alert: Alert, error: Exception) -> Delivery:
    delivery = Delivery(alert.title, "failed", f"{type(error).__name__}: {error}")
    _log(delivery)
    return delivery


def send_alerts(connection, alerts: list[Alert], timeout_seconds: float) -> list[Delivery]:
    """Send each alert to every URL of the connection; each call ends within `timeout_seconds`."""
    deliveries = []
    try:
        targets = _targets(connection)
    except Exception as error:
        return [_refused(alert, error) for alert in alerts]
    for alert in alerts:
        try:
            result = targets.notify(body=alert.body, title=alert.title, notify_type=alert.notify_type,
                                    timeout=timeout_seconds)
        except Exception as error:
            deliveries.append(_refused(alert, error))
            continue
        delivery = _delivery(alert, result)
        _log(delivery)
        deliveries.append(delivery)
    return deliveries


async def send_alert_async(connection, alert: Alert, timeout_seconds: float) -> Delivery:
    """`send_alerts` for one alert on the triggerer's event loop, also bounded by `asyncio.wait_for`."""
    import asyncio

    try:
        targets = _targets(connection)
        result = await asyncio.wait_for(
            targets.async_notify(body=alert.body, title=alert.title, notify_type=alert.notify_type,
                                 timeout=timeout_seconds),
            timeout_seconds + 5,
        )
    except TimeoutError:
        delivery = Delivery(alert.title, "timed out", f"no answer within {timeout_seconds + 5:.0f} s")
        _log(delivery)
        return delivery
    except Exception as error:
        return _refused(alert, error)
    delivery = _delivery(alert, result)
    _log(delivery)
    return delivery
