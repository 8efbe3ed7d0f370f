"""Each call's request id and trace context, carried into every log line the call writes.

A caller may send ``x-request-id`` (kept if it is short printable ASCII, replaced otherwise) and
a W3C ``traceparent`` (continued if valid, else a new trace starts). The call's span is made
whether or not spans are exported (observability.py decides that), so a trace id is always
there to correlate log lines with; nothing the caller sent is logged but these two ids.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Gauge

from matcher.settings import Settings

#: What a request id may hold: no spaces, quotes or controls, so that it is safe in any log.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]+")
_PROPAGATOR = TraceContextTextMapPropagator()
IN_FLIGHT = Gauge("matcher_rpcs_in_flight", "Calls being handled now, by method", ["grpc_method"])
_current: ContextVar[Correlation | None] = ContextVar("matcher_call", default=None)


@dataclass
class _Config:
    """How calls are correlated in this process; observability.start sets it from the settings."""

    tracer: trace.Tracer
    max_request_id_length: int


_config = _Config(TracerProvider().get_tracer("matcher"), Settings.max_request_id_length)


@dataclass(frozen=True)
class Correlation:
    """The ids of one call, as its log lines show them."""

    request_id: str
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits

    def fields(self) -> dict[str, str]:
        """The log fields of the call."""
        return {"request_id": self.request_id, "trace_id": self.trace_id, "span_id": self.span_id}


def configure(*, provider: TracerProvider, max_request_id_length: int) -> None:
    """Where calls' spans come from, and the longest request id kept (observability.start)."""
    _config.tracer = provider.get_tracer("matcher")
    _config.max_request_id_length = max_request_id_length


def current() -> dict[str, str]:
    """The log fields of the call this thread is handling, or none outside a call."""
    call = _current.get()
    return call.fields() if call else {}


def request_id(
    metadata: Sequence[tuple[str, Any]], *, max_length: int = Settings.max_request_id_length
) -> str:
    """The caller's ``x-request-id`` if acceptable, else a new one (32 hex digits)."""
    sent = _header(metadata, "x-request-id")
    if sent and len(sent) <= max_length and REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


class Call:
    """A call being handled: its ids, and its span to close with the status code."""

    def __init__(self, correlation: Correlation, span: trace.Span) -> None:
        self.correlation = correlation
        self._span = span

    def ended(self, code: str) -> None:
        """Records the status code the call ended with on its span."""
        self._span.set_attribute("rpc.grpc.status_code", code)
        if code != "OK":
            self._span.set_status(Status(StatusCode.ERROR, code))


@contextmanager
def call(method: str, metadata: Sequence[tuple[str, Any]]) -> Iterator[Call]:
    """A call's span and ids, current for the log lines written while it runs; counts it."""
    parent = _PROPAGATOR.extract(
        {name: value for name, value in metadata if name in ("traceparent", "tracestate")}
    )
    service, _, name = method.lstrip("/").partition("/")
    span = _config.tracer.start_span(
        method.lstrip("/"),
        context=parent,
        kind=SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
    )
    context = span.get_span_context()
    ids = Correlation(
        request_id=request_id(metadata, max_length=_config.max_request_id_length),
        trace_id=trace.format_trace_id(context.trace_id),
        span_id=trace.format_span_id(context.span_id),
    )
    span.set_attribute("matcher.request_id", ids.request_id)
    token = _current.set(ids)
    in_flight = IN_FLIGHT.labels(grpc_method=method.lstrip("/"))
    in_flight.inc()
    try:
        yield Call(ids, span)
    finally:
        in_flight.dec()
        span.end()
        try:
            _current.reset(token)
        except ValueError:  # a stream's generator finished in another context than it began
            _current.set(None)


def _header(metadata: Sequence[tuple[str, Any]], name: str) -> str | None:
    """A text header the caller sent, the first if it sent several."""
    for key, value in metadata:
        if key == name and isinstance(value, str):
            return value
    return None
