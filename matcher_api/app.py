"""Builds the gRPC server: the matcher service, feed administration, health and reflection."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from matcher.service import Administration, Matching
from matcher_api.admin import FeedAdminServicer
from matcher_api.edge import Edge
from matcher_api.health import SERVICE_NAME as HEALTH_SERVICE_NAME
from matcher_api.health import Health
from matcher_api.interceptors import Gate
from matcher_api.reflection import add_reflection
from matcher_api.servicer import MatcherServicer
from matcher_api.v1 import feed_admin_pb2, feed_admin_pb2_grpc
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["MatcherService"].full_name
ADMIN_SERVICE_NAME = feed_admin_pb2.DESCRIPTOR.services_by_name["FeedAdminService"].full_name
#: Once a drain begins, calls already on their way still reach the gate (and are told
#: UNAVAILABLE, which clients may retry elsewhere) until none has come for this long, or for at
#: most QUIET_MAX_S: only then does gRPC stop taking calls, cancelling any it had not handed over.
QUIET_S = 0.1
QUIET_MAX_S = 1.0
log = logging.getLogger("matcher.server")

#: Builds the MatcherService implementation a server registers: MatcherServicer, or a stand-in
#: the bench measures against (its serving floor) registered and started the same way.
ServicerFactory = Callable[[Matching], pb_grpc.MatcherServiceServicer]


@dataclass(frozen=True)
class App:
    """A built server with the parts a shutdown needs: its health and its gate."""

    server: grpc.Server
    port: int
    health: Health
    gate: Gate
    stop_asked: threading.Event = field(default_factory=threading.Event)
    stop_lock: threading.Lock = field(default_factory=threading.Lock)

    def handle_signals(self) -> None:
        """From now on SIGINT or SIGTERM (main thread only) begins the shutdown at once:
        NOT_SERVING and new calls refused; ``serve`` then drains."""

        def on_signal(signum: int, frame: object) -> None:
            # not here: a handler runs in the main thread between any two bytecodes, perhaps
            # in the middle of the health's own send (locks held); a thread of its own waits
            threading.Thread(target=self.stopping, name="matcher-stopping").start()
            self.stop_asked.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, on_signal)

    def serve(self, *, grace_seconds: float) -> None:
        """Waits for the signal ``handle_signals`` awaits, then drains; returns once stopped."""
        while not self.stop_asked.wait(timeout=0.5):  # a timeout, so signal handlers get to run
            pass
        self.drain(grace_seconds=grace_seconds)

    def stopping(self) -> None:
        """The first moment of a shutdown: NOT_SERVING at once, and new calls refused; a second
        caller waits until the first is done."""
        with self.stop_lock:
            self.health.stop()
            self.gate.close()

    def drain(self, *, grace_seconds: float) -> None:
        """Stops for good: every call in flight may finish within the grace period, then the
        rest are cancelled. Returns once the server has stopped."""
        deadline = time.monotonic() + grace_seconds
        self.stopping()
        log.info("stopping: draining in-flight calls for up to %g s", grace_seconds)
        quiet_until = time.monotonic() + min(QUIET_MAX_S, grace_seconds / 2)
        while time.monotonic() < quiet_until and time.monotonic() - self.gate.last_call < QUIET_S:
            time.sleep(QUIET_S / 4)
        self.server.stop(grace=max(0.0, deadline - time.monotonic())).wait()
        log.info("stopped")


def create_app(
    address: str,
    *,
    matching: Matching,
    max_workers: int = 16,
    reflect: bool = True,
    edge: Edge | None = None,
    administration: Administration | None = None,
    servicer: ServicerFactory = MatcherServicer,
    health: Health | None = None,
) -> App:
    """A server ready to start, bound to ``address`` (port 0 picks a free one).

    With ``administration``, the server also offers FeedAdminService. Health answers SERVING
    unless a ``health`` is given, whose status its owner sets (NOT_SERVING while loading).
    """
    edge = edge or Edge()
    gate = edge.gate(threads=max_workers)
    server = edge.server(gate)
    pb_grpc.add_MatcherServiceServicer_to_server(servicer(matching), server)  # type: ignore[no-untyped-call]
    services = [SERVICE_NAME]
    if administration is not None:
        feed_admin_pb2_grpc.add_FeedAdminServiceServicer_to_server(  # type: ignore[no-untyped-call]
            FeedAdminServicer(administration), server
        )
        services.append(ADMIN_SERVICE_NAME)
    health = health or Health(serving=True)
    health.add_to(server, services=services)
    if reflect:
        add_reflection(server, services=(*services, HEALTH_SERVICE_NAME))
    port = edge.bind(server, address)
    if port == 0:
        raise RuntimeError(f"could not bind {address}")
    return App(server=server, port=port, health=health, gate=gate)


def create_server(address: str, **options: Any) -> tuple[grpc.Server, int]:
    """``create_app``'s server and port, for callers that need no graceful shutdown."""
    app = create_app(address, **options)
    return app.server, app.port
