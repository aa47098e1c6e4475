"""Operator-tunable settings, read from the environment at run time (never at DAG-parse time, except the
schedule interval, task retries and concurrency, which Airflow needs when it parses the DAG)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

CATALOG_CONN_ID = "gatewayz_db"
ALERTS_CONN_ID = "gatewayz_alerts"
REFERENCE_MODES = ("fetch", "bundled")


class SettingError(ValueError):
    """An environment setting out of range; the message names the variable."""


def _number(env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name} must be a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingError(f"{name} must be between {minimum} and {maximum}, got {raw!r}")
    return value


def model_sync_interval_hours(env: Mapping[str, str] = os.environ) -> int:
    hours = _number(env, "MODEL_SYNC_INTERVAL_HOURS", 6, 1, 24)
    if hours != int(hours):
        raise SettingError(f"MODEL_SYNC_INTERVAL_HOURS must be a whole number of hours, got {hours}")
    return int(hours)


def model_sync_cron(env: Mapping[str, str] = os.environ) -> str:
    hours = model_sync_interval_hours(env)
    return "0 0 * * *" if hours == 24 else f"0 */{hours} * * *"


def reference_mode(env: Mapping[str, str] = os.environ) -> str:
    """GATEWAYZ_REFERENCE_PRICES: `fetch` each reference source's live document (default) or read the `bundled`
    snapshots without any request (no egress)."""
    mode = (env.get("GATEWAYZ_REFERENCE_PRICES") or "fetch").strip().lower()
    if mode not in REFERENCE_MODES:
        raise SettingError(f"GATEWAYZ_REFERENCE_PRICES must be one of {list(REFERENCE_MODES)}, got {mode!r}")
    return mode


def model_sync_deadline_minutes(env: Mapping[str, str] = os.environ) -> float:
    """Minutes after queueing by which a model-sync run should be done (0: no deadline alert); read at parse time."""
    return _number(env, "MODEL_SYNC_DEADLINE_MINUTES", 60, 0, 7 * 24 * 60)


@dataclass(frozen=True)
class FetchSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    page_deadline: float = 300.0
    max_response_bytes: int = 256 * 1024 * 1024
    max_pages: int = 500
    http_attempts: int = 3
    backoff_seconds: float = 1.0
    max_retry_after: float = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> FetchSettings:
        return cls(
            connect_timeout=_number(env, "GATEWAYZ_HTTP_CONNECT_TIMEOUT", cls.connect_timeout, 0.1, 300),
            read_timeout=_number(env, "GATEWAYZ_HTTP_READ_TIMEOUT", cls.read_timeout, 0.1, 3600),
            page_deadline=_number(env, "GATEWAYZ_HTTP_PAGE_DEADLINE", cls.page_deadline, 1, 7200),
            max_response_bytes=int(
                _number(env, "GATEWAYZ_MAX_RESPONSE_MB", cls.max_response_bytes / 1048576, 0.001, 4096) * 1048576
            ),
            max_pages=int(_number(env, "GATEWAYZ_MAX_PAGES", cls.max_pages, 1, 100_000)),
            http_attempts=int(_number(env, "GATEWAYZ_HTTP_ATTEMPTS", cls.http_attempts, 1, 10)),
            backoff_seconds=_number(env, "GATEWAYZ_HTTP_BACKOFF_SECONDS", cls.backoff_seconds, 0, 60),
            max_retry_after=_number(env, "GATEWAYZ_MAX_RETRY_AFTER", cls.max_retry_after, 0, 3600),
        )


@dataclass(frozen=True)
class SyncSettings:
    miss_threshold: int = 2
    stale_hours: float = 12.0
    shrink_guard_ratio: float = 0.7
    field_loss_ratio: float = 0.3
    field_loss_min_models: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SyncSettings:
        return cls(
            miss_threshold=int(_number(env, "MODEL_MISS_THRESHOLD", cls.miss_threshold, 1, 100)),
            stale_hours=_number(env, "MODEL_SYNC_STALE_HOURS", cls.stale_hours, 0.01, 24 * 365),
            shrink_guard_ratio=_number(env, "MODEL_SHRINK_GUARD_RATIO", cls.shrink_guard_ratio, 0, 1),
            field_loss_ratio=_number(env, "MODEL_FIELD_LOSS_GUARD_RATIO", cls.field_loss_ratio, 0, 1),
            field_loss_min_models=int(
                _number(env, "MODEL_FIELD_LOSS_GUARD_MIN_MODELS", cls.field_loss_min_models, 1, 1_000_000)
            ),
        )


@dataclass(frozen=True)
class AlertSettings:
    """When the alert connection is told something, and how long one send may take."""

    failed_runs: int = 2
    price_move_percent: float = 10.0
    lifecycle_days: int = 30
    send_timeout_seconds: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AlertSettings:
        return cls(
            failed_runs=int(_number(env, "GATEWAYZ_ALERT_FAILED_RUNS", cls.failed_runs, 2, 1000)),
            price_move_percent=_number(env, "GATEWAYZ_ALERT_PRICE_MOVE_PERCENT", cls.price_move_percent, 0, 10_000),
            lifecycle_days=int(_number(env, "GATEWAYZ_ALERT_LIFECYCLE_DAYS", cls.lifecycle_days, 0, 3650)),
            send_timeout_seconds=_number(env, "GATEWAYZ_ALERT_TIMEOUT_SECONDS", cls.send_timeout_seconds, 0.5, 600),
        )


@dataclass(frozen=True)
class TaskRetrySettings:
    """Retries of one provider's task; read when the DAG is parsed because Airflow needs them there."""

    retries: int = 3
    retry_delay_seconds: float = 60.0
    max_retry_delay_seconds: float = 900.0

    def default_args(self) -> dict:
        """The DAGs' default_args: owner and exponential-backoff retries."""
        from datetime import timedelta

        return {
            "owner": "gatewayz",
            "retries": self.retries,
            "retry_delay": timedelta(seconds=self.retry_delay_seconds),
            "retry_exponential_backoff": 2.0,
            "max_retry_delay": timedelta(seconds=self.max_retry_delay_seconds),
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TaskRetrySettings:
        return cls(
            retries=int(_number(env, "GATEWAYZ_TASK_RETRIES", cls.retries, 0, 20)),
            retry_delay_seconds=_number(env, "GATEWAYZ_RETRY_DELAY_SECONDS", cls.retry_delay_seconds, 0, 86400),
            max_retry_delay_seconds=_number(
                env, "GATEWAYZ_MAX_RETRY_DELAY_SECONDS", cls.max_retry_delay_seconds, 0, 86400
            ),
        )


@dataclass(frozen=True)
class ConcurrencySettings:
    """How many providers are fetched at once; read when the DAG is parsed, because Airflow needs them there.

    Nothing has to exist in Airflow's metadata: `max_active_tis_per_dagrun` bounds one run by itself. A pool is
    used only when the operator names one (`GATEWAYZ_HTTP_POOL`), e.g. to share one bound with other DAGs;
    Airflow never fails a task whose pool is missing, so the model sync watches for that itself.
    """

    max_active_providers: int = 8
    pool: str | None = None
    pool_wait_seconds: float = 30.0

    @property
    def task_pool(self) -> str:
        """The pool of the provider tasks: the named one, else Airflow's `default_pool` (it always exists)."""
        return self.pool or "default_pool"

    def pool_command(self) -> str:
        """The command that creates the named pool, quoted in the error a missing pool produces."""
        return f'airflow pools set {self.pool} {self.max_active_providers} "gatewayz model-list requests"'

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ConcurrencySettings:
        pool = env.get("GATEWAYZ_HTTP_POOL", "").strip() or None
        if pool is not None and not all(ch.isalnum() or ch in "_.-" for ch in pool):
            raise SettingError(f"GATEWAYZ_HTTP_POOL must be a pool name (letters, digits, _ . -), got {pool!r}")
        return cls(
            max_active_providers=int(_number(env, "GATEWAYZ_MAX_ACTIVE_PROVIDERS", cls.max_active_providers, 1, 1024)),
            pool=pool,
            pool_wait_seconds=_number(env, "GATEWAYZ_HTTP_POOL_WAIT_SECONDS", cls.pool_wait_seconds, 1, 86400),
        )


PUBLISH_URL_ENV = "GATEWAYZ_PUBLISH_URL"


@dataclass(frozen=True)
class PublishSettings:
    """Where the publish DAG writes the catalog (`GATEWAYZ_PUBLISH_URL`: `file:///srv/catalog`, a plain absolute path,
    `s3://bucket/catalog`, `gs://bucket/catalog`), the Airflow connection for a remote store, and how many versions
    are kept. The URL is also read when the DAG is parsed: the DAG's outlets are Assets named by the published
    files' URIs."""

    base_url: str | None = None
    conn_id: str | None = None
    keep_versions: int = 10

    @property
    def configured(self) -> bool:
        return self.base_url is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> PublishSettings:
        raw = (env.get(PUBLISH_URL_ENV) or "").strip()
        base_url = None
        if raw:
            if raw.startswith("/"):
                raw = f"file://{raw}"
            scheme, sep, rest = raw.partition("://")
            if not sep or not scheme.isidentifier() or not rest.strip("/"):
                raise SettingError(f"{PUBLISH_URL_ENV} must be a URL such as file:///srv/catalog or s3://bucket/catalog "
                                   f"(or an absolute path), got {raw!r}")
            base_url = raw.rstrip("/")
        conn_id = (env.get("GATEWAYZ_PUBLISH_CONN_ID") or "").strip() or None
        return cls(
            base_url=base_url,
            conn_id=conn_id,
            keep_versions=int(_number(env, "GATEWAYZ_PUBLISH_KEEP_VERSIONS", cls.keep_versions, 1, 10_000)),
        )
