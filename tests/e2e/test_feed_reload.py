"""server.py as operators run it: SIGHUP and grpcurl reload the feed, a bad feed is refused."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.feed_files import tagged, write_feed

pytestmark = pytest.mark.e2e
GRPCURL = shutil.which("grpcurl", path=str(Path(sys.executable).parent)) or "grpcurl"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def grpcurl(address: str, method: str) -> subprocess.CompletedProcess[str]:
    """Calls a method with an empty request, as the README shows."""
    return subprocess.run(
        [GRPCURL, "-plaintext", address, method],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def feed_status(address: str) -> dict:
    """GetFeedStatus as JSON."""
    done = grpcurl(address, "matcher.v1.FeedAdmin/GetFeedStatus")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_until(condition, *, what: str) -> None:
    """Polls until ``condition()`` holds; fails after a generous deadline."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """server.py on a free port over a feed file the test rewrites."""
    feed = write_feed(tmp_path / "feed.jsonl", tagged("v1"))
    address = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--address", address, "--feed", str(feed)]
    )
    try:
        wait_until(lambda: grpcurl(address, "list").returncode == 0, what="the server to start")
        yield process, address, feed
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_sighup_reloads_the_rewritten_feed(server):
    process, address, feed = server
    write_feed(feed, tagged("v2", generated_at="2026-11-23T00:00:00Z"))
    process.send_signal(signal.SIGHUP)
    wait_until(
        lambda: feed_status(address)["serving"]["generated_at"] == "2026-11-23T00:00:00Z",
        what="the reload",
    )


def test_grpcurl_reload_of_a_bad_feed_is_refused_and_reported(server):
    _, address, feed = server
    broken = tagged("v2")
    broken[3]["location"]["lat"] = 200
    write_feed(feed, broken)
    done = grpcurl(address, "matcher.v1.FeedAdmin/ReloadFeeds")
    assert done.returncode != 0
    assert "FailedPrecondition" in done.stderr
    assert "2 of 24 records rejected" in done.stderr
    status = feed_status(address)
    assert status["serving"]["generated_at"] == "2026-11-20T00:00:00Z"
    assert [p["line"] for p in status["last_refusal"]["first_problems"]] == [4, 5]
