"""How the server meets the network: transport security, who may call, and load limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import grpc

from matcher.auth import Keyring
from matcher.settings import Settings
from matcher_api.interceptors import Events, Gate

MIB = 1 << 20


@dataclass(frozen=True)
class Edge:
    """The server's network-facing settings; the defaults suit tests and local development."""

    credentials: grpc.ServerCredentials | None = None  # None: plaintext, local development only
    keyring: Keyring = field(default_factory=Keyring)  # no keys: authentication off
    max_concurrent_rpcs: int | None = None  # calls queued or running; more: RESOURCE_EXHAUSTED
    max_calls_per_caller: int = Settings.max_calls_per_caller
    auth_failures_per_minute: int = Settings.auth_failures_per_minute
    stream_threads: int = Settings.stream_threads
    retry_after: timedelta = timedelta(seconds=1)  # the RetryInfo delay of load refusals
    max_message_bytes: int = MIB
    reuse_port: bool = False  # sibling worker processes share the port; the kernel spreads calls
    events: Events | None = None  # what the gate refuses; None: counted in Prometheus metrics
    connection: tuple[tuple[str, int], ...] = ()  # keepalive and age: connection_options()

    def gate(self, *, threads: int) -> Gate:
        """The interceptor every call goes through, with this edge's keys and limits, and
        ``threads`` to run calls on."""
        return Gate(
            keyring=self.keyring,
            threads=threads,
            max_calls=self.max_concurrent_rpcs,
            calls_per_caller=self.max_calls_per_caller,
            auth_failures_per_minute=self.auth_failures_per_minute,
            stream_threads=self.stream_threads,
            retry_after=self.retry_after,
            events=self.events,
        )

    def server(self, gate: Gate) -> grpc.Server:
        """A gRPC server whose calls all pass through ``gate``, with the size and load limits."""
        return grpc.server(
            gate.control,
            interceptors=[gate],
            options=[
                ("grpc.max_receive_message_length", self.max_message_bytes),
                # grpcio shares ports by default: unless workers are meant to, a second server
                # on a busy port would silently split the traffic
                ("grpc.so_reuseport", int(self.reuse_port)),
                *self.connection,
            ],
        )

    def bind(self, server: grpc.Server, address: str) -> int:
        """Listens on ``address`` with TLS if configured; the bound port, 0 on failure."""
        if self.credentials is None:
            return server.add_insecure_port(address)
        return server.add_secure_port(address, self.credentials)


def tls(*, cert: Path, key: Path, client_ca: Path | None = None) -> grpc.ServerCredentials:
    """Server TLS; with a client CA, callers must also present a certificate it signed (mTLS)."""
    return grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())],
        root_certificates=client_ca.read_bytes() if client_ca else None,
        require_client_auth=client_ca is not None,
    )


def connection_options(settings: Settings) -> tuple[tuple[str, int], ...]:
    """gRPC core's arguments for keepalive pings, connection age and calls per connection.

    A connection past its age gets a GOAWAY: the client reconnects (perhaps to another replica
    behind the same Service) and its calls in flight have the grace period to finish.
    """
    return (
        ("grpc.keepalive_time_ms", _ms(settings.keepalive_seconds)),
        ("grpc.keepalive_timeout_ms", _ms(settings.keepalive_timeout_seconds)),
        # clients may ping idle connections too, down to the tolerated interval
        ("grpc.keepalive_permit_without_calls", 1),
        (
            "grpc.http2.min_recv_ping_interval_without_data_ms",
            _ms(settings.min_client_ping_seconds),
        ),
        ("grpc.max_connection_age_ms", _ms(settings.max_connection_age_seconds)),
        ("grpc.max_connection_age_grace_ms", _ms(settings.max_connection_age_grace_seconds)),
        ("grpc.max_concurrent_streams", settings.max_concurrent_streams),
    )


def _ms(seconds: float) -> int:
    """Seconds as the whole milliseconds gRPC's arguments take."""
    return round(seconds * 1000)
