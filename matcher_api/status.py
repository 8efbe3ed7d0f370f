"""The one place where domain errors become gRPC status codes with rich details.

Every status this service sends carries a google.rpc.ErrorInfo first: the error's stable
reason (``matcher.errors.Reason``, listed in README.md) in the domain ``matcher.v1``, with
metadata a client may act on. Beside it come the details of its kind: BadRequest,
ResourceInfo, PreconditionFailure, or RetryInfo for RESOURCE_EXHAUSTED and UNAVAILABLE.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from matcher.errors import (
    Abandoned,
    FailedPrecondition,
    FeedRejected,
    GeoipDatabaseError,
    InvalidArgument,
    MatcherError,
    NotFound,
    NotInDatabase,
    Overloaded,
    Reason,
    RetryLater,
    Unavailable,
    UpdateConflict,
)

log = logging.getLogger("matcher.rpc")
Handler = TypeVar("Handler", bound=Callable[..., Any])
#: ErrorInfo.domain of every error: the API's package, so reasons are read as v1's.
DOMAIN = "matcher.v1"
#: Statuses travel in trailers, which clients cap (8 KiB by default) and which may quote what
#: the caller sent; each text is clipped so a huge bad value still gets its INVALID_ARGUMENT.
MAX_TEXT = 300
#: Violations a refused feed carries in its status: with clipped texts, well inside the cap.
MAX_FEED_VIOLATIONS = 10


def clip(text: str) -> str:
    """Text short enough for a status trailer."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def rich(
    code: int,
    message: str,
    *details: Message,
    reason: Reason,
    metadata: Mapping[str, str] | None = None,
) -> status_pb2.Status:
    """A status with a clipped message, its ErrorInfo first, then the details of its kind."""
    info = error_details_pb2.ErrorInfo(
        reason=reason.value,
        domain=DOMAIN,
        metadata={key: clip(value) for key, value in (metadata or {}).items()},
    )
    packed = []
    for detail in (info, *details):
        wrapped = any_pb2.Any()
        wrapped.Pack(detail)
        packed.append(wrapped)
    return status_pb2.Status(code=code, message=clip(message), details=packed)


def bad_request(error: InvalidArgument) -> status_pb2.Status:
    """INVALID_ARGUMENT carrying a google.rpc.BadRequest with one violation per bad field."""
    violations = [
        error_details_pb2.BadRequest.FieldViolation(
            field=clip(v.field), description=clip(v.description)
        )
        for v in error.violations
    ]
    return rich(
        code_pb2.INVALID_ARGUMENT,
        str(error),
        error_details_pb2.BadRequest(field_violations=violations),
        reason=error.error_reason,
        metadata=error.error_metadata,
    )


def not_found(error: NotFound) -> status_pb2.Status:
    """NOT_FOUND carrying a google.rpc.ResourceInfo."""
    info = error_details_pb2.ResourceInfo(
        resource_type=error.kind, resource_name=clip(error.key), description=clip(str(error))
    )
    return rich(code_pb2.NOT_FOUND, str(error), info, reason=error.error_reason)


def refused(error: FeedRejected) -> status_pb2.Status:
    """FAILED_PRECONDITION carrying a google.rpc.PreconditionFailure: one violation a record."""
    violations = [
        error_details_pb2.PreconditionFailure.Violation(
            type="FEED_RECORD",
            subject=clip(f"{e.path}:{e.line}"),
            description=clip(f"{e.field}: {e.reason}"),
        )
        for e in error.errors[:MAX_FEED_VIOLATIONS]
    ]
    return rich(
        code_pb2.FAILED_PRECONDITION,
        error.summary,
        error_details_pb2.PreconditionFailure(violations=violations),
        reason=error.error_reason,
        metadata={"problems": str(len(error.errors))},
    )


def retry_later(error: RetryLater) -> status_pb2.Status:
    """RESOURCE_EXHAUSTED or UNAVAILABLE carrying a google.rpc.RetryInfo with its delay."""
    code = code_pb2.RESOURCE_EXHAUSTED if isinstance(error, Overloaded) else code_pb2.UNAVAILABLE
    delay = duration_pb2.Duration()
    delay.FromTimedelta(error.retry_after)
    return rich(
        code,
        str(error),
        error_details_pb2.RetryInfo(retry_delay=delay),
        reason=error.error_reason,
        metadata=error.error_metadata,
    )


#: The plain kinds: their status code, and their message and ErrorInfo alone.
PLAIN_CODES: dict[type[MatcherError], int] = {
    FailedPrecondition: code_pb2.FAILED_PRECONDITION,
    UpdateConflict: code_pb2.ALREADY_EXISTS,
    NotInDatabase: code_pb2.NOT_FOUND,  # no ResourceInfo: its name would be the address
    Abandoned: code_pb2.CANCELLED,  # nobody is listening; the status is for the access log
}


def status_of(error: MatcherError) -> status_pb2.Status:
    """The status a domain error reaches the caller as; one the shell does not know is a bug."""
    if isinstance(error, InvalidArgument):
        return bad_request(error)
    if isinstance(error, NotFound):
        return not_found(error)
    if isinstance(error, FeedRejected):
        return refused(error)
    if isinstance(error, (Overloaded, Unavailable)):
        return retry_later(error)
    if isinstance(error, GeoipDatabaseError):  # a lookup failed on a corrupt file: the operator's
        log.error("GeoIP lookup failed: %s: %s", error.path, error.reason)  # never the address
        return internal()
    for kind, code in PLAIN_CODES.items():
        if isinstance(error, kind):
            return rich(code, str(error), reason=error.error_reason, metadata=error.error_metadata)
    raise TypeError(f"no status for {type(error).__name__}")


def internal() -> status_pb2.Status:
    """INTERNAL, for a bug: nothing about it but its reason reaches the caller."""
    return rich(code_pb2.INTERNAL, "internal error", reason=Reason.INTERNAL_ERROR)


def unauthenticated() -> status_pb2.Status:
    """UNAUTHENTICATED: no token, or one that is unknown or expired."""
    return rich(
        code_pb2.UNAUTHENTICATED,
        "send a valid token as 'authorization: Bearer <token>'",
        reason=Reason.TOKEN_INVALID,
    )


def permission_denied(*, scope: str) -> status_pb2.Status:
    """PERMISSION_DENIED: a good token whose scopes do not include the one the method needs."""
    return rich(
        code_pb2.PERMISSION_DENIED,
        "this token's scopes do not cover this method",
        reason=Reason.SCOPE_MISSING,
        metadata={"scope": scope},
    )


def overloaded(*, limit: int, retry_after: timedelta) -> status_pb2.Status:
    """RESOURCE_EXHAUSTED for a call beyond the server's concurrency limit."""
    return retry_later(
        Overloaded(f"more than {limit} calls at once; retry later", retry_after=retry_after)
    )


def busy(*, retry_after: timedelta) -> status_pb2.Status:
    """RESOURCE_EXHAUSTED for a call beyond its caller's share or the server's concurrency
    limit (the gate's, matcher_api/interceptors.py)."""
    return retry_later(
        Overloaded(
            "this caller, or the server, has as many calls queued or running as it takes; "
            "retry later",
            retry_after=retry_after,
        )
    )


def throttled(*, retry_after: timedelta) -> status_pb2.Status:
    """RESOURCE_EXHAUSTED for a call from an address that has spent its budget of failed
    authentications: the same as ``busy`` to a client, which can only wait."""
    return retry_later(
        Overloaded(
            "too many failed authentications from this address; retry later",
            retry_after=retry_after,
        )
    )


def shutting_down(*, retry_after: timedelta) -> status_pb2.Status:
    """UNAVAILABLE for a call that arrives while the server drains: retry on another replica."""
    return retry_later(
        Unavailable("the server is shutting down; retry on another", retry_after=retry_after)
    )


def unknown_method(method: str) -> status_pb2.Status:
    """UNIMPLEMENTED for a method the server does not offer (said only to a caller with a
    token, when tokens are required)."""
    return rich(code_pb2.UNIMPLEMENTED, f"no method {method}", reason=Reason.METHOD_UNKNOWN)


def malformed(method: str) -> status_pb2.Status:
    """INVALID_ARGUMENT for bytes that are not a valid request of the method (a message that
    does not parse, a string that is not UTF-8)."""
    return rich(
        code_pb2.INVALID_ARGUMENT,
        f"not a valid request for {method}",
        reason=Reason.REQUEST_MALFORMED,
    )


def abort(context: grpc.ServicerContext, status: status_pb2.Status) -> NoReturn:
    """Ends the call with a rich status."""
    context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status returns only by raising")  # pragma: no cover


def translated(handler: Handler) -> Handler:
    """Wraps an RPC handler so domain errors reach the caller as their status codes.

    Anything unexpected becomes INTERNAL with no detail for the caller but its reason; the log
    keeps the traceback (and no request values).
    """

    @functools.wraps(handler)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return handler(self, request, context)
        except MatcherError as exc:
            try:
                status = status_of(exc)
            except TypeError:
                log.exception("unmapped error in %s", handler.__name__)
                status = internal()
            abort(context, status)
        except Exception:
            if context.code() is not None:  # type: ignore[attr-defined]  # aborted on purpose
                raise
            log.exception("unexpected error in %s", handler.__name__)
            abort(context, internal())

    return wrapper  # type: ignore[return-value]
