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
