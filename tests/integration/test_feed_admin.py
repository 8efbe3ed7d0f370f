"""FeedAdminService over a real server: hot reloads under load, refusals and the feed status."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from matcher.auth import Keyring, digest, parse_keys
from matcher.service import Administration
from matcher.settings import Limits
from matcher_api.app import create_server
from matcher_api.edge import Edge
from matcher_api.v1 import feed_admin_pb2 as admin_pb
from matcher_api.v1 import feed_admin_pb2_grpc as admin_grpc
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc
from tests.conftest import NOW, matching_over
from tests.feed_files import tag_of, tagged, write_feed
from tests.integration.helpers import bad_fields, error_info, point, stamp, window
from tests.replicas import sqlite_replica

LOS_ANGELES = (34.05, -118.25)
CLIENTS = 6
VERSIONS = ("v1", "v2", "v3")


class Admin:
    """A server with FeedAdminService over a feed file the test rewrites, and stubs for both."""

    def __init__(self, path, channel: grpc.Channel) -> None:
        self.path = path
        self.matcher = pb_grpc.MatcherServiceStub(channel)
        self.admin = admin_grpc.FeedAdminServiceStub(channel)


@contextmanager
def serving(path, resolver, *, updates: bool = False, edge: Edge | None = None) -> Iterator[Admin]:
    """A server over a feed file the test rewrites, taking real-time updates or not."""
    with sqlite_replica(path, path.parent / "store", updates=updates) as replica:
        administration = Administration(replica=replica, limits=Limits(), clock=lambda: NOW)
        server, port = create_server(
            "127.0.0.1:0",
            matching=matching_over(replica.current, resolver),
            administration=administration,
            edge=edge,
        )
        server.start()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Admin(path, channel)
        server.stop(grace=None)


@pytest.fixture
def served(tmp_path, resolver) -> Iterator[Admin]:
    with serving(write_feed(tmp_path / "feed.jsonl", tagged("v1")), resolver) as admin:
        yield admin


@pytest.fixture
def journaled(tmp_path, resolver) -> Iterator[Admin]:
    feed = write_feed(tmp_path / "feed.jsonl", tagged("v1"))
    with serving(feed, resolver, updates=True) as admin:
        yield admin


def answer_tags(response: pb.MatchResponse) -> set[str]:
    """The feed versions the suppliers of one answer came from."""
    return {tag_of(m.supplier.name) for m in response.matches}


def wait_for_answers(answers: list[list[str]], clients: list[Future[None]], *, more: int) -> None:
    """Blocks until every client has had ``more`` further answers; fails if one stopped."""
    targets = [len(a) + more for a in answers]
    deadline = time.monotonic() + 60
    while any(len(a) < t for a, t in zip(answers, targets, strict=True)):
        for client in clients:
            if client.done():
                client.result()  # raises what stopped it
                pytest.fail("a client stopped early")
        assert time.monotonic() < deadline, "clients made no progress"
        time.sleep(0.01)


def test_reloads_under_match_load_fail_no_request_and_never_mix_feeds(served):
    stop = threading.Event()
    answers: list[list[str]] = [[] for _ in range(CLIENTS)]

    def client(k: int) -> None:
        while not stop.is_set():
            response = served.matcher.Match(
                pb.MatchRequest(location=point(*LOS_ANGELES), page_size=50), timeout=30
            )
            tags = answer_tags(response)
            assert len(response.matches) > 1 and len(tags) == 1, tags
            answers[k].extend(tags)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        clients = [pool.submit(client, k) for k in range(CLIENTS)]
        for version in VERSIONS[1:]:
            wait_for_answers(answers, clients, more=5)
            write_feed(served.path, tagged(version))
            served.admin.ReloadFeeds(admin_pb.ReloadFeedsRequest(), timeout=30)
        wait_for_answers(answers, clients, more=5)
        stop.set()
        for finished in clients:
            finished.result()
    for seen in answers:
        assert seen == sorted(seen), "a client went back to an older feed"
        assert set(seen) == set(VERSIONS)


def test_a_refused_reload_names_every_bad_record_and_the_old_feed_keeps_serving(served):
    broken = tagged("v2")
    broken[3]["location"]["lat"] = 200
    write_feed(served.path, broken)
    with pytest.raises(grpc.RpcError) as caught:
        served.admin.ReloadFeeds(admin_pb.ReloadFeedsRequest(), timeout=30)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(caught.value)
    assert status is not None
    assert error_info(caught.value).reason == "FEED_REJECTED"
    assert error_info(caught.value).metadata["problems"] == "2"
    failure = error_details_pb2.PreconditionFailure()
    assert status.details[1].Unpack(failure)
    assert [(v.subject, v.description.split(":")[0]) for v in failure.violations] == [
        (f"{served.path}:4", "location.lat"),
        (f"{served.path}:5", "supplier_id"),
    ]
    supplier = served.matcher.GetSupplier(pb.GetSupplierRequest(supplier_id="la-peds")).supplier
    assert tag_of(supplier.name) == "v1"
    refusal = served.admin.GetFeedStatus(admin_pb.GetFeedStatusRequest()).last_refusal
    assert "2 of 24 records rejected" in refusal.reason
    assert refusal.problems == 2
    assert [p.line for p in refusal.first_problems] == [4, 5]


def test_feed_status_describes_the_feed_serving_now(served):
    write_feed(served.path, tagged("v2", generated_at="2026-11-22T06:00:00Z"))
    served.admin.ReloadFeeds(admin_pb.ReloadFeedsRequest(), timeout=30)
    status = served.admin.GetFeedStatus(admin_pb.GetFeedStatusRequest())
    serving = status.serving
    assert serving.path == str(served.path)
    assert serving.format_version == 1
    assert serving.generated_at.ToDatetime(tzinfo=UTC) == datetime(2026, 11, 22, 6, tzinfo=UTC)
    assert serving.loaded_at.ToDatetime(tzinfo=UTC) == NOW
    assert (serving.records, serving.suppliers, serving.rejected_records) == (24, 12, 0)
    assert not status.HasField("last_refusal")
    assert status.max_rejected_share == 0


def tuesday_update(update_id: str, *slots: tuple[str, int]) -> admin_pb.UpdateAvailabilityRequest:
    """london-gp's slots on Tuesday 2 March 2027 between 10:00 and 12:00 UTC become ``slots``."""
    return admin_pb.UpdateAvailabilityRequest(
        update_id=update_id,
        supplier_id="london-gp",
        window=window("2027-03-02T10:00:00Z", "2027-03-02T12:00:00Z"),
        slots=[
            admin_pb.NewSlot(start=stamp(f"2027-03-02T{hh_mm}:00Z"), minutes=minutes)
            for hh_mm, minutes in slots
        ],
    )


def tuesday_starts(served) -> list[str]:
    """london-gp's slot starts on that Tuesday morning, as HH:MM UTC."""
    listed = served.matcher.ListSlots(
        pb.ListSlotsRequest(
            supplier_id="london-gp",
            timezone="UTC",
            window=window("2027-03-02T09:00:00Z", "2027-03-02T13:00:00Z"),
        )
    )
    return [s.start.ToDatetime().strftime("%H:%M") for s in listed.slots]


def test_an_availability_update_is_served_at_once_and_a_retry_changes_nothing(journaled):
    first = journaled.admin.UpdateAvailability(tuesday_update("u1", ("10:15", 45)))
    retry = journaled.admin.UpdateAvailability(tuesday_update("u1", ("10:15", 45)))
    assert (first.applied, retry.applied) == (True, False)
    assert tuesday_starts(journaled) == ["09:00", "09:30", "10:15", "12:00", "12:30"]
    with pytest.raises(grpc.RpcError) as caught:
        journaled.admin.UpdateAvailability(tuesday_update("u1", ("11:00", 30)))
    assert caught.value.code() is grpc.StatusCode.ALREADY_EXISTS


def test_without_a_journal_an_update_fails_its_precondition(served):
    with pytest.raises(grpc.RpcError) as caught:
        served.admin.UpdateAvailability(tuesday_update("u1", ("10:15", 45)))
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION


def test_a_bad_update_names_its_field(journaled):
    with pytest.raises(grpc.RpcError) as caught:
        journaled.admin.UpdateAvailability(tuesday_update("u1", ("13:00", 30)))
    assert bad_fields(caught.value) == ["slots[0].start"]


def test_feed_admin_needs_the_admin_scope(tmp_path, resolver):
    keys = f"{digest('user-token')} match\n{digest('ops-token')} match,admin"
    edge = Edge(keyring=Keyring(parse_keys(keys, source="test")))
    feed = write_feed(tmp_path / "feed.jsonl", tagged("v1"))
    with serving(feed, resolver, edge=edge) as guarded:
        status = admin_pb.GetFeedStatusRequest()
        with pytest.raises(grpc.RpcError) as caught:
            guarded.admin.GetFeedStatus(status, metadata=(("authorization", "Bearer user-token"),))
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
        ops = guarded.admin.GetFeedStatus(status, metadata=(("authorization", "Bearer ops-token"),))
        assert ops.serving.suppliers == 12
