"""Sharded snapshots: a directory of n shard files loads as one feed, all n or none."""

from __future__ import annotations

import gzip

import pytest

from matcher.errors import FeedRejected
from matcher.feeds import load_feed
from tests.feed_files import tag_of, tagged, version_2, write_feed, write_snapshot
from tests.replicas import sqlite_replica


def problems(caught):
    return [(e.path.rsplit("/", 1)[-1], e.line, e.field, e.reason) for e in caught.value.errors]


def test_a_snapshot_loads_as_the_whole_feed_even_with_a_supplier_split_across_shards(tmp_path):
    directory = write_snapshot(tmp_path / "snap", version_2(tagged("v1")), count=5)
    feed = load_feed(directory)
    assert (feed.records, len(feed.suppliers), feed.path) == (24, 12, str(directory))
    assert feed.format_version == 2


def test_shards_are_read_in_shard_order_whatever_their_names(tmp_path):
    directory = write_snapshot(tmp_path / "snap", version_2(tagged("v1")))
    (directory / "part-0.jsonl").rename(directory / "z-first.jsonl")
    assert len(load_feed(directory).suppliers) == 12


def test_gzipped_shards_are_read_too(tmp_path):
    directory = write_snapshot(tmp_path / "snap", version_2(tagged("v1")))
    plain = directory / "part-1.jsonl"
    (directory / "part-1.jsonl.gz").write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    assert len(load_feed(directory).suppliers) == 12


def test_a_missing_shard_refuses_the_snapshot(tmp_path):
    directory = write_snapshot(tmp_path / "snap", version_2(tagged("v1")), skip={1})
    with pytest.raises(FeedRejected) as caught:
        load_feed(directory, max_rejected_share=1.0)
    assert problems(caught) == [("snap", 0, "shard", "shard 1 of 3 of '2026-11-20' is missing")]


def test_shards_of_two_snapshots_refuse_it(tmp_path):
    directory = write_snapshot(tmp_path / "snap", version_2(tagged("v1")))
    write_snapshot(directory, version_2(tagged("v1")), snapshot="2026-11-21", skip={0, 1})
    with pytest.raises(FeedRejected) as caught:
        load_feed(directory)
    assert problems(caught) == [
        ("part-2.jsonl", 1, "shard.snapshot", "is 2026-11-21, but part-0.jsonl has 2026-11-20")
    ]


def test_a_file_that_is_not_a_shard_refuses_the_snapshot(tmp_path):
    directory = write_snapshot(tmp_path / "snap", version_2(tagged("v1")))
    write_feed(directory / "stray.jsonl", tagged("v1"))
    with pytest.raises(FeedRejected) as caught:
        load_feed(directory)
    assert problems(caught) == [("stray.jsonl", 1, "shard", "is required in a snapshot directory")]


def test_a_duplicate_id_across_shards_names_both_places(tmp_path):
    records = version_2(tagged("v1"))
    records[-2]["id"] = "beijing-clinic"  # the last supplier, in the last shard
    directory = write_snapshot(tmp_path / "snap", records)
    with pytest.raises(FeedRejected) as caught:
        load_feed(directory)
    assert problems(caught)[0] == (
        "part-2.jsonl",
        8,
        "id",
        f"must be unique, got 'beijing-clinic' again (first on {directory}/part-0.jsonl:2)",
    )


def test_a_reload_swaps_one_whole_snapshot_for_another(tmp_path):
    current = write_snapshot(tmp_path / "a", version_2(tagged("v1")))
    link = tmp_path / "current"
    link.symlink_to(current)
    with sqlite_replica(link, tmp_path / "store") as replica:
        write_snapshot(tmp_path / "b", version_2(tagged("v2")))
        (tmp_path / "next").symlink_to(tmp_path / "b")
        (tmp_path / "next").replace(link)
        replica.reload()
        assert {tag_of(s.name) for s in replica.current().suppliers} == {"v2"}


def test_a_shard_needs_version_2(tmp_path):
    records = tagged("v1")
    records[0]["shard"] = {"snapshot": "x", "index": 0, "count": 1}
    with pytest.raises(FeedRejected) as caught:
        load_feed(write_feed(tmp_path / "feed.jsonl", records))
    [(name, line, field, reason)] = problems(caught)
    assert (name, line, field) == ("feed.jsonl", 1, "shard")
    assert reason.startswith('needs format_version 2, got {"snapshot": "x"')


def test_bad_records_on_the_same_line_of_two_shards_count_twice(tmp_path):
    records = version_2(tagged("v1"))
    for index in (1, 9):  # the first supplier line of shards 0 and 1
        records[index]["timezone"] = "Mars/Olympus_Mons"
    feed = load_feed(write_snapshot(tmp_path / "snap", records), max_rejected_share=1.0)
    assert [
        (e.path.rsplit("/", 1)[-1], e.line) for e in feed.rejected if e.field == "timezone"
    ] == [
        ("part-0.jsonl", 2),
        ("part-1.jsonl", 2),
    ]
    assert feed.rejected_records == 4  # each supplier line and its availability line
