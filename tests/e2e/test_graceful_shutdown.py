"""SIGTERM stops new calls but lets a call in flight finish; the process then exits 0."""

from __future__ import annotations

import queue
import re
import signal
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc
from tests.conftest import SAMPLE_FEED, TINY_FEED
from tests.e2e.conftest import free_port
from tests.e2e.serving import PATIENCE_S, WORKERS_READY, running

pytestmark = pytest.mark.e2e

LIST = reflection_pb2.ServerReflectionRequest(list_services="")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_a_call_in_flight_at_sigterm_completes_ok_and_the_server_exits_cleanly():
    with (
        running(["--feed", str(TINY_FEED)]) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        requests: queue.Queue[reflection_pb2.ServerReflectionRequest | None] = queue.Queue()
        stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter(requests.get, None), timeout=PATIENCE_S
        )
        requests.put(LIST)
        assert next(stream).list_services_response.service  # the call is now in flight
        server.process.send_signal(signal.SIGTERM)
        server.wait_for(re.compile("stopping: draining in-flight calls"))
        requests.put(LIST)
        assert next(stream).list_services_response.service  # still served while draining
        requests.put(None)
        assert list(stream) == []
        assert stream.code() is grpc.StatusCode.OK
        assert server.process.wait(timeout=PATIENCE_S) == 0


#: A Match that takes a while on the sample feed (~0.15 s of one core): a remote-only search
#: for one of the rare suppliers with a slot at 03:00 Kathmandu time.
SLOW = pb.MatchRequest(
    location=pb.Location(country_code="NP"),
    local_hours=pb.LocalHours(start="03:00", end="03:01"),
    page_size=1,
)
IN_FLIGHT = 32


def sigterm_with_calls_in_flight(server, targets: list[str]) -> None:
    """32 slow calls spread over ``targets``, SIGTERM while they run: the health flips at once
    on every connection, none is cancelled, a new call is refused, and the server exits 0."""
    channels = [grpc.insecure_channel(t) for t in targets]
    try:
        watches = [
            health_pb2_grpc.HealthStub(c).Watch(
                health_pb2.HealthCheckRequest(), timeout=PATIENCE_S, wait_for_ready=True
            )
            for c in channels
        ]
        assert {next(w).status for w in watches} == {SERVING}
        stubs = [pb_grpc.MatcherServiceStub(c) for c in channels]
        calls = [
            stubs[k % len(stubs)].Match.future(SLOW, timeout=PATIENCE_S) for k in range(IN_FLIGHT)
        ]
        time.sleep(1)  # every call has reached a server; together they take seconds more
        server.process.send_signal(signal.SIGTERM)
        assert {next(w).status for w in watches} == {NOT_SERVING}
        codes = []
        for call in calls:
            error = call.exception(timeout=PATIENCE_S)
            codes.append(grpc.StatusCode.OK if error is None else error.code())
        assert codes.count(grpc.StatusCode.CANCELLED) == 0, codes
        assert codes == [grpc.StatusCode.OK] * IN_FLIGHT, codes
        assert server.process.wait(timeout=PATIENCE_S) == 0
    finally:
        for channel in channels:
            channel.close()


def test_sigterm_lets_32_slow_calls_finish_and_flips_the_health_at_once():
    with running(["--feed", str(SAMPLE_FEED), "--grace-seconds", str(PATIENCE_S)]) as server:
        sigterm_with_calls_in_flight(server, [server.target])


def test_each_worker_drains_its_own_calls_on_sigterm():
    port = free_port()
    args = ["--feed", str(SAMPLE_FEED), "--grace-seconds", str(PATIENCE_S), "--workers", "2"]
    with running(args, address=f"127.0.0.1:{port}", ready=WORKERS_READY) as server:
        # one connection per channel, spread over the two workers by the kernel
        sigterm_with_calls_in_flight(server, [f"127.0.0.1:{port}"] * 4)
