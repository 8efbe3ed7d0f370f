"""The server's health as probes see it: SERVING, or NOT_SERVING while held back or stopping.

``grpc.health.v1.Health`` answers for the server as a whole ("") and for each service named,
all together. The server binds and answers health checks before the feed is loaded, so an
orchestrator sees NOT_SERVING (not a refused connection) while a large feed loads, and
readiness flips the moment it is served. Anything may hold the server back for a reason of its
own ("starting", "catching up") and let go when done: it serves only while nothing holds it.
``stop`` is for good: from the moment a shutdown begins every probe reads NOT_SERVING, each
Watch stream is told so and then ended, and nothing can make it SERVING again. Watch streams
hold no thread while they wait.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

log = logging.getLogger("matcher.health")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE_NAME = health.SERVICE_NAME
STARTING = "starting"  # the hold a server starts with unless told it serves at once
Send = Callable[[Any], None]


class _Servicer(health.HealthServicer):
    """grpc's health servicer (non-blocking Watch), which also remembers each open Watch stream."""

    def __init__(self) -> None:
        super().__init__(experimental_non_blocking=True)
        self.streams: set[Send] = set()
        self.streams_lock = threading.Lock()

    def Watch(  # the RPC's name
        self,
        request: Any,
        context: grpc.ServicerContext,
        send_response_callback: Callable[..., Any] | None = None,
    ) -> Any:
        """Sends the status now and at each change, from whichever thread changes it."""
        assert send_response_callback is not None  # non-blocking: grpc always passes one

        def forget() -> None:
            with self.streams_lock:
                self.streams.discard(send_response_callback)

        with self.streams_lock:
            self.streams.add(send_response_callback)
        context.add_callback(forget)
        return super().Watch(request, context, send_response_callback)


class Health:
    """One status for the whole server, under "" and each service's name: SERVING while
    nothing holds it back and it is not stopping."""

    def __init__(self, *, serving: bool = False) -> None:
        self._servicer = _Servicer()
        self._names: set[str] = {""}
        self._lock = threading.RLock()  # also held while publishing, so changes land in order
        self._held: set[str] = set() if serving else {STARTING}
        self._stopping = False
        with self._lock:
            self._publish()

    def add_to(self, server: grpc.Server, *, services: Iterable[str]) -> None:
        """Offers grpc.health.v1.Health on ``server``, answering for ``services`` too."""
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)
        with self._lock:
            self._names.update(services)
            self._publish()

    @property
    def is_serving(self) -> bool:
        """Whether probes read SERVING now."""
        with self._lock:
            return not (self._held or self._stopping)

    def hold(self, reason: str) -> None:
        """NOT_SERVING until ``release(reason)`` (e.g. "catching up")."""
        with self._lock:
            self._held.add(reason)
            self._publish()

    def release(self, reason: str) -> None:
        """Lets go of a hold; SERVING again once no other holds and not stopping."""
        with self._lock:
            self._held.discard(reason)
            self._publish()

    def serving(self) -> None:
        """The server has started: lets go of the hold it started with."""
        self.release(STARTING)

    def stop(self) -> None:
        """NOT_SERVING for good: tells every Watch stream, then ends each one (status OK)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        self._servicer.enter_graceful_shutdown()
        with self._servicer.streams_lock:
            streams = list(self._servicer.streams)
        for send in streams:
            try:
                send(None)  # the last NOT_SERVING is already on its way; this ends the stream
            except Exception:  # a stream that ended meanwhile; the others still get theirs
                log.debug("a Watch stream ended while the server was stopping", exc_info=True)
        log.info("health: NOT_SERVING, stopping (%d watch streams ended)", len(streams))

    def _publish(self) -> None:
        """Sets every name's status from the holds (ignored once stopping); under the lock."""
        status = NOT_SERVING if self._held or self._stopping else SERVING
        for name in sorted(self._names):
            self._servicer.set(name, status)
