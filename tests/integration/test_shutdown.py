"""A drain in process: NOT_SERVING at once, new calls refused, every call in flight finishes."""

from __future__ import annotations

import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from matcher_api.app import create_app
from matcher_api.health import Health
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc
from tests.integration.helpers import point
from tests.integration.test_edge import holding

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
IN_FLIGHT = 32
PATIENCE_S = 60


def test_a_drain_with_32_slow_calls_in_flight_cancels_none_and_tells_watchers(matching):
    app = create_app("127.0.0.1:0", matching=matching, max_workers=IN_FLIGHT + 8)
    release = threading.Event()
    hold = grpc.unary_unary_rpc_method_handler(holding(release))
    app.server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("matcher.v1.FeedAdminService", {"Hold": hold}),)
    )
    app.server.start()
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(), timeout=PATIENCE_S
        )
        assert next(watch).status == SERVING
        slow = channel.unary_unary("/matcher.v1.FeedAdminService/Hold")
        calls = [slow.future(b"%d" % k, timeout=PATIENCE_S) for k in range(IN_FLIGHT)]
        time.sleep(0.5)  # every call has reached the server and is running
        app.stopping()  # what SIGTERM does at once
        assert next(watch).status == NOT_SERVING  # at once, while the calls still run
        assert list(watch) == []  # then the stream ends, OK: nothing more will change
        late = pb_grpc.MatcherServiceStub(channel).Match.future(
            pb.MatchRequest(location=point(51.5, -0.13)), timeout=PATIENCE_S
        )
        assert late.exception(PATIENCE_S).code() is grpc.StatusCode.UNAVAILABLE
        drained = threading.Thread(target=app.drain, kwargs={"grace_seconds": PATIENCE_S})
        drained.start()  # what the main thread then does
        release.set()
        assert [c.result() for c in calls] == [b"%d" % k for k in range(IN_FLIGHT)]
        drained.join(PATIENCE_S)
        assert not drained.is_alive()


def test_holds_make_the_server_not_serving_until_every_one_is_released():
    health = Health()
    assert not health.is_serving  # a server starts held back until its feed is served
    health.serving()
    assert health.is_serving
    health.hold("loading")
    health.hold("catching up")
    health.release("loading")
    assert not health.is_serving
    health.release("catching up")
    assert health.is_serving
    health.stop()
    health.release("anything")
    health.serving()
    assert not health.is_serving  # stopping is for good
