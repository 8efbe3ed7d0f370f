"""Hot reloads: a passing feed swaps in whole, a refused one changes nothing but the status."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from matcher.errors import FeedRejected
from matcher.serving.replica import Replica
from tests.feed_files import tag_of, tagged, write_feed
from tests.replicas import sqlite_replica

LOADED_AT = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def tags(holder: Replica) -> set[str]:
    """The tags of every supplier the holder serves now."""
    return {tag_of(s.name) for s in holder.current().suppliers}


@pytest.fixture
def feed_path(tmp_path):
    return write_feed(tmp_path / "feed.jsonl", tagged("old"))


@pytest.fixture
def holder(feed_path, tmp_path):
    with sqlite_replica(feed_path, tmp_path / "store", clock=lambda: LOADED_AT) as replica:
        yield replica


def test_a_reload_swaps_in_the_rewritten_feed(holder, feed_path):
    write_feed(feed_path, tagged("new", generated_at="2026-11-21T00:00:00Z"))
    fresh = holder.reload()
    assert tags(holder) == {"new"}
    assert holder.status().serving is fresh
    assert fresh.feed.generated_at == datetime(2026, 11, 21, tzinfo=UTC)
    assert fresh.loaded_at == LOADED_AT


def test_a_catalogue_taken_before_a_reload_stays_whole(holder, feed_path):
    taken = holder.current()
    write_feed(feed_path, tagged("new"))
    holder.reload()
    assert {tag_of(s.name) for s in taken.suppliers} == {"old"}
    assert holder.current() is not taken


def test_a_refused_reload_keeps_the_old_catalogue_and_says_why(holder, feed_path):
    serving = holder.current()
    broken = tagged("new")
    broken[3]["location"]["lat"] = 200
    write_feed(feed_path, broken)
    with pytest.raises(FeedRejected):
        holder.reload()
    assert holder.current() is serving
    refusal = holder.status().last_refusal
    assert refusal is not None
    assert refusal.at == LOADED_AT
    assert "2 of 24 records rejected" in refusal.summary
    assert [(e.line, e.field) for e in refusal.errors] == [(4, "location.lat"), (5, "supplier_id")]


def test_a_later_good_reload_clears_the_refusal(holder, feed_path):
    write_feed(feed_path, [])
    with pytest.raises(FeedRejected):
        holder.reload()
    write_feed(feed_path, tagged("new"))
    holder.reload()
    assert holder.status().last_refusal is None
    assert tags(holder) == {"new"}


def test_the_threshold_lets_a_feed_with_few_bad_records_swap_in(feed_path, tmp_path):
    with sqlite_replica(feed_path, tmp_path, max_rejected_share=0.1) as holder:
        records = tagged("new")
        records[3]["timezone"] = "Mars/Olympus_Mons"
        write_feed(feed_path, records)
        fresh = holder.reload()
        assert tags(holder) == {"new"}
        assert fresh.feed.rejected_records == 2
