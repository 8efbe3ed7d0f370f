"""Which feeds are refused whole, and which load with their bad records left out."""

from __future__ import annotations

import pytest

from matcher.errors import FeedRejected
from matcher.feeds import load_feed
from tests.feed_files import tiny_records, write_feed


def with_bad_timezone(supplier_id: str):
    """The tiny feed with one supplier's zone misspelt."""
    records = tiny_records()
    for record in records:
        if record.get("id") == supplier_id:
            record["timezone"] = "Europe/Londres"
    return records


def test_one_bad_record_refuses_the_feed_by_default(tmp_path):
    path = write_feed(tmp_path / "feed.jsonl", with_bad_timezone("london-gp"))
    with pytest.raises(FeedRejected) as caught:
        load_feed(path)
    assert [(e.line, e.field) for e in caught.value.errors] == [(4, "timezone"), (5, "supplier_id")]
    assert "2 of 24 records rejected" in caught.value.summary


def test_an_allowed_share_loads_the_rest_and_lists_what_was_left_out(tmp_path):
    path = write_feed(tmp_path / "feed.jsonl", with_bad_timezone("london-gp"))
    feed = load_feed(path, max_rejected_share=0.1)
    assert "london-gp" not in {s.id for s in feed.suppliers}
    assert len(feed.suppliers) == 11
    assert (feed.records, feed.rejected_records) == (24, 2)
    assert feed.rejected_share == pytest.approx(2 / 24)
    assert [str(e) for e in feed.rejected] == [
        f"{path}:4: timezone: must be an IANA time zone id such as 'Asia/Kathmandu',"
        " got 'Europe/Londres'; did you mean 'Europe/London' or 'Europe/Lisbon'?",
        f"{path}:5: supplier_id: names supplier 'london-gp', whose record (line 4) was"
        " rejected: fix that line",
    ]


def test_a_share_above_the_threshold_is_refused(tmp_path):
    path = write_feed(tmp_path / "feed.jsonl", with_bad_timezone("london-gp"))
    with pytest.raises(FeedRejected) as caught:
        load_feed(path, max_rejected_share=0.05)
    assert "more than the 5.00% allowed" in caught.value.summary


def test_a_broken_header_refuses_the_feed_whatever_the_share(tmp_path):
    records = tiny_records()
    records[0]["format_version"] = 7
    path = write_feed(tmp_path / "feed.jsonl", records)
    with pytest.raises(FeedRejected) as caught:
        load_feed(path, max_rejected_share=1.0)
    assert [(e.line, e.field) for e in caught.value.errors] == [(1, "format_version")]


def test_an_unreadable_file_is_refused_whatever_the_share(tmp_path):
    with pytest.raises(FeedRejected) as caught:
        load_feed(tmp_path / "missing.jsonl", max_rejected_share=1.0)
    assert [(e.line, e.field) for e in caught.value.errors] == [(0, "file")]


def test_a_line_that_is_not_json_counts_as_one_rejected_record(tmp_path):
    path = write_feed(tmp_path / "feed.jsonl", tiny_records())
    path.write_text(path.read_text() + '{"record": "supplier", "id": \n')
    feed = load_feed(path, max_rejected_share=0.1)
    assert (feed.records, feed.rejected_records, len(feed.suppliers)) == (25, 1, 12)
    assert [(e.line, e.field) for e in feed.rejected] == [(26, "json")]


def test_a_whole_number_written_as_a_float_is_that_number_and_a_fraction_is_refused(tmp_path):
    """JSON has one kind of number: 60.0 is the whole number 60 (kept as an int, and the same
    rule as an earlier 60), while 60.5 minutes is refused."""
    records = tiny_records()
    rule = records[2]["weekly"][0]  # beijing-clinic's, checked first
    records[4]["weekly"] = [{**rule, "slot_minutes": float(rule["slot_minutes"])}]
    records[6]["weekly"] = [{**rule, "slot_minutes": 60.5}]
    path = write_feed(tmp_path / "feed.jsonl", records)
    feed = load_feed(path, max_rejected_share=0.1)
    assert [(e.line, e.field, e.reason) for e in feed.rejected if e.line == 7] == [
        (7, "weekly[0].slot_minutes", "must be a whole number of minutes from 5 to 240, got 60.5")
    ]
    by_id = {s.id: s for s in feed.suppliers}
    london, beijing = by_id["london-gp"].availability, by_id["beijing-clinic"].availability
    assert type(london.weekly[0].slot_minutes) is int
    assert london.weekly[0] is beijing.weekly[0]
