"""Every call's way in, one interceptor (the Gate) for all of it.

In order, for each call: a request id, sent back as ``x-request-id`` and logged with the
outcome (no request values, no address); refusal with UNAVAILABLE once the server is draining;
the token checked from the headers alone, before a byte of the request is parsed (so an
unknown method, or a malformed message, tells an unauthenticated caller nothing); a budget of
failed authentications per peer address; a cap on each caller's calls at once; for the matcher's
own RPCs, the fair CPU turn (fairness.py); and only then the request parsed, a malformed one
answered INVALID_ARGUMENT. Refusals and health checks run on a small pool of their own, streams
that hold a thread (reflection) on another, and health Watch streams hold none at all.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import grpc
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import Counter

from matcher.auth import Decision, Keyring
from matcher_api import correlation, status
from matcher_api.fairness import FairPool, Later, Turnstile

log = logging.getLogger("matcher.access")
#: Services anyone may call: load balancers and orchestrators probe health without a token.
OPEN_SERVICES = frozenset({"grpc.health.v1.Health"})
#: Threads answering refusals and health checks, apart from the calls that do work.
CONTROL_THREADS = 2
Behavior = Callable[..., Any]
Send = Callable[[Any], None]
#: Services whose every method needs the "admin" scope, by the end of their names.
ADMIN_SERVICE_SUFFIXES = ("FeedAdmin", "FeedAdminService")
if TYPE_CHECKING:  # the stubs' handler type is generic, the runtime class is not
    Handler = grpc.RpcMethodHandler[Any, Any]
    Continuation = Callable[[grpc.HandlerCallDetails], Handler | None]


class Events(Protocol):
    """What the gate reports as it refuses calls (CountedEvents counts them in metrics)."""

    def authentication_failed(self, *, throttled: bool) -> None:
        """A call whose token was missing, unknown or expired (throttled: refused unread)."""

    def refused(self, *, code: str) -> None:
        """A call the gate refused before it reached its method, by status code name."""


AUTH_FAILURES = Counter(
    "matcher_auth_failures_total",
    "Calls whose token was missing, unknown or expired; throttled: refused unchecked, the "
    "address's budget spent",
    ["throttled"],
)
REFUSALS = Counter(
    "matcher_gate_refusals_total",
    "Calls the gate refused before their method ran, by status code",
    ["code"],
)


class CountedEvents:
    """Counts the gate's refusals in Prometheus metrics (the default)."""

    def authentication_failed(self, *, throttled: bool) -> None:
        """One more failed authentication."""
        AUTH_FAILURES.labels(throttled=str(throttled).lower()).inc()

    def refused(self, *, code: str) -> None:
        """One more refused call."""
        REFUSALS.labels(code=code).inc()


class FailedAuthentications:
    """A budget of failed authentications per peer address, over a moving minute.

    Past it the address's calls that need a token are refused, valid token or not, so guesses
    from there learn nothing; other addresses, and their tokens, are never affected.
    """

    def __init__(self, *, per_minute: int) -> None:
        self._item = RateLimitItemPerMinute(per_minute)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def spent(self, peer: str) -> bool:
        """Whether this address has used up its budget."""
        return not self._limiter.test(self._item, peer)

    def charge(self, peer: str) -> bool:
        """Counts one failure; False if the budget was already spent."""
        return self._limiter.hit(self._item, peer)


class Gate(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """The one interceptor: ids and access log, tokens, budgets, fairness, parsing, draining."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        threads: int,
        max_calls: int | None,
        calls_per_caller: int,
        auth_failures_per_minute: int,
        stream_threads: int,
        retry_after: timedelta,
        events: Events | None = None,
    ) -> None:
        self._keyring = keyring
        self._failures = FailedAuthentications(per_minute=auth_failures_per_minute)
        self._pool = FairPool(
            threads=threads,
            running_per_caller=max(1, threads // 2),
            in_flight_per_caller=calls_per_caller,
            in_flight=max_calls,
        )
        self._turnstile = Turnstile()
        self._later = Later()
        self._events = events or CountedEvents()
        self._control = futures.ThreadPoolExecutor(CONTROL_THREADS, "matcher-control")
        self._streams = futures.ThreadPoolExecutor(stream_threads, "matcher-stream")
        self._closed = False
        self._retry_after = retry_after
        self._busy = status.busy(retry_after=retry_after)
        self.last_call = time.monotonic()

    @property
    def control(self) -> futures.ThreadPoolExecutor:
        """The pool for refusals and health checks; gRPC's default, though every call names its
        own."""
        return self._control

    def close(self) -> None:
        """Refuses every call that arrives from now on with UNAVAILABLE (the server drains)."""
        self._closed = True

    def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        """A handler for any call, known method or not, that goes through the gate."""
        self.last_call = time.monotonic()
        method = handler_call_details.method
        if self._closed:
            return self._refusal(method, status.shutting_down(retry_after=self._retry_after))
        scope = required_scope(method)
        metadata = handler_call_details.invocation_metadata or ()
        headers = [v for k, v in metadata if k == "authorization"]
        header = headers[0] if headers and isinstance(headers[0], str) else None
        decision, key = self._keyring.check(scope=scope, authorization=header, today=utc_today())
        if len(headers) > 1 and self._keyring.enabled and scope is not None:
            decision, key = Decision.UNAUTHENTICATED, None  # two tokens: never guess which one
        if decision is Decision.PERMISSION_DENIED:
            return self._refusal(method, status.permission_denied(scope=scope or ""))
        if decision is Decision.UNAUTHENTICATED:
            return self._refusal(method, status.unauthenticated(), failed_authentication=True)
        handler = continuation(handler_call_details)
        if handler is None:
            return self._refusal(method, status.unknown_method(method))
        caller = key.digest if key else ANONYMOUS
        turnstile = self._turnstile if scope == "match" else None  # the matcher's own RPCs
        queued = not (scope is None or handler.request_streaming or handler.response_streaming)
        if queued and not self._pool.admits(caller):
            return self._refusal(method, self._busy)
        return self._guarded(
            handler,
            method=method,
            needs_token=self._keyring.enabled and scope is not None,
            pool=self._control if scope is None else self._pool.lane(caller, turnstile=turnstile),
        )

    def _refusal(
        self, method: str, refusal: status_pb2.Status, *, failed_authentication: bool = False
    ) -> Handler:
        """A handler of any kind that reads nothing and ends the call with this status, holding
        no thread; a refusal for load is answered only after the wait it asks for, so a caller
        that retries at once still retries at most once per delay it was given."""
        wait = self._retry_after.total_seconds()

        def refuse(requests: Any, context: grpc.ServicerContext, send: Send) -> None:
            final = refusal
            with _opened(method, context) as (call, logged):
                if failed_authentication:
                    charged = self._failures.charge(peer_host(context.peer()))
                    self._events.authentication_failed(throttled=not charged)
                    if not charged:
                        final = status.throttled(retry_after=self._retry_after)
                delay = wait if final.code == code_pb2.RESOURCE_EXHAUSTED else 0
                self._events.refused(code=code_pb2.Code.Name(final.code))
                call.ended(code_pb2.Code.Name(final.code))

            def answer() -> None:
                sent = rpc_status.to_status(final)
                context.set_code(sent.code)
                context.set_details(sent.details)
                context.set_trailing_metadata(sent.trailing_metadata)
                send(None)

            context.add_callback(lambda: logged(_outcome(context, failed=False)))
            if delay:
                self._later.call(delay, answer)
            else:
                answer()

        refuse.experimental_non_blocking = True  # type: ignore[attr-defined]
        refuse.experimental_thread_pool = self._control  # type: ignore[attr-defined]
        return grpc.stream_stream_rpc_method_handler(refuse)

    def _throttled(self, context: grpc.ServicerContext) -> NoReturn:
        """RESOURCE_EXHAUSTED for an address whose budget of failed authentications is spent."""
        self._events.refused(code="RESOURCE_EXHAUSTED")
        status.abort(context, status.throttled(retry_after=self._retry_after))

    def _guarded(
        self,
        handler: Handler,
        *,
        method: str,
        needs_token: bool,
        pool: futures.ThreadPoolExecutor,
    ) -> Handler:
        """The method's handler taking raw bytes, parsed only once the call is admitted."""
        parse = handler.request_deserializer or _raw

        @contextmanager
        def admitted(context: grpc.ServicerContext) -> Iterator[None]:
            """Whether the call's address still has a budget of failed authentications."""
            if needs_token and self._failures.spent(peer_host(context.peer())):
                self._throttled(context)
            yield

        def parsed(raw: bytes, context: grpc.ServicerContext) -> Any:
            try:
                return parse(raw)
            except Exception:  # any failure to parse is the bytes' fault
                status.abort(context, status.malformed(method))

        if handler.request_streaming or handler.response_streaming:
            return self._guarded_stream(handler, method=method, admitted=admitted, parsed=parsed)

        behavior: Behavior = handler.unary_unary  # type: ignore[assignment]

        def unary(raw: bytes, context: grpc.ServicerContext) -> Any:
            try:
                with self._logged(method, context), admitted(context):
                    return behavior(parsed(raw, context), context)
            finally:
                self._pool.settle()  # answered: the caller's next call finds its room

        unary.experimental_thread_pool = pool  # type: ignore[attr-defined]
        return grpc.unary_unary_rpc_method_handler(
            unary, response_serializer=handler.response_serializer
        )

    def _guarded_stream(
        self,
        handler: Handler,
        *,
        method: str,
        admitted: Callable[..., Any],
        parsed: Callable[[bytes, grpc.ServicerContext], Any],
    ) -> Handler:
        """A streaming handler: non-blocking ones stay so, blocking ones get their own threads."""
        behavior: Behavior = handler.unary_stream or handler.stream_unary or handler.stream_stream  # type: ignore[assignment]
        if getattr(behavior, "experimental_non_blocking", False):  # health Watch: no thread held
            return self._non_blocking(handler, method=method, parsed=parsed)

        def requests(raw: Any, context: grpc.ServicerContext) -> Any:
            if handler.request_streaming:
                return (parsed(r, context) for r in raw)
            return parsed(raw, context)

        def streamed(raw: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with self._logged(method, context), admitted(context):
                yield from behavior(requests(raw, context), context)

        def answered(raw: Any, context: grpc.ServicerContext) -> Any:
            with self._logged(method, context), admitted(context):
                return behavior(requests(raw, context), context)

        chosen: Any = streamed if handler.response_streaming else answered
        chosen.experimental_thread_pool = self._streams
        build = _BUILDERS[(handler.request_streaming, handler.response_streaming)]
        return build(chosen, response_serializer=handler.response_serializer)

    def _non_blocking(
        self,
        handler: Handler,
        *,
        method: str,
        parsed: Callable[[bytes, grpc.ServicerContext], Any],
    ) -> Handler:
        """A response stream fed by callbacks: set up on the control pool, logged when it ends."""

        def watch(raw: bytes, context: grpc.ServicerContext, send: Callable[[Any], None]) -> None:
            ended = []

            def logged_send(response: Any) -> None:
                if response is None:
                    ended.append(True)
                send(response)

            with _opened(method, context) as (_, logged):
                context.add_callback(
                    lambda: logged(_outcome(context, failed=False, ended=bool(ended)))
                )
                behavior: Behavior = handler.unary_stream  # type: ignore[assignment]
                behavior(parsed(raw, context), context, logged_send)

        watch.experimental_non_blocking = True  # type: ignore[attr-defined]
        watch.experimental_thread_pool = self._control  # type: ignore[attr-defined]
        return grpc.unary_stream_rpc_method_handler(
            watch, response_serializer=handler.response_serializer
        )

    @contextmanager
    def _logged(self, method: str, context: grpc.ServicerContext) -> Iterator[None]:
        """Gives the call its ids (correlation.py), sends back ``x-request-id``, logs the
        outcome."""
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
                _access(call.correlation.fields(), method, code, started)


ANONYMOUS = "anonymous"  # every caller, when there are no tokens to tell them apart
_BUILDERS: dict[tuple[bool, bool], Callable[..., Handler]] = {
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def _raw(data: bytes) -> bytes:
    """A method that takes bytes as they come."""
    return data


@contextmanager
def _opened(
    method: str, context: grpc.ServicerContext
) -> Iterator[tuple[correlation.Call, Callable[[str], None]]]:
    """A call that goes on after its handler returns (a stream fed by callbacks, a refusal
    answered later): its ids, current while it is set up, and how to log it once it ends."""
    with correlation.call(method, context.invocation_metadata()) as call:
        context.send_initial_metadata((("x-request-id", call.correlation.request_id),))
        started, fields = time.perf_counter(), call.correlation.fields()
        yield call, lambda code: _access(fields, method, code, started)


def _access(ids: dict[str, str], method: str, code: str, started: float) -> None:
    """The access log line of one call."""
    fields = {
        **ids,
        "method": method,
        "code": code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    log.info("rpc", extra=fields)


def _outcome(context: grpc.ServicerContext, *, failed: bool, ended: bool = False) -> str:
    """The status code a call ended with, as its name."""
    code = context.code()  # type: ignore[attr-defined]
    if code is not None:
        return str(code.name)
    if failed:
        return grpc.StatusCode.UNKNOWN.name
    if ended or context.is_active():
        return grpc.StatusCode.OK.name
    return grpc.StatusCode.CANCELLED.name


def utc_today() -> date:
    """Today in UTC, the day key expiry is judged by."""
    return datetime.now(UTC).date()


def required_scope(method: str) -> str | None:
    """The scope a full method name (``/package.Service/Method``) needs; None if it is open."""
    service = method.lstrip("/").split("/", 1)[0]
    if service in OPEN_SERVICES:
        return None
    return "admin" if service.endswith(ADMIN_SERVICE_SUFFIXES) else "match"


def peer_host(peer: str) -> str:
    """The address part of a gRPC peer ("ipv4:10.0.0.7:5123" -> "10.0.0.7"): who to budget."""
    kind, _, address = urllib.parse.unquote(peer).partition(":")
    if kind in ("ipv4", "ipv6"):
        return address.rsplit(":", 1)[0].strip("[]")
    return peer
