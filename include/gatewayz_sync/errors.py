"""Why a provider's sync did not succeed, in words an operator can act on; each names the provider.

`retryable` says whether another attempt could help (an outage may pass; a bad key or a pagination loop will
not), so the task layer can fail fast instead of burning retries. `retry_now` says whether that attempt should
come within the same request, seconds later, or only as the task's own retry, minutes later.
"""

from __future__ import annotations

from .untrusted import escape_controls


class ProviderSyncError(Exception):
    """Its message may quote the provider, so control characters are escaped once, here, for every reader."""

    retryable = True
    retry_now = True

    def __init__(self, slug: str, message: str):
        super().__init__(escape_controls(message))
        self.slug = slug


class ProviderSkipped(ProviderSyncError):
    """Not a failure: the provider cannot or should not be synced now (no key, no list API, disabled)."""

    retryable = False

    def __init__(self, slug: str, reason: str):
        super().__init__(slug, reason)
        self.reason = reason


class MissingCredentials(ProviderSkipped):
    """No key (or account id) in the connection or the env var: the provider is skipped with the reason."""


class AuthenticationFailed(ProviderSyncError):
    retryable = False


class ProviderHttpError(ProviderSyncError):
    def __init__(self, slug: str, message: str, status: int):
        super().__init__(slug, message)
        self.status = status
        self.retryable = status >= 500 or status == 429


class ProviderUnreachable(ProviderSyncError):
    """Connection refused, DNS failure or a connection broken mid-response."""


class ResolverFailure(ProviderUnreachable):
    """The resolver could not answer for now: it has already retried by its own settings, so the request is not
    retried again; the task's retry, minutes later, may find the resolver back."""

    retry_now = False


class UnresolvableHost(ResolverFailure):
    """The host name does not exist for the resolver: no network, or a wrong host. Another attempt gets the same
    answer, so neither the request nor the task is retried."""

    retryable = False


class ProviderTimeout(ProviderSyncError):
    """No connection, or no answer, within the configured timeouts."""


class ProviderReadTimeout(ProviderTimeout):
    """Connected, then no answer within the read timeout: another attempt would only hang a worker again."""

    retryable = False


class InvalidJson(ProviderSyncError):
    """A 2xx body that is not JSON: cut off, an HTML error page, plain text."""


class UnexpectedShape(ProviderSyncError):
    """Valid JSON without a list of models where the spec's records path says it is."""


class PaginationLoop(ProviderSyncError):
    retryable = False


class ForeignHost(ProviderSyncError):
    retryable = False


class ResponseTooLarge(ProviderSyncError):
    retryable = False


class InsecureEndpoint(ProviderSyncError):
    retryable = False


class SuspiciousShrink(ProviderSyncError):
    def __init__(self, slug: str, got: int, active: int):
        super().__init__(
            slug,
            f"suspicious shrink: got {got} of {active} active models from {slug}; nothing was deactivated "
            "(re-run with conf allow_shrink=true if the provider really removed them)",
        )
        self.got = got
        self.active = active


class SuspiciousFieldLoss(ProviderSyncError):
    """A listing would take fields away from a large share of the models that had them (a renamed price object,
    a moved limit): nothing of the provider is written."""

    def __init__(self, slug: str, losses: list[str]):
        super().__init__(
            slug,
            f"suspicious field loss: the listing from {slug} would remove {'; '.join(losses)}; nothing was written "
            "(re-run with conf allow_field_loss=true if the provider really dropped them)",
        )


class CatalogUnavailable(ProviderSyncError):
    """The catalog database failed mid-sync; the provider's transaction rolled back and a retry can succeed."""
