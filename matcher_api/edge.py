"""How the server meets the network: transport security, who may call, and load limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import grpc

from matcher.auth import Keyring
from matcher.settings import Settings
from matcher_api.interceptors import AccessLog, BearerAuth, CallLimit

MIB = 1 << 20
P = ParamSpec("P")
T = TypeVar("T")


class CountingPool(futures.ThreadPoolExecutor):
    """The server's threads, counting the calls it holds, queued or running.

    grpcio hands each accepted call to this pool and the call ends with its future, so
    ``held`` counts what grpcio's own concurrency limit counts; CallLimit reads it.
    """

    def __init__(self, *, max_workers: int) -> None:
        super().__init__(max_workers=max_workers)
        self._lock = threading.Lock()
        self._held = 0

    @property
    def held(self) -> int:
        """Calls submitted and not yet finished."""
        return self._held

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> futures.Future[T]:
        """Runs a call on a thread, counting it until it ends."""
        with self._lock:
            self._held += 1
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return future

    def _release(self, _: Any) -> None:
        with self._lock:
            self._held -= 1


@dataclass(frozen=True)
class Edge:
    """The server's network-facing settings; the defaults suit tests and local development."""

    credentials: grpc.ServerCredentials | None = None  # None: plaintext, local development only
    keyring: Keyring = field(default_factory=Keyring)  # no keys: authentication off
    max_concurrent_rpcs: int | None = None  # beyond it, calls get RESOURCE_EXHAUSTED at once
    retry_after: timedelta = timedelta(seconds=1)  # the RetryInfo delay of those refusals
    max_message_bytes: int = MIB
    reuse_port: bool = False  # sibling worker processes share the port; the kernel spreads calls
    connection: tuple[tuple[str, int], ...] = ()  # keepalive and age: connection_options()

    def server(self, executor: CountingPool) -> grpc.Server:
        """A gRPC server with the access log, call limit, token checks and limits installed.

        The call limit is CallLimit's, not grpcio's ``maximum_concurrent_rpcs``, whose refusals
        can carry no details: these carry an ErrorInfo and a RetryInfo.
        """
        limit = self.max_concurrent_rpcs
        interceptors: list[grpc.ServerInterceptor] = [AccessLog()]  # type: ignore[type-arg]
        if limit is not None:
            interceptors.append(
                CallLimit(held=lambda: executor.held, limit=limit, retry_after=self.retry_after)
            )
        interceptors.append(BearerAuth(self.keyring))
        return grpc.server(
            executor,
            interceptors=interceptors,
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
