"""Every kind of bad feed gets a precise report, and a reload of it leaves the catalogue serving."""

from __future__ import annotations

import gzip
import json

import pytest

from matcher.errors import FeedRejected
from matcher.feeds import load_feed
from tests.feed_files import tiny_records
from tests.replicas import sqlite_replica

LONDON = 3  # index of london-gp's supplier record: line 4
FIJI = 17  # index of fiji-nurse's supplier record: line 18


def edited(index: int, change) -> list[dict]:
    """The tiny feed with one record changed in place."""
    records = tiny_records()
    change(records[index])
    return records


def jsonl(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


BOWTIE = [[179.0, -18.5], [181.5, -16.5], [181.5, -18.5], [179.0, -16.5], [179.0, -18.5]]

BAD_JSONL = {
    "bad JSON": (
        jsonl(tiny_records()).replace(b'"id": "london-gp",', b'"id": "london-gp"', 1),
        (4, "json", "is not valid JSON: unexpected character, expected ',' or '}' at column 42"),
    ),
    "a wrong type": (
        jsonl(edited(LONDON, lambda r: r.update(name=42))),
        (4, "name", "must be a non-empty string, got 42"),
    ),
    "latitude 200": (
        jsonl(edited(LONDON, lambda r: r["location"].update(lat=200))),
        (4, "location.lat", "must be a number from -90 to 90 (degrees north), got 200"),
    ),
    "an unknown zone": (
        jsonl(edited(LONDON, lambda r: r.update(timezone="Europe/Londres"))),
        (4, "timezone", "got 'Europe/Londres'; did you mean 'Europe/London' or"),
    ),
    "a self-intersecting polygon": (
        jsonl(edited(FIJI, lambda r: r["service_area"].update(polygon=BOWTIE))),
        (18, "service_area.polygon", "must be a valid polygon, got one with Self-intersection"),
    ),
    "a duplicate id": (
        jsonl(edited(LONDON, lambda r: r.update(id="beijing-clinic"))),
        (4, "id", "must be unique, got 'beijing-clinic' again (first on line 2)"),
    ),
    "availability for a missing supplier": (
        jsonl(edited(LONDON + 1, lambda r: r.update(supplier_id="nobody"))),
        (5, "supplier_id", "must name a supplier earlier in the feed, got 'nobody'"),
    ),
    "an end before its start": (
        jsonl(edited(LONDON + 1, lambda r: r["weekly"][0].update(end="08:00"))),
        (5, "weekly[0].end", "must be after start (09:00), got '08:00'"),
    ),
    "a wrong format version": (
        jsonl(edited(0, lambda r: r.update(format_version=99))),
        (1, "format_version", "must be 1 or 2, got 99"),
    ),
}
BAD_GZIP = {
    "a truncated gzip": (
        gzip.compress(jsonl(tiny_records()) * 40)[:-200],
        (None, "file", "cannot be read after line"),
    ),
    "a .gz that is not gzip": (
        jsonl(tiny_records()),
        (1, "file", "cannot be read at its start: Not a gzipped file"),
    ),
}


def write(tmp_path, name: str, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("suffix", "content", "expected"),
    [pytest.param(".jsonl", *case, id=kind) for kind, case in BAD_JSONL.items()]
    + [pytest.param(".jsonl.gz", *case, id=kind) for kind, case in BAD_GZIP.items()],
)
def test_a_bad_feed_is_reported_precisely_and_the_old_catalogue_keeps_serving(
    tmp_path, suffix, content, expected
):
    good = jsonl(tiny_records())
    path = write(tmp_path, f"feed{suffix}", gzip.compress(good) if suffix.endswith(".gz") else good)
    with sqlite_replica(path, tmp_path / "store") as replica:
        serving = replica.current()
        path.write_bytes(content)
        with pytest.raises(FeedRejected) as caught:
            replica.reload()
        assert replica.current() is serving
    line, field, reason = expected
    found = [e for e in caught.value.errors if e.field == field]
    assert found, caught.value
    assert line is None or found[0].line == line
    assert reason in found[0].reason


def test_a_gzipped_feed_loads_like_the_plain_one(tmp_path):
    path = write(tmp_path, "feed.jsonl.gz", gzip.compress(jsonl(tiny_records())))
    feed = load_feed(path)
    assert (feed.records, len(feed.suppliers)) == (24, 12)
