"""SIGTERM stops new calls but lets a call in flight finish; the process then exits 0."""

from __future__ import annotations

import queue
import re
import signal

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.conftest import TINY_FEED
from tests.e2e.serving import PATIENCE_S, running

pytestmark = pytest.mark.e2e

LIST = reflection_pb2.ServerReflectionRequest(list_services="")


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
