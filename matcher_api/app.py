"""Builds the gRPC server: the matcher service, feed administration, health and reflection."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from grpc_health.v1.health import SERVICE_NAME as HEALTH_SERVICE_NAME

from matcher.service import Administration, Matching
from matcher_api.admin import FeedAdminServicer
from matcher_api.edge import CountingPool, Edge
from matcher_api.health import Health
from matcher_api.reflection import add_reflection
from matcher_api.servicer import MatcherServicer
from matcher_api.v1 import feed_admin_pb2, feed_admin_pb2_grpc
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["MatcherService"].full_name
ADMIN_SERVICE_NAME = feed_admin_pb2.DESCRIPTOR.services_by_name["FeedAdminService"].full_name

#: Builds the MatcherService implementation a server registers: MatcherServicer, or a stand-in
#: the bench measures against (its serving floor) registered and started the same way.
ServicerFactory = Callable[[Matching], pb_grpc.MatcherServiceServicer]


def create_server(
    address: str,
    *,
    matching: Matching,
    max_workers: int = 16,
    reflect: bool = True,
    edge: Edge | None = None,
    administration: Administration | None = None,
    servicer: ServicerFactory = MatcherServicer,
    health: Health | None = None,
) -> tuple[grpc.Server, int]:
    """A started-ready server bound to ``address`` (port 0 picks a free one) and its port.

    With ``administration``, the server also offers FeedAdminService. Health answers SERVING
    unless a ``health`` is given, whose status its owner sets (NOT_SERVING while loading).
    """
    edge = edge or Edge()
    server = edge.server(CountingPool(max_workers=max_workers))
    pb_grpc.add_MatcherServiceServicer_to_server(servicer(matching), server)  # type: ignore[no-untyped-call]
    services = [SERVICE_NAME]
    if administration is not None:
        feed_admin_pb2_grpc.add_FeedAdminServiceServicer_to_server(  # type: ignore[no-untyped-call]
            FeedAdminServicer(administration), server
        )
        services.append(ADMIN_SERVICE_NAME)
    (health or Health(serving=True)).add_to(server, services=services)
    if reflect:
        add_reflection(server, services=(*services, HEALTH_SERVICE_NAME))
    port = edge.bind(server, address)
    if port == 0:
        raise RuntimeError(f"could not bind {address}")
    return server, port
