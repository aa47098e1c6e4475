"""A model's lifecycle dates: which declared dates are real, which date a model retires on, when to warn.

- A deprecation or shutdown date more than `PLACEHOLDER_AFTER_YEARS` years after the catalog's now (`clock.py`)
  is a placeholder that means "no date": OpenRouter lists 2098-12-31 as the expiry of models that do not expire
  (`z-ai/glm-5-turbo`). No provider announces a shutdown that far ahead; every real one in the recordings is
  within two years. Such a date is dropped where it is read (the normalizer, and any reference that fills dates),
  so the catalog never stores it.
- A model retires on its shutdown date, or on its deprecation date when no shutdown date is known: after a
  deprecation date a provider may stop serving at any time (Mistral's list API gives only `deprecation`, with
  `deprecation_replacement_model`). `RETIRES_AT` is that rule in SQL, for every reader.
- Retirement notices go out `NOTICE_DAYS` before that date, once each (`store/retirements.py`).
- A source that says a model is deprecated without a date (models.dev's `status: deprecated`) gives the date of
  the first document that said so as its deprecation date (`deprecated_by`): the model was deprecated on that
  day at the latest, which is what `deprecated` needs. The date is in the past, so it starts no retirement
  notice; a later document that still says so keeps the earlier date, so a daily fetch moves nothing.
"""

from __future__ import annotations

from datetime import date, datetime

PLACEHOLDER_AFTER_YEARS = 10
NOTICE_DAYS = (90, 30, 7)
RETIRING_WITHIN_DAYS = 30

RETIRES_AT = "COALESCE(m.shutdown_date, m.deprecation_date)"
"""A model's retirement date in SQL, for a `models` (or `models_current`) row aliased `m`."""


def is_placeholder(when: datetime, now: datetime) -> bool:
    """True for a date so far after `now` that it stands for "never"."""
    try:
        horizon = now.replace(year=now.year + PLACEHOLDER_AFTER_YEARS)
    except ValueError:  # 29 February
        horizon = now.replace(year=now.year + PLACEHOLDER_AFTER_YEARS, day=28)
    return when > horizon


def declared(when: datetime | None, now: datetime) -> datetime | None:
    """The date, or None when there is none or it is a placeholder."""
    return None if when is None or is_placeholder(when, now) else when


def notice_stage(days_left: float) -> int | None:
    """Which notice is due with `days_left` days to go: the smallest of `NOTICE_DAYS` at or above it, else None.

    A model first seen 20 days before its date gets the 30-day notice only, then the 7-day one."""
    if days_left <= 0:
        return None
    due = [days for days in NOTICE_DAYS if days_left <= days]
    return min(due) if due else None


def deprecated_by(first_said: date | None, document_date: date | None, today: date) -> date:
    """The deprecation date of a model a source calls deprecated without a date: the earliest day a document said
    so (`first_said`, from an earlier refresh), else this document's date, never after today."""
    return min(day for day in (first_said, document_date, today) if day is not None)
