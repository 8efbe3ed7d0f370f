"""matcher-server as operators run it: SIGHUP and grpcurl reload the feed, a bad feed is refused."""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import RunningServer, grpcurl, launch, serving, wait_until
from tests.feed_files import tagged, write_feed

pytestmark = pytest.mark.e2e
ADMIN = "matcher.v1.FeedAdminService"
FAILED_PRECONDITION = 9


def feed_status(address: str) -> dict[str, Any]:
    """GetFeedStatus as JSON."""
    done = grpcurl(address, f"{ADMIN}/GetFeedStatus")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.fixture
def server(tmp_path) -> Iterator[RunningServer]:
    """matcher-server over a feed file the test rewrites."""
    with serving(write_feed(tmp_path / "feed.jsonl", tagged("v1"))) as running:
        yield running


def test_sighup_reloads_the_rewritten_feed(server):
    write_feed(server.feed, tagged("v2", generated_at="2026-11-23T00:00:00Z"))
    server.process.send_signal(signal.SIGHUP)
    wait_until(
        lambda: feed_status(server.address)["serving"]["generated_at"] == "2026-11-23T00:00:00Z",
        what="the reload",
    )


def test_grpcurl_reload_of_a_bad_feed_is_refused_and_reported(server):
    broken = tagged("v2")
    broken[3]["location"]["lat"] = 200
    write_feed(server.feed, broken)
    done = grpcurl(server.address, f"{ADMIN}/ReloadFeeds")
    status = json.loads(done.stderr)
    assert done.returncode == 64 + FAILED_PRECONDITION
    assert "2 of 24 records rejected" in status["message"]
    info, failure = status["details"]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert (info["domain"], info["reason"]) == ("matcher.v1", "FEED_REJECTED")
    assert failure["@type"] == "type.googleapis.com/google.rpc.PreconditionFailure"
    assert [v["subject"] for v in failure["violations"]] == [
        f"{server.feed}:4",
        f"{server.feed}:5",
    ]
    current = feed_status(server.address)
    assert current["serving"]["generated_at"] == "2026-11-20T00:00:00Z"
    assert [p["line"] for p in current["last_refusal"]["first_problems"]] == [4, 5]


def test_a_journal_that_cannot_be_opened_stops_start_up(tmp_path):
    unwritable = tmp_path / "missing" / "updates.sqlite"
    server = launch(write_feed(tmp_path / "feed.jsonl", tagged("v1")), "--journal", str(unwritable))
    try:
        assert server.process.wait(timeout=60) == 2
        assert "cannot start: unable to open database file" in server.stderr_text()
    finally:
        server.stop()
        server.log.unlink(missing_ok=True)
        shutil.rmtree(server.journal.parent, ignore_errors=True)
