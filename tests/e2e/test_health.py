"""Health tells the truth through start-up: NOT_SERVING while the feed loads, then SERVING.

The feed is a named pipe, so the load lasts exactly as long as the test wants: the server
binds, answers NOT_SERVING and blocks reading until the test writes the feed into the pipe.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from matcher_api.v1 import matcher_pb2, matcher_pb2_grpc
from tests.e2e.conftest import TINY_FEED, RunningServer, launch

pytestmark = pytest.mark.e2e
PATIENCE_S = 30.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture
def loading(tmp_path: Path) -> Iterator[tuple[RunningServer, Path]]:
    """A server started on a feed that is a named pipe nobody has written yet."""
    pipe = tmp_path / "feed.jsonl"
    os.mkfifo(pipe)
    server = launch(pipe)
    try:
        yield server, pipe
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
        server.log.unlink(missing_ok=True)
        shutil.rmtree(server.journal.parent, ignore_errors=True)


def connected(address: str) -> grpc.Channel:
    """A channel to ``address`` once the server accepts connections."""
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=PATIENCE_S)
    return channel


def test_health_is_not_serving_while_the_feed_loads_and_serving_once_it_is(loading):
    server, pipe = loading
    with connected(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=PATIENCE_S)
        assert next(watch).status == NOT_SERVING
        for name in ("", "matcher.v1.MatcherService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert answer.status == NOT_SERVING, name
        matcher = matcher_pb2_grpc.MatcherServiceStub(channel)
        request = matcher_pb2.GetSupplierRequest(supplier_id="london-gp")
        with pytest.raises(grpc.RpcError) as early:
            matcher.GetSupplier(request, timeout=5)
        assert early.value.code() is grpc.StatusCode.UNAVAILABLE
        assert "loading" in early.value.details()
        info, retry = rpc_status.from_call(early.value).details
        reason, delay = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
        assert info.Unpack(reason) and retry.Unpack(delay)
        assert reason.reason == "FEED_LOADING"
        assert delay.retry_delay.ToTimedelta().total_seconds() > 0

        shutil.copyfileobj(TINY_FEED.open("rb"), pipe.open("wb"))  # the load can finish now
        assert next(watch).status == SERVING
        assert matcher.GetSupplier(request, timeout=5).supplier.id == "london-gp"
        watch.cancel()
    assert server.stop() == 0
    said = server.stderr_text()
    assert said.index("NOT_SERVING until") < said.index("serving 12 suppliers")


def test_sigterm_while_the_feed_loads_stops_at_once_with_status_0(loading):
    server, _ = loading
    with connected(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert answer.status == NOT_SERVING
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=PATIENCE_S) == 0
    assert "stopped while loading the feed" in server.stderr_text()


def test_one_health_stream_sees_not_serving_serving_then_not_serving_at_sigterm(loading):
    server, pipe = loading
    with connected(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
        seen = [next(watch).status]
        shutil.copyfileobj(TINY_FEED.open("rb"), pipe.open("wb"))
        seen.append(next(watch).status)
        server.process.send_signal(signal.SIGTERM)
        seen.append(next(watch).status)  # told at once, while calls in flight drain
        assert seen == [NOT_SERVING, SERVING, NOT_SERVING]
    assert server.process.wait(timeout=PATIENCE_S) == 0
