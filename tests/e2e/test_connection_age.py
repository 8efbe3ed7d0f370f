"""A client's connection is recycled after the server's max connection age, failing no call.

The server sends GOAWAY when a connection reaches its age (±10%); the client reconnects,
perhaps to another replica behind the same Kubernetes Service. A call in flight on the old
connection has the grace period to finish. The client counts its connections through the
channel's connectivity states: each READY is a connection made.
"""

from __future__ import annotations

import queue
import threading
import time

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from matcher_api.v1 import matcher_pb2, matcher_pb2_grpc
from tests.conftest import TINY_FEED
from tests.e2e.serving import PATIENCE_S, running

pytestmark = pytest.mark.e2e
AGE_S = 1.0
CALLING_S = 4.0  # four ages (±10%): at least two recycles
LIST = reflection_pb2.ServerReflectionRequest(list_services="")


class States:
    """The connectivity states a channel went through, in order."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.seen: list[grpc.ChannelConnectivity] = []
        self._lock = threading.Lock()
        channel.subscribe(self._saw, try_to_connect=True)

    def _saw(self, state: grpc.ChannelConnectivity) -> None:
        with self._lock:
            self.seen.append(state)

    def count(self, state: grpc.ChannelConnectivity) -> int:
        """How many times the channel entered ``state``."""
        with self._lock:
            return sum(1 for s in self.seen if s is state)


def test_connections_are_recycled_after_their_max_age_and_no_call_fails():
    flags = [
        "--feed", str(TINY_FEED),
        "--max-connection-age-seconds", str(AGE_S),
        "--max-connection-age-grace-seconds", "30",
    ]  # fmt: skip
    with running(flags) as server, grpc.insecure_channel(server.target) as channel:
        states = States(channel)
        stub = matcher_pb2_grpc.MatcherServiceStub(channel)
        request = matcher_pb2.GetSupplierRequest(supplier_id="london-gp")
        # a stream opened on the first connection stays usable past its age, within the grace
        requests: queue.Queue[reflection_pb2.ServerReflectionRequest | None] = queue.Queue()
        stream = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter(requests.get, None), timeout=PATIENCE_S
        )
        requests.put(LIST)
        assert next(stream).list_services_response.service
        calls = 0
        deadline = time.monotonic() + CALLING_S
        while time.monotonic() < deadline:
            assert (
                stub.GetSupplier(request, timeout=10).supplier.id == "london-gp"
            )  # raises if it fails
            calls += 1
            time.sleep(0.02)
        requests.put(LIST)
        assert next(stream).list_services_response.service  # the first connection, aged out
        requests.put(None)
        assert list(stream) == []
        assert stream.code() is grpc.StatusCode.OK
        ready = states.count(grpc.ChannelConnectivity.READY)
        assert server.terminate() == 0
    assert calls > 20
    assert ready >= 2, states.seen  # connected again at least once after an age passed
