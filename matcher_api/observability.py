"""Metrics for Prometheus and traces for OpenTelemetry: set up once per serving process.

Per-RPC metrics come from gRPC core itself through its OpenTelemetry plugin
(grpcio-observability): calls started, and each call's duration by method and status code,
including calls refused before any Python code runs (RESOURCE_EXHAUSTED at the concurrency
limit, UNIMPLEMENTED). They reach Prometheus through OpenTelemetry's Prometheus reader, which
shares prometheus_client's registry with the service's own metrics (matcher/metrics.py) and
the calls in flight (correlation.py); one HTTP endpoint serves them all.

Spans are made for every call, so that every log line of a call carries a trace id (the
caller's, from ``traceparent``, or a new one); they leave the process only when an OTLP
endpoint is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import DropAggregation, ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import start_http_server

from matcher.settings import Settings, version
from matcher_api import correlation

log = logging.getLogger("matcher.observability")
#: Latency buckets in seconds: no-op calls take ~0.3 ms, a Match several ms, a slow one seconds.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
#: Message sizes in bytes: requests are small, a Match page of 100 suppliers is ~100 KiB.
SIZE_BUCKETS = (64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304)


@dataclass
class Observability:
    """What was set up, so that a test or a worker can take it down again."""

    plugin: Any = None  # grpc_observability.OpenTelemetryPlugin, registered globally
    tracer_provider: TracerProvider | None = None
    stop_http: Callable[[], None] | None = None

    def close(self) -> None:
        """Deregisters the gRPC plugin, flushes spans and closes the metrics endpoint."""
        if self.plugin is not None:
            self.plugin.deregister_global()
        if self.tracer_provider is not None:
            self.tracer_provider.shutdown()
        if self.stop_http is not None:
            self.stop_http()


def host_port(address: str) -> tuple[str, int]:
    """``host:port`` (``[::]:9464`` for IPv6) as a host and a port number; ValueError if not."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"not host:port: {address!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def start(settings: Settings, *, metrics_address: str | None = None) -> Observability:
    """Sets up calls' ids and spans; with a metrics address, gRPC's plugin and the endpoint.

    Call it before creating the gRPC server, and in each worker after the fork: the plugin and
    the OTLP exporter hold gRPC state that must not cross a fork. Raises OSError if the metrics
    address cannot be bound.
    """
    provider = tracer_provider(settings)
    setup = Observability(tracer_provider=provider)
    correlation.configure(provider=provider, max_request_id_length=settings.max_request_id_length)
    address = settings.metrics_address if metrics_address is None else metrics_address
    if address:
        host, port = host_port(address)
        server, _ = start_http_server(port, addr=host)
        setup.stop_http = server.shutdown
        setup.plugin = grpc_metrics()
        log.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return setup


def grpc_metrics() -> Any:
    """gRPC core's per-call metrics for this process's servers, in prometheus_client's registry."""
    import grpc_observability
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    views = [
        View(instrument_name="grpc.client.*", aggregation=DropAggregation()),
        View(
            instrument_name="grpc.server.call.duration",
            aggregation=ExplicitBucketHistogramAggregation(LATENCY_BUCKETS),
        ),
        View(
            instrument_name="grpc.server.call.*_compressed_message_size",
            aggregation=ExplicitBucketHistogramAggregation(SIZE_BUCKETS),
        ),
    ]
    provider = MeterProvider(metric_readers=[PrometheusMetricReader()], views=views)
    plugin = grpc_observability.OpenTelemetryPlugin(meter_provider=provider)
    plugin.register_global()
    return plugin


def tracer_provider(settings: Settings) -> TracerProvider:
    """The provider every call's span comes from; exporting over OTLP only if configured."""
    resource = Resource.create({"service.name": "matcher", "service.version": version()})
    provider = TracerProvider(resource=resource)
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter,
        )

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        log.info("exporting spans to %s", settings.otlp_endpoint)
    return provider
