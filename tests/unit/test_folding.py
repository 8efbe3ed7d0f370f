"""Folding updates: a supplier's overrides kept as disjoint pieces serve exactly what applying
every update in turn serves, however many updates it gets."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.model import Availability, Override, Slot, WeeklyRule, Window, folded
from tests.engine_slots import expand

MONDAY = datetime(2027, 3, 1, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
RULES = (WeeklyRule(days=frozenset(range(5)), start_minute=540, end_minute=1020, slot_minutes=30),)
WEEK = Window(start=MONDAY, end=MONDAY + timedelta(days=7))

quarter_hours = st.integers(min_value=0, max_value=7 * 24 * 4 - 1)


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    """An update of one week in March 2027: a window of quarter hours and slots inside it."""
    first = draw(quarter_hours)
    last = draw(st.integers(min_value=first + 1, max_value=first + 4 * 48))
    window = Window(
        start=MONDAY + timedelta(minutes=15 * first), end=MONDAY + timedelta(minutes=15 * last)
    )
    starts = draw(st.lists(st.integers(min_value=first, max_value=last - 1), max_size=4))
    slots = sorted(
        {
            Slot(
                start=MONDAY + timedelta(minutes=15 * s),
                end=MONDAY + timedelta(minutes=15 * s + 30),
            )
            for s in starts
        }
    )
    return Override(window=window, slots=tuple(slots))


def fold_all(updates: list[Override]) -> tuple[Override, ...]:
    """The updates folded in one by one, as a replica applies them."""
    pieces: tuple[Override, ...] = ()
    for update in updates:
        pieces = folded(pieces, update)
    return pieces


@settings(max_examples=200, deadline=None)
@given(st.lists(overrides(), max_size=12))
def test_folded_overrides_serve_what_applying_each_in_turn_serves(updates):
    in_turn = Availability(weekly=RULES, overrides=tuple(updates))
    pieces = fold_all(updates)
    as_folded = Availability(weekly=RULES, overrides=pieces)
    assert expand(as_folded, tz=LONDON, window=WEEK, not_before=MONDAY) == expand(
        in_turn, tz=LONDON, window=WEEK, not_before=MONDAY
    )
    for a, b in itertools.pairwise(pieces):
        assert a.window.end <= b.window.start, "pieces overlap or are out of order"


def test_three_thousand_updates_to_one_day_leave_one_piece():
    day = Window(start=MONDAY + timedelta(days=1), end=MONDAY + timedelta(days=2))
    updates = [
        Override(
            window=day,
            slots=(Slot(start=day.start + timedelta(minutes=k % 1000), end=day.end),),
        )
        for k in range(3000)
    ]
    pieces = fold_all(updates)
    assert pieces == (updates[-1],)


def test_pieces_that_ended_are_dropped():
    past = Override(window=Window(start=MONDAY, end=MONDAY + timedelta(hours=1)), slots=())
    later = Override(
        window=Window(start=MONDAY + timedelta(days=2), end=MONDAY + timedelta(days=3)), slots=()
    )
    assert folded((past,), later, now=MONDAY + timedelta(days=1)) == (later,)
