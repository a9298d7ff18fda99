"""Registry failures, reported per image. Messages never carry credentials or tokens."""

from __future__ import annotations


class RegistryError(Exception):
    """A registry request failed; `kind` is a stable word for reports and `--json` output."""

    kind = "error"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class NotFound(RegistryError):
    """404: the tag, manifest or blob does not exist (never recorded as a new digest)."""

    kind = "not-found"


class Unauthorized(RegistryError):
    """401/403: missing, wrong or insufficient credentials."""

    kind = "unauthorized"


class RateLimited(RegistryError):
    """429 that did not clear within the retry budget."""

    kind = "rate-limited"


class Unavailable(RegistryError):
    """5xx or connection/timeout errors that persisted through every retry."""

    kind = "unavailable"


class BadResponse(RegistryError):
    """The registry answered, but with something we cannot trust (truncated, non-JSON, wrong digest)."""

    kind = "bad-response"
