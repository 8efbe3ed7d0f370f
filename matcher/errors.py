"""Typed domain errors; the gRPC shell maps each kind to one status code in one place.

Each error carries an ``error_reason``: a stable UPPER_SNAKE name a client can switch on, sent as
google.rpc.ErrorInfo.reason. README.md lists every one of ``Reason``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal


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
    REQUEST_MALFORMED = "REQUEST_MALFORMED"  # send a well-formed message of the method's type
    METHOD_UNKNOWN = "METHOD_UNKNOWN"  # call a method the server offers (reflection lists them)
    TOKEN_INVALID = "TOKEN_INVALID"  # send a valid bearer token
    SCOPE_MISSING = "SCOPE_MISSING"  # use a token with the scope ErrorInfo names
    TOO_MANY_CALLS = "TOO_MANY_CALLS"  # retry after RetryInfo's delay
    FEED_LOADING = "FEED_LOADING"  # retry after RetryInfo's delay
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"  # retry after RetryInfo's delay
    CALL_ABANDONED = "CALL_ABANDONED"  # none: the caller had already gone
    IP_ADDRESS_NOT_PUBLIC = "IP_ADDRESS_NOT_PUBLIC"  # send the user's public address, not a proxy's
    IP_ADDRESS_NOT_LOCATED = "IP_ADDRESS_NOT_LOCATED"  # ask the user for a point or a country
    GEOIP_NOT_CONFIGURED = "GEOIP_NOT_CONFIGURED"  # start the server with --geoip-db
    GEOIP_DATABASE_REFUSED = "GEOIP_DATABASE_REFUSED"  # put a City or Country MaxMind DB there
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


# GeoIP: no message, repr or chained exception of these holds the address looked up.

#: The special-purpose range a refused address lies in, most specific first.
AddressRange = Literal[
    "unspecified",
    "loopback",
    "link-local",
    "multicast",
    "private",
    "shared",
    "documentation",
    "reserved",
    "special-purpose",
]


class GeoipError(MatcherError):
    """The root of the GeoIP errors; no message of theirs holds the address looked up."""


class MalformedAddress(GeoipError, ValueError):
    """Text that is not one IPv4 or IPv6 address; ``reason`` says why without quoting it."""

    def __init__(self, *, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class NotPublicAddress(GeoipError):
    """An address no host on the public internet has; ``kind`` names its special range."""

    def __init__(self, *, kind: AddressRange) -> None:
        self.kind: AddressRange = kind
        super().__init__(f"is not a public address ({kind})")


class NotInDatabase(GeoipError):
    """A public address the database places in no city and no country (NOT_FOUND).

    Not INVALID_ARGUMENT: the address is well formed and public, and the same call may succeed
    once the database knows it; not FAILED_PRECONDITION: nothing the operator sets changes it.
    """

    error_reason = Reason.IP_ADDRESS_NOT_LOCATED

    def __init__(self) -> None:
        super().__init__(
            "the GeoIP database does not locate this address; send a point, a geohash or a "
            "country_code"
        )


class GeoipDatabaseError(GeoipError):
    """A database file that cannot be opened or read; the file serving before goes on serving."""

    def __init__(self, *, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"GeoIP database {path}: {reason}")


class GeoipNotConfigured(GeoipError, FailedPrecondition):
    """An IP address to locate, or a database to reload, on a server started without one."""

    def __init__(self, *, how: str) -> None:
        self.how = how
        FailedPrecondition.__init__(
            self,
            f"this server has no GeoIP database: start it with {how}",
            reason=Reason.GEOIP_NOT_CONFIGURED,
        )


class GeoipReloadRefused(FailedPrecondition):
    """A GeoIP database file a reload could not open or use; the one before goes on serving."""

    def __init__(self, *, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        self.error_metadata = {"path": path}
        super().__init__(
            f"GeoIP database {path}: {reason}; the database loaded before serves on",
            reason=Reason.GEOIP_DATABASE_REFUSED,
        )
