"""Server interceptors: an access log that holds no personal data, and bearer-token checks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import grpc
from google.rpc import status_pb2

from matcher.auth import Decision, Keyring
from matcher_api import correlation, status

log = logging.getLogger("matcher.access")
#: Services anyone may call: load balancers and orchestrators probe health without a token.
OPEN_SERVICES = frozenset({"grpc.health.v1.Health"})
#: Services whose every method needs the "admin" scope, by the end of their names.
ADMIN_SERVICE_SUFFIXES = ("FeedAdmin", "FeedAdminService")
Behavior = Callable[[Any, grpc.ServicerContext], Any]
if TYPE_CHECKING:  # the stubs' handler type is generic, the runtime class is not
    Continuation = Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler[Any, Any] | None]

#: Each handler kind: the attribute holding its behaviour and the factory that builds one.
_KINDS: dict[tuple[bool, bool], tuple[str, Callable[..., grpc.RpcMethodHandler[Any, Any]]]] = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}


def rewrapped(
    handler: grpc.RpcMethodHandler[Any, Any], wrap: Callable[[Behavior], Behavior]
) -> grpc.RpcMethodHandler[Any, Any]:
    """The same handler, of the same kind and (de)serializers, with its behaviour wrapped.

    A behaviour's own thread pool (grpcio's ``experimental_thread_pool``) stays with it.
    """
    attribute, build = _KINDS[(handler.request_streaming, handler.response_streaming)]
    inner = getattr(handler, attribute)
    outer = wrap(inner)
    pool = getattr(inner, "experimental_thread_pool", None)
    if pool is not None and not hasattr(outer, "experimental_thread_pool"):
        outer.experimental_thread_pool = pool  # type: ignore[attr-defined]
    return build(
        outer,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class AccessLog(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Logs each call as request id, method, status code and duration; echoes the request id.

    Nothing the caller sent, nor its address, is logged: only what this interceptor makes.
    """

    def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """Wraps the method's handler so the call is logged when it ends."""
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.response_streaming:
            return rewrapped(handler, lambda behavior: _logged_stream(behavior, method))
        return rewrapped(handler, lambda behavior: _logged_unary(behavior, method))


def _logged_unary(behavior: Behavior, method: str) -> Behavior:
    """A single-response behaviour that logs its call."""

    def logged(request: Any, context: grpc.ServicerContext) -> Any:
        with _call_logged(method, context):
            return behavior(request, context)

    return logged


def _logged_stream(behavior: Behavior, method: str) -> Behavior:
    """A streaming-response behaviour that logs its call once the stream ends."""

    def logged(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with _call_logged(method, context):
            yield from behavior(request, context)

    return logged


@contextmanager
def _call_logged(method: str, context: grpc.ServicerContext) -> Iterator[None]:
    """Gives the call its ids (correlation.py), sends back ``x-request-id``, logs the outcome."""
    with correlation.call(method, context.invocation_metadata()) as call:
        context.send_initial_metadata((("x-request-id", call.correlation.request_id),))
        started = time.perf_counter()
        failed = True
        try:
            yield
            failed = False
        finally:
            code = _outcome(context, failed=failed)
            call.ended(code)
            fields = {
                **call.correlation.fields(),
                "method": method,
                "code": code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            }
            log.info("rpc", extra=fields)


def _outcome(context: grpc.ServicerContext, *, failed: bool) -> str:
    """The status code a call ended with, as its name."""
    code = context.code()  # type: ignore[attr-defined]
    if code is not None:
        return str(code.name)
    if failed:
        return grpc.StatusCode.UNKNOWN.name
    return grpc.StatusCode.OK.name if context.is_active() else grpc.StatusCode.CANCELLED.name


class CallLimit(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Refuses a call while ``limit`` calls are held with RESOURCE_EXHAUSTED and a RetryInfo.

    The refusal runs on two threads of its own (grpcio's ``experimental_thread_pool``), so it
    answers at once instead of queueing behind the very calls that fill the server.
    """

    def __init__(self, *, held: Callable[[], int], limit: int, retry_after: timedelta) -> None:
        self._held = held
        self._limit = limit
        refusal = status.overloaded(limit=limit, retry_after=retry_after)
        refuse = _refusal(refusal)
        refuse.experimental_thread_pool = ThreadPoolExecutor(  # type: ignore[attr-defined]
            max_workers=2, thread_name_prefix="refusals"
        )
        self._refuse = refuse

    def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """The method's handler, or one of its kind refusing the call while the server is full."""
        handler = continuation(handler_call_details)
        if handler is None or self._held() < self._limit:
            return handler
        return rewrapped(handler, lambda _: self._refuse)


def utc_today() -> date:
    """Today in UTC, the day key expiry is judged by."""
    return datetime.now(UTC).date()


class BearerAuth(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Lets a call through only if its bearer token's key has the scope its method needs."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        """The method's handler, or one of its kind that refuses the call."""
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        scope = required_scope(handler_call_details.method)
        decision = self._keyring.decide(
            scope=scope,
            authorization=_text_header(handler_call_details, "authorization"),
            today=utc_today(),
        )
        if decision is Decision.ALLOW:
            return handler
        if decision is Decision.PERMISSION_DENIED:
            refusal = status.permission_denied(scope=scope or "")
        else:
            refusal = status.unauthenticated()
        return rewrapped(handler, lambda _: _refusal(refusal))


def required_scope(method: str) -> str | None:
    """The scope a full method name (``/package.Service/Method``) needs; None if it is open."""
    service = method.lstrip("/").split("/", 1)[0]
    if service in OPEN_SERVICES:
        return None
    return "admin" if service.endswith(ADMIN_SERVICE_SUFFIXES) else "match"


def _text_header(details: grpc.HandlerCallDetails, name: str) -> str | None:
    """A text header the caller sent, if it did."""
    value = dict(details.invocation_metadata or ()).get(name)
    return value if isinstance(value, str) else None


def _refusal(refusal: status_pb2.Status) -> Behavior:
    """A behaviour that ends the call at once with this status."""

    def refuse(request: Any, context: grpc.ServicerContext) -> Any:
        status.abort(context, refusal)

    return refuse
