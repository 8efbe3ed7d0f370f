"""Replicas in one test process, each with its own connections to one real PostgreSQL: updates,
reloads and refusals reach every one of them, and losing the store loses nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from matcher import queries
from matcher.errors import FeedRejected
from matcher.model import Window
from matcher.paging import Cursor, PageTokens
from matcher.queries import SlotInput, WindowInput
from matcher.serving.postgresql import PostgresStore
from matcher.serving.replica import Replica
from matcher.serving.sources import digest_of
from matcher.serving.store import FeedRecord, StoreUnavailable
from matcher.settings import Limits
from tests.conftest import NOW
from tests.feed_files import tag_of, tagged, write_feed
from tests.http_feeds import serving_feeds
from tests.replicas import eventually, fresh_schema, replica_over

TUESDAY = Window(start=datetime(2027, 3, 2, tzinfo=UTC), end=datetime(2027, 3, 3, tzinfo=UTC))
#: Short waits, so that the tests of lost stores do not sit out long backoffs.
QUICK = {"store_retry_max_seconds": 0.5, "store_poll_seconds": 0.5, "store_timeout_seconds": 1.0}


def london_update(update_id: str, hh_mm: str = "10:15") -> object:
    """london-gp offers one 45-minute slot between 10:00 and 12:00 UTC on Tuesday 2 March 2027."""
    hours, minutes = map(int, hh_mm.split(":"))
    return queries.update(
        update_id=update_id,
        supplier_id="london-gp",
        requested=WindowInput(
            start=datetime(2027, 3, 2, 10, tzinfo=UTC), end=datetime(2027, 3, 2, 12, tzinfo=UTC)
        ),
        slots=[SlotInput(start=datetime(2027, 3, 2, hours, minutes, tzinfo=UTC), minutes=45)],
        received_at=NOW,
        limits=Limits(),
    )


def starts(replica: Replica) -> list[str]:
    """london-gp's slot starts between 10:00 and 12:00 UTC that Tuesday."""
    window = Window(
        start=datetime(2027, 3, 2, 10, tzinfo=UTC), end=datetime(2027, 3, 2, 12, tzinfo=UTC)
    )
    _, found = replica.current().slots_for("london-gp", user_zone="UTC", window=window, now=NOW)
    return [s.start.strftime("%H:%M") for s in found]


def tags(replica: Replica) -> set[str]:
    return {tag_of(s.name) for s in replica.current().suppliers}


def generation(replica: Replica) -> int:
    serving = replica.snapshot().generation
    return serving.number if serving else 0


class Cluster:
    """Replicas of one feed file over one PostgreSQL store, each with its own connections."""

    def __init__(self, dsn: str, feed: Path, directory: Path, stack: ExitStack) -> None:
        self.dsn, self.feed, self.directory, self._stack = dsn, feed, directory, stack
        self._count = 0

    def replica(self, **settings: object) -> Replica:
        """One more replica, started and following; stopped at the end of the test."""
        self._count += 1
        name = f"replica-{self._count}"
        replica = replica_over(
            self.feed,
            PostgresStore(self.dsn, connect_timeout=1.0),
            cache=self.directory / name / "cache",
            who=name,
            **settings,
        )
        self._stack.callback(replica.stop)
        return replica


@pytest.fixture
def cluster(postgres, tmp_path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        feed = write_feed(tmp_path / "feed.jsonl", tagged("v1"))
        yield Cluster(fresh_schema(postgres), feed, tmp_path, stack)


def test_an_update_to_one_replica_is_served_by_every_other(cluster):
    a, b = cluster.replica(), cluster.replica()
    accepted = a.update(london_update("u1"), wait=True)
    assert accepted.served and accepted.recorded.new
    assert starts(a) == ["10:15"]
    eventually(lambda: starts(b) == ["10:15"], what="the update on the other replica")
    assert b.snapshot().applied == accepted.recorded.entry.seq


def test_a_replica_started_later_replays_the_log_and_reports_no_lag(cluster):
    a = cluster.replica()
    for k, hh_mm in enumerate(("10:00", "10:30", "11:00")):
        a.update(london_update(f"u{k}", hh_mm), wait=True)
    late = cluster.replica()
    assert starts(late) == ["11:00"]
    status = late.status().replication
    assert (status.applied, status.store_sequence, status.lag) == (3, 3, 0)
    assert status.ready and status.reachable and status.shared
    assert status.store_generation is not None and status.store_generation.number == 1


def test_a_reload_on_one_replica_swaps_the_new_feed_in_everywhere(cluster):
    a, b = cluster.replica(), cluster.replica()
    a.update(london_update("u1"), wait=True)
    write_feed(cluster.feed, tagged("v2"))
    fresh = a.reload(requested_by="alice")
    assert fresh.generation is not None and fresh.generation.number == 2
    assert "alice" in fresh.generation.requested_by
    assert tags(a) == {"v2"}
    eventually(lambda: tags(b) == {"v2"}, what="the new generation on the other replica")
    assert generation(b) == 2
    assert starts(b) == ["10:15"], "updates newer than the feed stay applied"


def test_a_refused_reload_records_nothing_and_changes_no_replica(cluster):
    a, b = cluster.replica(), cluster.replica()
    broken = tagged("v2")
    broken[3]["location"]["lat"] = 200
    write_feed(cluster.feed, broken)
    with pytest.raises(FeedRejected):
        a.reload()
    assert a.status().last_refusal is not None
    assert a.status().replication.store_generation.number == 1
    assert (generation(a), generation(b), tags(a), tags(b)) == (1, 1, {"v1"}, {"v1"})


def test_a_feed_at_a_url_is_downloaded_by_every_replica(cluster, tmp_path):
    a, b = cluster.replica(), cluster.replica()
    with serving_feeds(tmp_path / "www") as www:
        write_feed(tmp_path / "www" / "next.jsonl", tagged("v2"))
        a.reload(source=www.url("next.jsonl", "signature=abc"))
        eventually(lambda: tags(b) == {"v2"}, what="the downloaded generation on the other replica")
        assert www.requests == ["/next.jsonl", "/next.jsonl"]
    served = b.snapshot().generation
    assert served is not None and served.source.endswith("next.jsonl?signature=abc")


def test_a_generation_a_replica_cannot_verify_is_refused_there_and_the_old_one_serves(cluster):
    a, b = cluster.replica(), cluster.replica()
    sha256, size = digest_of(cluster.feed)
    store = PostgresStore(cluster.dsn)
    recorded = store.record_generation(
        FeedRecord(
            source=str(cluster.feed),
            sha256="0" * 64,
            size=size,
            generated_at=NOW,
            requested_by="a tampered record",
            requested_at=NOW,
        ),
        expected=None,
    )
    store.close()
    assert recorded is not None and sha256 != "0" * 64
    for replica in (a, b):
        eventually(lambda r=replica: r.status().last_refusal is not None, what="the refusal")
        refusal = replica.status().last_refusal
        assert refusal.generation == recorded.number
        assert "its bytes changed" in refusal.summary
        assert (generation(replica), tags(replica)) == (1, {"v1"})
    a.update(london_update("u1"), wait=True)
    eventually(lambda: starts(b) == ["10:15"], what="updates still flowing on the old generation")


def test_a_page_token_issued_by_one_replica_is_read_by_another(cluster):
    a, b = cluster.replica(), cluster.replica()
    ttl = Limits().page_token_ttl
    cursor = Cursor(offset=20, window=TUESDAY)
    token = PageTokens(a.page_secret, ttl=ttl).issue(cursor, query="q", now=NOW)
    assert PageTokens(b.page_secret, ttl=ttl).read(token, query="q", now=NOW, field="t") == cursor


def test_the_log_is_compacted_on_any_replica_and_followers_miss_nothing(cluster):
    a, b = cluster.replica(), cluster.replica()
    for k, hh_mm in enumerate(("10:00", "10:30")):  # the second covers the first
        a.update(london_update(f"u{k}", hh_mm), wait=True)
    assert b.compact() == 0, "younger than --compact-after-hours: kept for retries"
    later = NOW + timedelta(days=2)  # a process that compacts after an hour, two days on
    assert cluster.replica(compact_after_hours=1, clock=lambda: later).compact() == 2
    a.update(london_update("u2", "11:00"), wait=True)
    eventually(lambda: starts(b) == ["11:00"], what="following past the compaction")


def test_losing_the_store_keeps_reads_refuses_updates_and_loses_nothing(private_postgres, tmp_path):
    feed = write_feed(tmp_path / "feed.jsonl", tagged("v1"))
    with ExitStack() as stack:
        cluster = Cluster(private_postgres.dsn, feed, tmp_path, stack)
        a, b = cluster.replica(**QUICK), cluster.replica(**QUICK)
        a.update(london_update("before", "10:00"), wait=True)
        eventually(lambda: starts(b) == ["10:00"], what="the first update everywhere")
        private_postgres.stop()
        with pytest.raises(StoreUnavailable):
            a.update(london_update("during", "10:30"), wait=True)
        assert starts(a) == starts(b) == ["10:00"], "reads keep the last applied state"
        status = b.status().replication
        assert not status.reachable and status.store_error
        private_postgres.start()
        eventually(lambda: b.status().replication.reachable, what="the store back")
        a.update(london_update("after", "11:00"), wait=True)
        eventually(lambda: starts(b) == ["11:00"], what="following to resume")
        assert b.snapshot().applied == a.snapshot().applied == 2


def test_a_replica_waits_for_an_unreachable_store_at_start(private_postgres, tmp_path):
    feed = write_feed(tmp_path / "feed.jsonl", tagged("v1"))
    private_postgres.stop()
    started: list[Replica] = []
    with ExitStack() as stack:
        cluster = Cluster(private_postgres.dsn, feed, tmp_path, stack)
        thread = threading.Thread(target=lambda: started.append(cluster.replica(**QUICK)))
        thread.start()
        thread.join(timeout=2)
        assert thread.is_alive() and not started, "it must wait, not fail"
        private_postgres.start()
        thread.join(timeout=60)
        [replica] = started
        assert replica.ready() and tags(replica) == {"v1"}
