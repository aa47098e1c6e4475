"""What a provider's HTTP answer means: success, or which error (with the provider's own message, key redacted).

Status classification and error-message parsing live here, apart from the page loop: a 401/403 (or a 400 with
the provider's auth marker) is a bad key, 429 and 5xx may pass (with `Retry-After` honoured), anything else
is a plain HTTP error.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping

from ..errors import AuthenticationFailed, ProviderHttpError
from .paths import read_path

MESSAGE_PATHS = ("error.message", "error", "message", "errors.0.message", "detail", "error.type")
MESSAGE_LIMIT = 300
TEXT_LIMIT = 200


class RetryAfter(ProviderHttpError):
    """A 429 or 5xx: worth another attempt, after `retry_after` seconds when the provider said so."""

    def __init__(self, slug: str, message: str, status: int, retry_after: float | None):
        super().__init__(slug, message, status)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_message(body: bytes | bytearray) -> str:
    """The provider's own words from an error body: a known JSON message field, else the text, shortened."""
    text = bytes(body).decode("utf-8", "replace").strip()
    try:
        document = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:TEXT_LIMIT] or "(empty body)"
    for path in MESSAGE_PATHS:
        value = read_path(document, path)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())[:MESSAGE_LIMIT]
    return " ".join(text.split())[:TEXT_LIMIT]


def check_status(
    slug: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes | bytearray,
    auth_error_markers: tuple[str, ...],
    redact: Callable[[str], str],
) -> None:
    """Return for a 2xx; otherwise raise the error the status means, carrying the provider's message."""
    if 200 <= status < 300:
        return
    message = redact(error_message(body))
    text = bytes(body).decode("utf-8", "replace")
    if status in (401, 403) or (status == 400 and any(marker in text for marker in auth_error_markers)):
        raise AuthenticationFailed(slug, f"authentication failed for {slug}: HTTP {status}: {message}")
    if status == 429:
        raise RetryAfter(slug, f"rate limited by {slug}: HTTP 429: {message}", status,
                         retry_after_seconds(headers.get("Retry-After")))
    if status >= 500:
        raise RetryAfter(slug, f"HTTP {status} from {slug}: {message}", status,
                         retry_after_seconds(headers.get("Retry-After")))
    raise ProviderHttpError(slug, f"HTTP {status} from {slug}: {message}", status)
