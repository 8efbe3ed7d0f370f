"""A caller's x-request-id and traceparent reach every log line of its call; core stays quiet."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import TINY_FEED
from tests.e2e.serving import grpcurl, running, write_certs

pytestmark = pytest.mark.e2e
RESOLVE = "matcher.v1.MatcherService/ResolveTimezone"
LONDON = {"location": {"point": {"lat": 51.5074, "lng": -0.1278}}}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def access_lines(server, method: str = RESOLVE) -> list[dict[str, object]]:
    """The access-log entries of one method, in order."""
    return [e for e in server.log_entries() if e.get("method") == f"/{method}"]


def response_request_id(verbose_output: str) -> str:
    """The x-request-id the server sent back, from grpcurl -v's response headers."""
    _, _, received = verbose_output.partition("Response headers received:")
    found = re.search(r"^x-request-id: (\S+)$", received, re.MULTILINE)
    assert found, verbose_output
    return found.group(1)


def test_the_callers_request_id_and_trace_are_kept_and_logged_and_echoed():
    with running(["--feed", str(TINY_FEED)]) as server:
        done = grpcurl(
            "-plaintext", "-v",
            "-H", "x-request-id: checkout-7f3a.b/2",
            "-H", f"traceparent: {TRACEPARENT}",
            "-d", json.dumps(LONDON), server.target, RESOLVE,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert response_request_id(done.stdout) == "checkout-7f3a.b/2"
        assert server.terminate() == 0
    (entry,) = access_lines(server)
    assert entry["request_id"] == "checkout-7f3a.b/2"
    assert entry["trace_id"] == TRACE_ID  # the caller's trace continues
    assert re.fullmatch(r"[0-9a-f]{16}", str(entry["span_id"]))
    assert entry["span_id"] != "00f067aa0ba902b7"  # a span of its own, child of the caller's


@pytest.mark.parametrize(
    "request_id",
    ["x" * 129, "has space", 'quote"d', "tab\there"],
    ids=["too-long", "space", "quote", "control"],
)
def test_an_unacceptable_request_id_or_traceparent_is_replaced_by_new_ones(request_id):
    with running(["--feed", str(TINY_FEED)]) as server:
        done = grpcurl(
            "-plaintext", "-v",
            "-H", f"x-request-id: {request_id}",
            "-H", "traceparent: 00-zzzz-not-a-trace-01",
            "-d", json.dumps(LONDON), server.target, RESOLVE,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        echoed = response_request_id(done.stdout)
        assert server.terminate() == 0
    (entry,) = access_lines(server)
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)
    assert entry["request_id"] == echoed
    assert re.fullmatch(r"[0-9a-f]{32}", str(entry["trace_id"]))
    assert entry["trace_id"] != "0" * 32


def test_a_failed_tls_handshake_leaves_no_plain_text_line_from_grpc_core(tmp_path):
    certs = write_certs(tmp_path / "certs")
    tls = ["--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key")]
    with running(["--feed", str(TINY_FEED), *tls]) as server:
        done = grpcurl("-plaintext", "-d", json.dumps(LONDON), server.target, RESOLVE)
        assert done.returncode != 0  # plaintext against the TLS port
        assert server.terminate() == 0
    lines = [x for x in server.output.splitlines() if x.strip()]
    assert lines
    assert all(x.startswith("{") for x in lines), server.output
