"""Builds the gRPC server: the matcher service, health checks and reflection."""

from __future__ import annotations

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from matcher.v1 import matcher_pb2 as pb
from matcher.v1 import matcher_pb2_grpc as pb_grpc
from matcher_api.servicer import Deps, MatcherServicer

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["MatcherService"].full_name


def create_server(
    address: str,
    *,
    deps: Deps,
    max_workers: int = 16,
    reflect: bool = True,
    reuse_port: bool = False,
) -> tuple[grpc.Server, int]:
    """A started-ready server bound to ``address`` (port 0 picks a free one) and its port.

    ``reuse_port`` lets sibling worker processes share the port; the kernel spreads connections.
    """
    # grpcio shares ports by default: a second server would silently split the traffic.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers),
        options=[("grpc.so_reuseport", int(reuse_port))],
    )
    pb_grpc.add_MatcherServiceServicer_to_server(MatcherServicer(deps), server)  # type: ignore[no-untyped-call]
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    if reflect:
        names = (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"could not bind {address}")
    return server, port
