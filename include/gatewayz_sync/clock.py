"""The catalog's "now": the wall clock, unless `GATEWAYZ_NOW` pins it.

Whatever compares a declared date with today (a model's lifecycle, the prices a dated source has in force, the
alert window of a shutdown date) reads this one clock, in Python through `now()` and in SQL through
`catalog_now()`, which reads the session setting `gatewayz.now` that `pin_session` sets from the same variable.
Tests pin it so that a shutdown date passing on the calendar cannot change what they count; an operator can
pin it to see the catalog as it will stand on a given day. Timestamps of what happened (a run's start, a
change's detection) stay on the wall clock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime

NOW_ENV = "GATEWAYZ_NOW"
SESSION_SETTING = "gatewayz.now"


def pinned(env: Mapping[str, str] = os.environ) -> datetime | None:
    """The time `GATEWAYZ_NOW` pins (ISO 8601; a naive value is UTC), or None for the wall clock."""
    raw = (env.get(NOW_ENV) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{NOW_ENV} must be an ISO 8601 timestamp, got {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def now(env: Mapping[str, str] = os.environ) -> datetime:
    return pinned(env) or datetime.now(UTC)


def today(env: Mapping[str, str] = os.environ) -> date:
    return now(env).date()


def pin_session(connection, env: Mapping[str, str] = os.environ):
    """Give a catalog connection's session the pinned time (for `catalog_now()`); nothing when unpinned."""
    at = pinned(env)
    if at is not None:
        connection.execute("SELECT set_config(%s, %s, false)", (SESSION_SETTING, at.isoformat()))
    return connection
