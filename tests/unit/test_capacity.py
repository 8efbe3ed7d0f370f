"""Capacity: slots with several places, places already booked, and full slots not offered."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from matcher.engine.catalog import Catalog
from matcher.errors import FeedRejected
from matcher.feeds import load_feed
from matcher.model import Availability, OneOff, WeeklyRule, Window
from matcher_api.convert import slot
from tests.engine_slots import expand
from tests.feed_files import tiny_records, version_2, write_feed

TUESDAY = Window(start=datetime(2027, 3, 2, tzinfo=UTC), end=datetime(2027, 3, 3, tzinfo=UTC))
LONDON_AVAILABILITY = 4  # index of london-gp's availability record: line 5


def test_booked_places_leave_the_rest_open_and_a_full_slot_is_not_offered():
    availability = Availability(
        weekly=(WeeklyRule(frozenset(range(7)), 540, 600, 30, spots=3),),
        one_off=(OneOff(start=datetime(2027, 3, 2, 14, 0), minutes=60, spots=2),),
        booked=(
            (datetime(2027, 3, 2, 9, 0), 2),
            (datetime(2027, 3, 2, 9, 30), 1),
            (datetime(2027, 3, 2, 9, 30), 2),
        ),
    )
    found = expand(
        availability, tz=ZoneInfo("Europe/London"), window=TUESDAY, not_before=TUESDAY.start
    )
    assert [(s.start.hour, s.start.minute, s.spots_total, s.spots_open) for s in found] == [
        (9, 0, 3, 1),
        (14, 0, 2, 2),
    ]


def test_a_version_2_feed_gives_places_and_bookings_and_the_api_shows_them(tmp_path):
    records = version_2(tiny_records())
    records[LONDON_AVAILABILITY]["weekly"][0]["spots"] = 4
    records[LONDON_AVAILABILITY]["booked"] = [{"start": "2027-03-02T09:00", "spots": 3}]
    catalog = Catalog(load_feed(write_feed(tmp_path / "feed.jsonl", records)).suppliers)
    _, found = catalog.slots_for(
        "london-gp", user_zone="Europe/London", window=TUESDAY, now=TUESDAY.start, max_slots=2
    )
    assert [(s.spots_total, s.spots_open) for s in found] == [(4, 1), (4, 4)]
    assert (slot(found[0]).spots_total, slot(found[0]).spots_open) == (4, 1)


@pytest.mark.parametrize(
    ("edit", "field", "reason"),
    [
        (lambda a: a["weekly"][0].update(spots=0), "weekly[0].spots", "from 1 to 1000, got 0"),
        (
            lambda a: a.update(booked=[{"start": "2027-03-02T09:00Z", "spots": 1}]),
            "booked[0].start",
            "with no UTC offset, got '2027-03-02T09:00Z'",
        ),
        (
            lambda a: a.update(booked=[{"start": "2027-03-02T09:00", "spots": -1}]),
            "booked[0].spots",
            "from 1 to 1000, got -1",
        ),
    ],
    ids=["no places", "booking with an offset", "negative booking"],
)
def test_bad_capacity_is_named(tmp_path, edit, field, reason):
    records = version_2(tiny_records())
    edit(records[LONDON_AVAILABILITY])
    with pytest.raises(FeedRejected) as caught:
        load_feed(write_feed(tmp_path / "feed.jsonl", records))
    [problem] = [e for e in caught.value.errors if e.line == 5]
    assert problem.field == field
    assert reason in problem.reason


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda a: a["weekly"][0].update(spots=2), "weekly[0].spots"),
        (lambda a: a.update(booked=[{"start": "2027-03-02T09:00", "spots": 1}]), "booked"),
    ],
    ids=["spots", "booked"],
)
def test_capacity_needs_version_2(tmp_path, edit, field):
    records = tiny_records()
    edit(records[LONDON_AVAILABILITY])
    with pytest.raises(FeedRejected) as caught:
        load_feed(write_feed(tmp_path / "feed.jsonl", records))
    [problem] = [e for e in caught.value.errors if e.line == 5]
    assert problem.field == field
    assert problem.reason.startswith("needs format_version 2, got ")
