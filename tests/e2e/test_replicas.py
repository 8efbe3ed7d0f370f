"""Replicas as operators run them: matcher-server processes (two single ones and a --workers 2
one) on one real PostgreSQL. Updates and reloads reach every process, a SIGKILLed replica
catches up, and a PostgreSQL restart fails no read and loses no acknowledged update."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import psycopg
import pytest

from matcher_api.v1 import feed_admin_pb2 as admin_pb
from matcher_api.v1 import feed_admin_pb2_grpc as admin_grpc
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc
from tests.e2e import load
from tests.e2e.conftest import (
    TINY_FEED,
    RunningServer,
    free_port,
    grpcurl,
    launch,
    wait_until_serving,
)
from tests.e2e.load import stamp
from tests.feed_files import tag_of, tagged, write_feed
from tests.replicas import fresh_schema

pytestmark = pytest.mark.e2e
#: Generous bounds so that a stuck process fails the test instead of hanging it.
PATIENCE_S = 60.0
#: The first hour the updates of a test touch: three days from now, at midnight UTC.
DAY = load.first_hour()


def hour(k: int) -> datetime:
    """The start of the k-th hour the updates use."""
    return DAY + timedelta(hours=k)


def update(k: int, *, prefix: str) -> admin_pb.UpdateAvailabilityRequest:
    """Update k: london-gp offers one 20-minute slot in hour k, and nothing else in it."""
    return load.update(k, day=DAY, prefix=prefix)


@dataclass
class Node:
    """One serving process reached over a connection of its own."""

    channel: grpc.Channel
    matcher: pb_grpc.MatcherServiceStub = field(init=False)
    admin: admin_grpc.FeedAdminServiceStub = field(init=False)

    def __post_init__(self) -> None:
        self.matcher = pb_grpc.MatcherServiceStub(self.channel)
        self.admin = admin_grpc.FeedAdminServiceStub(self.channel)

    def status(self) -> admin_pb.GetFeedStatusResponse:
        return self.admin.GetFeedStatus(admin_pb.GetFeedStatusRequest(), timeout=10)

    def shows(self, k: int) -> bool:
        """Whether this process serves update k: exactly its slot in hour k."""
        listed = self.matcher.ListSlots(
            pb.ListSlotsRequest(
                supplier_id="london-gp",
                timezone="UTC",
                window=pb.TimeWindow(start=stamp(hour(k)), end=stamp(hour(k + 1))),
            ),
            timeout=10,
        )
        found = [(s.start.ToDatetime(UTC), s.end.ToDatetime(UTC)) for s in listed.slots]
        return found == [(hour(k), hour(k) + timedelta(minutes=20))]

    def matches(self, k: int) -> bool:
        """Whether Match near London offers london-gp with exactly update k's slot in hour k."""
        answer = self.matcher.Match(
            pb.MatchRequest(
                location=pb.Location(point=pb.LatLng(lat=51.5136, lng=-0.1365)),
                window=pb.TimeWindow(start=stamp(hour(k)), end=stamp(hour(k + 1))),
                page_size=50,
            ),
            timeout=10,
        )
        found = [m for m in answer.matches if m.supplier.id == "london-gp"]
        return [[s.start.ToDatetime(UTC) for s in m.slots] for m in found] == [[hour(k)]]

    def tags(self) -> set[str]:
        """The feed versions the suppliers near Los Angeles come from."""
        answer = self.matcher.Match(
            pb.MatchRequest(
                location=pb.Location(point=pb.LatLng(lat=34.05, lng=-118.25)), page_size=50
            ),
            timeout=10,
        )
        return {tag_of(m.supplier.name) for m in answer.matches}

    def generation(self) -> int:
        return self.status().serving.generation.number


def eventually(condition: Callable[[], bool], *, what: str) -> float:
    """Polls until ``condition()`` holds; the seconds it took. Fails after a generous deadline."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < PATIENCE_S, f"timed out waiting for {what}"
        time.sleep(0.005)
    return time.monotonic() - started


class Cluster:
    """matcher-server processes over one store and one feed file; all stopped at the end."""

    def __init__(self, dsn: str, feed: Path, stack: ExitStack) -> None:
        self.dsn, self.feed, self._stack = dsn, feed, stack

    def start(self, *extra: str, port: int = 0) -> RunningServer:
        """A server of the cluster, ready (caught up with the store)."""
        server = launch(self.feed, *extra, store=self.dsn, port=port)
        self._stack.callback(self._stopped, server)
        wait_until_serving(server)
        return server

    @staticmethod
    def _stopped(server: RunningServer) -> None:
        code = server.stop()
        output = server.stderr_text()
        server.log.unlink(missing_ok=True)
        shutil.rmtree(server.journal.parent, ignore_errors=True)
        assert code in (0, -signal.SIGKILL), f"exit {code}:\n{output}"
        assert "Traceback" not in output, output

    def node(self, server: RunningServer) -> Node:
        """A connection of its own to a server (for --workers, to whichever worker accepts)."""
        # a pool of its own, or channels to one address share one connection (one worker)
        channel = grpc.insecure_channel(
            server.address, options=[("grpc.use_local_subchannel_pool", 1)]
        )
        self._stack.callback(channel.close)
        return Node(channel)

    def workers(self, server: RunningServer, count: int) -> list[Node]:
        """One connection to each of a --workers server's processes, told apart by pid."""
        found: dict[str, Node] = {}
        for _ in range(200):
            node = self.node(server)
            found.setdefault(node.status().replication.process, node)
            if len(found) == count:
                return list(found.values())
        pytest.fail(f"reached {len(found)} of {count} workers")


@contextmanager
def cluster_on(dsn: str, feed: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        yield Cluster(dsn, feed, stack)


@pytest.fixture(scope="module")
def trio(postgres, tmp_path_factory) -> Iterator[tuple[Cluster, list[Node], RunningServer]]:
    """Two single replicas and a --workers 2 server on one PostgreSQL: four serving processes."""
    feed = write_feed(tmp_path_factory.mktemp("trio") / "feed.jsonl", tagged("v1"))
    with cluster_on(fresh_schema(postgres), feed) as cluster:
        one, two = cluster.start(), cluster.start()
        forked = cluster.start("--workers", "2", port=free_port())
        nodes = [cluster.node(one), cluster.node(two), *cluster.workers(forked, 2)]
        yield cluster, nodes, forked


def test_an_update_to_any_process_is_served_by_every_process(trio, capsys):
    _, nodes, _ = trio
    delays: list[float] = []
    for k in range(8):
        sender = nodes[k % len(nodes)]
        answer = sender.admin.UpdateAvailability(update(k, prefix="everywhere"), timeout=10)
        assert answer.applied and answer.served and answer.sequence > 0
        assert sender.shows(k), "wait_applied (the default): served here on answering"
        for other in nodes:
            if other is not sender:
                delays.append(eventually(lambda o=other, k=k: o.shows(k), what=f"update {k}"))
    for node in nodes:
        assert all(node.matches(k) for k in range(8)), "Match shows every update too"
    with capsys.disabled():
        print(
            f"\npropagation ack -> visible elsewhere, {len(delays)} samples:"
            f" median {statistics.median(delays) * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms"
        )
    for node in nodes:
        replication = node.status().replication
        assert replication.shared and replication.ready
        eventually(lambda n=node: n.status().replication.lag == 0, what="no lag")


def test_a_refused_reload_changes_no_process_and_a_good_one_swaps_all_without_a_failed_call(
    trio,
):
    cluster, nodes, forked = trio
    before = {node.generation() for node in nodes}
    assert len(before) == 1
    [generation] = before
    broken = tagged("v2")
    broken[3]["location"]["lat"] = 200
    write_feed(cluster.feed, broken)
    with pytest.raises(grpc.RpcError) as caught:
        nodes[0].admin.ReloadFeeds(admin_pb.ReloadFeedsRequest(), timeout=30)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert [n.generation() for n in nodes] == [generation] * len(nodes)
    assert all(n.tags() == {"v1"} for n in nodes)

    failures: list[str] = []
    stop = threading.Event()

    def read(node: Node) -> None:
        while not stop.is_set():
            try:
                assert len(node.tags()) == 1, "one feed per answer"
            except (grpc.RpcError, AssertionError) as exc:
                failures.append(repr(exc))

    readers = [threading.Thread(target=read, args=(n,)) for n in nodes]
    for reader in readers:
        reader.start()
    try:
        write_feed(cluster.feed, tagged("v2"))
        swapped = nodes[2].admin.ReloadFeeds(
            admin_pb.ReloadFeedsRequest(requested_by="e2e"), timeout=30
        )
        assert swapped.serving.generation.number == generation + 1
        for node in nodes:
            eventually(lambda n=node: n.tags() == {"v2"}, what="every process on the new feed")
        write_feed(cluster.feed, tagged("v3"))
        forked.process.send_signal(signal.SIGHUP)  # the parent reloads all its workers
        for node in nodes:
            eventually(lambda n=node: n.tags() == {"v3"}, what="SIGHUP's feed everywhere")
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == []
    assert {n.generation() for n in nodes} == {generation + 2}
    assert "SIGHUP to" in nodes[0].status().serving.generation.requested_by


def logged_ids(dsn: str) -> list[str]:
    """Every update id in the store's log, one per entry."""
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT update_id FROM matcher_log ORDER BY seq")]


def test_a_replica_killed_while_updates_flow_restarts_and_catches_up(postgres, tmp_path):
    dsn = fresh_schema(postgres)
    with cluster_on(dsn, write_feed(tmp_path / "feed.jsonl", tagged("v1"))) as cluster:
        steady, doomed = cluster.start(), cluster.start()
        to_steady, to_doomed = cluster.node(steady), cluster.node(doomed)
        acknowledged: list[int] = []
        for k in range(20):  # both take updates, the doomed one last
            target = to_steady if k % 2 else to_doomed
            target.admin.UpdateAvailability(update(k, prefix="kill"), timeout=10)
            acknowledged.append(k)
        doomed.process.kill()  # SIGKILL, straight after an acknowledgement
        doomed.process.wait()
        for k in range(20, 40):  # updates keep flowing while it is down
            to_steady.admin.UpdateAvailability(update(k, prefix="kill"), timeout=10)
            acknowledged.append(k)
        restarted = cluster.node(cluster.start())
        for k in range(40, 50):
            to_steady.admin.UpdateAvailability(update(k, prefix="kill"), timeout=10)
            acknowledged.append(k)
        eventually(lambda: restarted.status().replication.lag == 0, what="the catch-up")
        assert all(restarted.shows(k) for k in acknowledged)
    ids = logged_ids(dsn)
    assert sorted(ids) == sorted(f"kill-{k}" for k in acknowledged), "each update once"


def test_a_postgresql_restart_fails_no_read_and_loses_no_acknowledged_update(
    private_postgres, tmp_path
):
    feed = write_feed(tmp_path / "feed.jsonl", tagged("v1"))
    with cluster_on(private_postgres.dsn, feed) as cluster:
        servers = [cluster.start("--store-retry-max-seconds", "1") for _ in range(2)]
        spawn = multiprocessing.get_context("spawn")  # see tests/e2e/load.py
        progress: multiprocessing.Queue[int] = spawn.Queue()
        results: multiprocessing.Queue[dict[str, Any]] = spawn.Queue()
        worker = spawn.Process(
            target=load.run,
            args=([s.address for s in servers],),
            kwargs={
                "day": DAY,
                "prefix": "pg",
                "count": 24,
                "pause_s": 0.05,
                "progress": progress,
                "results": results,
            },
        )
        worker.start()
        for _ in range(8):
            progress.get(timeout=PATIENCE_S)
        private_postgres.restart()  # while reads and updates go on in the other process
        outcome = results.get(timeout=PATIENCE_S * 3)
        worker.join()
        assert outcome["read_failures"] == [] and outcome["reads"] > 0
        assert outcome["update_errors"] == []
        assert outcome["acknowledged"] == list(range(24))
        for node in (cluster.node(s) for s in servers):
            eventually(lambda n=node: all(n.shows(k) for k in range(24)), what="every update")
    assert sorted(logged_ids(private_postgres.dsn)) == sorted(f"pg-{k}" for k in range(24))


def test_an_unreachable_store_at_start_means_not_serving_and_a_clear_line(
    private_postgres, tmp_path
):
    private_postgres.stop()
    server = launch(TINY_FEED, "--store-retry-max-seconds", "1", store=private_postgres.dsn)
    try:
        deadline = time.monotonic() + PATIENCE_S
        while "store unreachable, not serving yet" not in server.stderr_text():
            assert time.monotonic() < deadline and server.process.poll() is None
            time.sleep(0.1)
        done = grpcurl(server.address, "grpc.health.v1.Health/Check")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"] == "NOT_SERVING"
        private_postgres.start()
        wait_until_serving(server)
    finally:
        assert server.stop() == 0
        output = server.stderr_text()
        server.log.unlink(missing_ok=True)
        shutil.rmtree(server.journal.parent, ignore_errors=True)
    assert "Traceback" not in output, output
