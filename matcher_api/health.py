"""The health service's answers: NOT_SERVING until the feed is loaded, then SERVING.

The server binds and answers health checks before the feed is loaded, so an orchestrator sees
NOT_SERVING (not a refused connection) while a large feed loads, and readiness flips the
moment it is served. Every name the server offers ("" and each service) flips together.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class Health:
    """One status for the whole server, under "" and under each service's name."""

    def __init__(self, *, serving: bool = False) -> None:
        self.servicer = health.HealthServicer()
        self._names: set[str] = {""}
        self._status = SERVING if serving else NOT_SERVING
        self.servicer.set("", self._status)

    def add_to(self, server: grpc.Server, *, services: Iterable[str]) -> None:
        """Offers the health service on ``server``, answering for ``services`` too."""
        health_pb2_grpc.add_HealthServicer_to_server(self.servicer, server)
        for name in services:
            self._names.add(name)
            self.servicer.set(name, self._status)

    def serving(self) -> None:
        """Every name answers SERVING (watchers are told at once)."""
        self._set(SERVING)

    def not_serving(self) -> None:
        """Every name answers NOT_SERVING (watchers are told at once)."""
        self._set(NOT_SERVING)

    def _set(self, status: int) -> None:
        """Sets every name's status."""
        self._status = status
        for name in sorted(self._names):
            self.servicer.set(name, status)
