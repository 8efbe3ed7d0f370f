"""The one place where domain errors become gRPC status codes with rich details."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from matcher.errors import (
    Abandoned,
    FailedPrecondition,
    FeedRejected,
    InvalidArgument,
    NotFound,
    Unavailable,
    UpdateConflict,
)

log = logging.getLogger("matcher.rpc")
Handler = TypeVar("Handler", bound=Callable[..., Any])
#: Statuses travel in trailers, which clients cap (8 KiB by default) and which may quote what
#: the caller sent; each text is clipped so a huge bad value still gets its INVALID_ARGUMENT.
MAX_TEXT = 300
#: Violations a refused feed carries in its status: with clipped texts, well inside the cap.
MAX_FEED_VIOLATIONS = 10


def clip(text: str) -> str:
    """Text short enough for a status trailer."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def rich(code: int, message: str, *details: Message) -> status_pb2.Status:
    """A status with a clipped message and its details packed, as every mapping below builds."""
    packed = []
    for detail in details:
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
    )


def not_found(error: NotFound) -> status_pb2.Status:
    """NOT_FOUND carrying a google.rpc.ResourceInfo."""
    info = error_details_pb2.ResourceInfo(
        resource_type=error.kind, resource_name=clip(error.key), description=clip(str(error))
    )
    return rich(code_pb2.NOT_FOUND, str(error), info)


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
    )


def abort(context: grpc.ServicerContext, status: status_pb2.Status) -> NoReturn:
    """Ends the call with a rich status."""
    context.abort_with_status(rpc_status.to_status(status))
    raise AssertionError("abort_with_status returns only by raising")  # pragma: no cover


def translated(handler: Handler) -> Handler:
    """Wraps an RPC handler so domain errors reach the caller as their status codes.

    Anything unexpected becomes INTERNAL with no detail for the caller; the log keeps the
    traceback (and no request values).
    """

    @functools.wraps(handler)
    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return handler(self, request, context)
        except InvalidArgument as exc:
            abort(context, bad_request(exc))
        except NotFound as exc:
            abort(context, not_found(exc))
        except FeedRejected as exc:
            abort(context, refused(exc))
        except FailedPrecondition as exc:
            abort(context, rich(code_pb2.FAILED_PRECONDITION, str(exc)))
        except UpdateConflict as exc:
            abort(context, rich(code_pb2.ALREADY_EXISTS, str(exc)))
        except Unavailable as exc:
            abort(context, rich(code_pb2.UNAVAILABLE, str(exc)))
        except Abandoned as exc:  # nobody is listening; the status is for the access log
            abort(context, rich(code_pb2.CANCELLED, str(exc)))
        except Exception:
            if context.code() is not None:  # type: ignore[attr-defined]  # aborted on purpose
                raise
            log.exception("unexpected error in %s", handler.__name__)
            abort(context, rich(code_pb2.INTERNAL, "internal error"))

    return wrapper  # type: ignore[return-value]
