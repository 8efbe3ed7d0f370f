"""matcher-feed: verdicts, exit codes, and reports naming every rejected record."""

from __future__ import annotations

import json

import pytest

from matcher.cli import main
from tests.conftest import TINY_FEED
from tests.feed_files import tagged, tiny_records, version_2, write_feed, write_snapshot


@pytest.fixture
def bad_feed(tmp_path):
    """The tiny feed with one latitude of 200 and one rule ending before it starts."""
    records = tiny_records()
    records[3]["location"]["lat"] = 200
    records[6]["weekly"][0]["end"] = "08:00"
    return write_feed(tmp_path / "bad.jsonl", records)


def test_an_acceptable_feed_exits_0_with_its_counts(capsys):
    assert main(["validate", str(TINY_FEED)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith(f"{TINY_FEED}: acceptable")
    assert "24 records, 12 suppliers, 0 rejected" in out.out
    assert f"reading {TINY_FEED}: 100%" in out.err


def test_a_refused_feed_exits_1_naming_every_bad_record(bad_feed, capsys):
    assert main(["validate", str(bad_feed)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{bad_feed}: refused"
    assert lines[-4:] == [
        f"{bad_feed}:4: location.lat: must be a number from -90 to 90 (degrees north), got 200",
        f"{bad_feed}:5: supplier_id: names supplier 'london-gp', whose record (line 4) was"
        " rejected: fix that line",
        f"{bad_feed}:6: id: supplier 'kathmandu-derm' is left out: its availability record"
        " (line 7) was rejected",
        f"{bad_feed}:7: weekly[0].end: must be after start (10:00), got '08:00'",
    ]


def test_the_json_report_lists_the_same_problems(bad_feed, capsys):
    assert main(["validate", str(bad_feed), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == "refused"
    assert (report["records"], report["suppliers"], report["rejected_records"]) == (24, 10, 4)
    assert [(p["line"], p["field"]) for p in report["problems"]] == [
        (4, "location.lat"),
        (5, "supplier_id"),
        (6, "id"),
        (7, "weekly[0].end"),
    ]


def test_a_threshold_accepts_the_feed_and_still_lists_what_it_left_out(bad_feed, capsys):
    assert main(["validate", str(bad_feed), "--max-rejected-share", "0.2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{bad_feed}: acceptable")
    assert f"{bad_feed}:7: weekly[0].end: must be after start" in out


def test_load_builds_the_catalogue_and_times_each_stage(capsys):
    assert main(["load", str(TINY_FEED), "--json"]) == 0
    out = capsys.readouterr()
    assert set(json.loads(out.out)["seconds"]) == {"read", "index"}
    assert "indexing 12 suppliers" in out.err


def test_an_unreadable_file_exits_2(tmp_path, capsys):
    assert main(["load", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl:0: file: No such file or directory" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["convert", str(TINY_FEED)],
        ["validate", str(TINY_FEED), "--max-rejected-share", "1.5"],
        ["validate", str(TINY_FEED), "--max-rejected-share", "some"],
    ],
)
def test_a_usage_error_exits_2(argv):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_a_snapshot_directory_reports_progress_shard_by_shard(tmp_path, capsys):
    directory = write_snapshot(tmp_path / "snap", version_2(tagged("v1")))
    assert main(["load", str(directory)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith(f"{directory}: acceptable")
    assert [line for line in out.err.splitlines() if line.endswith("100%")] == [
        f"reading {directory}/part-{k}.jsonl: 100%" for k in range(3)
    ]
