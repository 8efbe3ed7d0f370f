"""Typed domain errors; the gRPC shell maps each kind to one status code in one place.

Each error carries an ``error_reason``: a stable UPPER_SNAKE name a client can switch on, sent as
google.rpc.ErrorInfo.reason. README.md lists every one of ``Reason``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta


class Reason(enum.StrEnum):
    """Every reason an error of this service gives, each for one thing a client can do."""

    FIELD_INVALID = "FIELD_INVALID"  # fix the field BadRequest names
    FIELD_REQUIRED = "FIELD_REQUIRED"  # send the field BadRequest names
    LOCATION_TOO_COARSE = "LOCATION_TOO_COARSE"  # ask the user for a point or a geohash
    PAGE_TOKEN_INVALID = "PAGE_TOKEN_INVALID"  # start again without the token
    PAGE_TOKEN_EXPIRED = "PAGE_TOKEN_EXPIRED"  # start again without the token
    SUPPLIER_NOT_FOUND = "SUPPLIER_NOT_FOUND"  # drop the supplier from the screen
    FEED_REJECTED = "FEED_REJECTED"  # fix the feed's records PreconditionFailure names
    UPDATES_DISABLED = "UPDATES_DISABLED"  # start the server with a journal
    UPDATE_ID_REUSED = "UPDATE_ID_REUSED"  # use a new update_id for new content
    TOKEN_INVALID = "TOKEN_INVALID"  # send a valid bearer token
    SCOPE_MISSING = "SCOPE_MISSING"  # use a token with the scope ErrorInfo names
    TOO_MANY_CALLS = "TOO_MANY_CALLS"  # retry after RetryInfo's delay
    FEED_LOADING = "FEED_LOADING"  # retry after RetryInfo's delay
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"  # retry after RetryInfo's delay
    CALL_ABANDONED = "CALL_ABANDONED"  # none: the caller had already gone
    INTERNAL_ERROR = "INTERNAL_ERROR"  # report it: a bug


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request, named as the caller wrote it (e.g. ``location.point.lat``)."""

    field: str
    description: str


class MatcherError(Exception):
    """The root of every error the domain raises on purpose.

    ``error_reason`` is the error's Reason; ``error_metadata`` adds what a client may need to
    act on it (ErrorInfo.metadata), never anything the caller did not send or may not see.
    """

    error_reason: Reason = Reason.INTERNAL_ERROR
    error_metadata: Mapping[str, str] = {}


class InvalidArgument(MatcherError):
    """A request the caller must fix: names each bad field and why."""

    def __init__(
        self,
        *violations: FieldViolation,
        reason: Reason = Reason.FIELD_INVALID,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.violations = violations
        self.error_reason = reason
        self.error_metadata = dict(metadata or {})
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))

    @classmethod
    def of(
        cls,
        field: str,
        description: str,
        *,
        reason: Reason = Reason.FIELD_INVALID,
        metadata: Mapping[str, str] | None = None,
    ) -> InvalidArgument:
        """One violation, the common case."""
        return cls(FieldViolation(field, description), reason=reason, metadata=metadata)


class NotFound(MatcherError):
    """A resource the caller named does not exist."""

    error_reason = Reason.SUPPLIER_NOT_FOUND  # the only kind of resource a caller names

    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class FeedError(MatcherError):
    """A feed record that cannot be accepted, located precisely: file, line, field, reason."""

    def __init__(self, *, path: str, line: int, field: str, reason: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason
        super().__init__(f"{path}:{line}: {field}: {reason}")


class FeedRejected(MatcherError):
    """A feed refused whole; ``errors`` names every bad record, ``summary`` says why in a line."""

    error_reason = Reason.FEED_REJECTED

    def __init__(self, path: str, errors: list[FeedError], *, summary: str = "") -> None:
        self.path = path
        self.errors = errors
        self.summary = summary or f"feed {path} refused: {len(errors)} problem(s)"
        shown = "\n".join(f"  {e}" for e in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{self.summary}\n{shown}{more}")


class FailedPrecondition(MatcherError):
    """A request the service cannot carry out in its current configuration or state."""

    def __init__(self, message: str, *, reason: Reason) -> None:
        self.error_reason = reason
        super().__init__(message)


class UpdateConflict(MatcherError):
    """An update id already used for a different update."""

    error_reason = Reason.UPDATE_ID_REUSED

    def __init__(self, update_id: str) -> None:
        self.update_id = update_id
        super().__init__(f"update {update_id!r} was already used for a different update")


class Abandoned(MatcherError):
    """The caller stopped waiting (deadline passed or call cancelled), so the work stopped too."""

    error_reason = Reason.CALL_ABANDONED


class RetryLater(MatcherError):
    """Work the service cannot take now but could soon: the caller may retry after
    ``retry_after``, which reaches it as a google.rpc.RetryInfo."""

    def __init__(self, message: str, *, retry_after: timedelta, reason: Reason) -> None:
        self.retry_after = retry_after
        self.error_reason = reason
        super().__init__(message)


class Overloaded(RetryLater):
    """The caller asked for more than the service takes at once (RESOURCE_EXHAUSTED)."""

    def __init__(
        self, message: str, *, retry_after: timedelta, reason: Reason = Reason.TOO_MANY_CALLS
    ) -> None:
        super().__init__(message, retry_after=retry_after, reason=reason)


class Unavailable(RetryLater):
    """The service cannot serve for a while, whoever asks (UNAVAILABLE): its feed is still
    loading, say; the caller may retry."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: timedelta = timedelta(seconds=1),
        reason: Reason = Reason.SERVICE_UNAVAILABLE,
    ) -> None:
        super().__init__(message, retry_after=retry_after, reason=reason)
