"""Hostile feeds: any bytes, any JSON, any mangled record either load or are refused, located."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.errors import FeedRejected
from matcher.feeds import load_feed

HEADER = {"record": "header", "format_version": 1, "generated_at": "2026-11-20T00:00:00Z"}
SUPPLIER = {
    "record": "supplier",
    "id": "fiji-nurse",
    "name": "Koro Sea Home Nursing",
    "specialties": ["nursing"],
    "languages": ["fj", "en"],
    "modalities": ["HOME_VISIT", "IN_PERSON"],
    "timezone": "Pacific/Fiji",
    "location": {"lat": -17.3, "lng": 179.9},
    "service_area": {"polygon": [[179.0, -18.5], [181.5, -18.5], [181.5, -16.5], [179.0, -18.5]]},
}
AVAILABILITY = {
    "record": "availability",
    "supplier_id": "fiji-nurse",
    "weekly": [{"days": ["MON", "SUN"], "start": "08:00", "end": "24:00", "slot_minutes": 30}],
    "one_off": [{"start": "2027-03-14T02:30", "minutes": 30}],
    "closed": ["2026-12-25"],
    "min_notice_minutes": 60,
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def like(value: Any) -> st.SearchStrategy[Any]:
    """Values shaped like ``value``: mostly itself, with now and then a part dropped or replaced."""
    if isinstance(value, dict):
        fields = st.fixed_dictionaries({k: like(v) for k, v in value.items()})
        dropped = st.integers(0, 4 * len(value))  # the index of a key to leave out, if any
        shaped = st.tuples(fields, dropped).map(
            lambda t: {k: v for i, (k, v) in enumerate(t[0].items()) if i != t[1]}
        )
    elif isinstance(value, list) and value:
        shaped = st.lists(like(value[0]), max_size=3)
    else:
        return st.integers(0, 15).flatmap(lambda k: json_values if k == 0 else st.just(value))
    return st.integers(0, 15).flatmap(
        lambda k: json_values if k == 0 else shaped if k < 8 else st.just(value)
    )


def pair(supplier_id: str) -> st.SearchStrategy[list[Any]]:
    """A supplier record and its availability, both mangled a little."""
    return st.tuples(
        like({**SUPPLIER, "id": supplier_id}), like({**AVAILABILITY, "supplier_id": supplier_id})
    ).map(list)


records = st.lists(st.sampled_from(["s1", "s2", "s3"]).flatmap(pair), max_size=4).map(
    lambda pairs: [json.dumps(r).encode() for p in pairs for r in p]
)
raw_lines = st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b), max_size=2)
feeds = st.tuples(
    like(HEADER).map(json.dumps).map(str.encode),
    st.tuples(records, raw_lines).map(lambda parts: parts[0] + parts[1]),
)


def load(lines: list[bytes]) -> None:
    """Writes the lines to a real file and loads it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feed.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        load_feed(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds)
def test_any_feed_loads_or_is_refused_with_every_problem_located(feed):
    header, records = feed
    try:
        load([header, *records])
    except FeedRejected as rejected:
        assert rejected.errors
        for error in rejected.errors:
            assert 0 <= error.line <= 1 + len(records)
            assert error.field
            assert error.reason


def test_a_stray_carriage_return_does_not_shift_the_line_numbers(tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(json.dumps(HEADER).encode() + b"\ngar\rbage\n{}\r\n")
    with pytest.raises(FeedRejected) as rejected:
        load_feed(feed)
    assert [(e.line, e.field) for e in rejected.value.errors] == [(2, "json"), (3, "record")]


def test_a_notice_beyond_what_a_timedelta_holds_is_refused_not_crashed(tmp_path):
    feed = tmp_path / "feed.jsonl"
    records = [HEADER, SUPPLIER, {**AVAILABILITY, "min_notice_minutes": 1_440_000_000_000}]
    feed.write_text("\n".join(json.dumps(r) for r in records))
    with pytest.raises(FeedRejected) as rejected:
        load_feed(feed)
    assert (3, "min_notice_minutes") in [(e.line, e.field) for e in rejected.value.errors]
