"""The service's slot engine against the reference one (tests/reference_slots.py), on every
zone's changes.

Both must give the same slots in the same order (instants, lengths, places) and the same
rendering (ids, both local ISO strings, offset difference, day shift), for any availability:
weekly rules that end at 24:00 or start in a gap or fold, one-offs in gaps and folds,
closures, bookings, real-time overrides, notice, and windows with microseconds.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from matcher.engine.bookable import first_bookable
from matcher.engine.budget import Budget
from matcher.engine.expansion import (
    MICROS,
    SlotArrays,
    expand,
    iter_chunks,
    make_plan,
    slot_prefix,
)
from matcher.engine.kept import Kept
from matcher.engine.rendering import admitting, render
from matcher.geo.timezones import known_zones
from matcher.geo.zonetable import DAY, PERIOD, ZoneTable, read_tzif, zone_table
from matcher.instants import from_micros as instant
from matcher.instants import to_micros as micros
from matcher.model import (
    WAKING_HOURS,
    Availability,
    LocalHours,
    OneOff,
    Override,
    Point,
    Slot,
    Supplier,
    WeeklyRule,
    Window,
)
from tests.reference_slots import expand as reference_expand
from tests.reference_slots import first_slots as reference_first_slots
from tests.reference_slots import first_slots_charged as reference_first_slots_charged
from tests.reference_slots import instant_of, iter_slots
from tests.reference_slots import render as reference_render
from tests.tzif_files import tzif

ALL_ZONES = sorted(known_zones())
EVERY_DAY = frozenset(range(7))
FIRST = 3 * DAY  # 1970-01-04: room for the day before a window
NAIVE_EPOCH = datetime(1970, 1, 1)


def utc(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def seconds(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0) -> int:
    """Seconds since the epoch of a UTC time."""
    return int(utc(year, month, day, hour, minute).timestamp())


LAST = seconds(2300) - 2 * DAY  # later years come from the changes in 8999
CHECK = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def wall(seconds: int) -> datetime:
    """A naive wall time from seconds of the wall clock since 1970."""
    return NAIVE_EPOCH + timedelta(seconds=seconds)


def changes_of(table: ZoneTable) -> list[int]:
    """A zone's changes from 1970 to 2045, and those of 8999 where a rule goes on that long."""
    found = table.utc[(table.utc >= FIRST) & (table.utc < seconds(2045))].tolist()
    if table.periodic_from is not None:
        base = table.periodic_from
        ruled = table.utc[(table.utc >= base) & (table.utc < base + PERIOD)]
        shift = (seconds(8999) - base) // PERIOD * PERIOD
        late = ruled + shift
        found += late[(late >= seconds(8999)) & (late < seconds(9000) - 2 * DAY)].tolist()
    return found


def as_tuples(slots: list[Slot]) -> list[tuple[datetime, datetime, int, int]]:
    return [(s.start, s.end, s.spots_total, s.spots_open) for s in slots]


def assert_same(
    availability: Availability, *, key: str, window: Window, not_before: datetime
) -> list[Slot]:
    """The engine expands as the reference does; returns the reference's slots."""
    expected = reference_expand(
        availability, tz=ZoneInfo(key), window=window, not_before=not_before
    )
    got = expand(availability, table=zone_table(key), window=window, not_before=not_before)
    assert as_tuples(got.slots()) == as_tuples(expected)
    return expected


def assert_same_rendering(slots: list[Slot], *, supplier_id: str, key: str, user_key: str) -> None:
    arrays = SlotArrays(
        np.array([micros(s.start) for s in slots], dtype=np.int64),
        np.array([micros(s.end) for s in slots], dtype=np.int64),
        np.array([s.spots_total for s in slots], dtype=np.int64),
        np.array([s.spots_open for s in slots], dtype=np.int64),
    )
    got = render(
        arrays, supplier_id=supplier_id, supplier=zone_table(key), user=zone_table(user_key)
    ).rows()
    expected = [
        reference_render(
            s, supplier_id=supplier_id, supplier_tz=ZoneInfo(key), user_tz=ZoneInfo(user_key)
        )
        for s in slots
    ]
    assert got == expected


# every zone's changes, one fixed availability


def around_change(table: ZoneTable, change: int) -> tuple[Availability, Window]:
    """Slots every 30 and every 45 minutes all day, one-offs in the change's gap or fold and
    at its edges, one of them booked, and a window of the day and a bit around it."""
    before, after = table.offset_at(np.array([change - 1, change], dtype=np.int64)).tolist()
    edges = [change + before, change + after]
    middle = (min(edges) + max(edges)) // 2 // 60 * 60
    one_offs = tuple(
        OneOff(start=wall(w // 60 * 60), minutes=30, spots=2) for w in [*edges, middle]
    )
    availability = Availability(
        weekly=(
            WeeklyRule(EVERY_DAY, 0, 1440, 30, spots=2),
            WeeklyRule(EVERY_DAY, 15, 1440, 45),
        ),
        one_off=one_offs,
        booked=((one_offs[2].start, 1), (wall(change // DAY * DAY + 9 * 3600), 2)),
    )
    window = Window(instant((change - 30 * 3600) * MICROS), instant((change + 30 * 3600) * MICROS))
    return availability, window


@pytest.mark.parametrize("key", ALL_ZONES)
def test_every_zone_around_its_changes(key: str) -> None:
    """Around the first change after 1970, the last before 2037, the first after and one in
    8999: the same slots, the same rendering, and the same again with an override."""
    table = zone_table(key)
    changes = changes_of(table)
    picked = sorted(
        {
            *changes[:1],
            *[c for c in changes if c < seconds(2037)][-1:],
            *[c for c in changes if c >= seconds(2037)][:1],
            *changes[-1:],
        }
    )
    for change in picked or [seconds(2027, 1, 15)]:
        availability, window = around_change(table, change)
        found = assert_same(availability, key=key, window=window, not_before=window.start)
        assert_same_rendering(found[::7], supplier_id="s-1", key=key, user_key="America/St_Johns")
        override = Override(
            window=Window(instant((change - 3600) * MICROS), instant((change + 5400) * MICROS)),
            slots=tuple(
                Slot(instant(t * MICROS), instant((t + 1200) * MICROS))
                for t in range(change - 3600, change + 5400, 1500)
            ),
        )
        assert_same(
            replace(availability, overrides=(override,)),
            key=key,
            window=window,
            not_before=window.start,
        )


# random availability around random changes


SLOT_MINUTES = st.sampled_from([5, 15, 30, 45, 60, 90, 120, 240]) | st.integers(5, 240)


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, Availability, Window, datetime]:
    """A zone, an availability, a window and a notice floor, mostly around one of the zone's
    changes, with wall times drawn in and around its gap or fold."""
    key = draw(st.sampled_from(ALL_ZONES))
    table = zone_table(key)
    changes = changes_of(table)
    if changes and draw(st.integers(0, 3)):
        anchor = draw(st.sampled_from(changes))
    else:
        anchor = draw(st.integers(FIRST, LAST))
    before, after = table.offset_at(np.array([anchor - 1, anchor], dtype=np.int64)).tolist()
    low, high = min(before, after) + anchor, max(before, after) + anchor
    near_wall = st.integers(low - 3 * 3600, high + 3 * 3600).map(lambda w: w // 60 * 60)
    odd_micros = st.just(0) | st.integers(0, MICROS - 1)

    start = (anchor + draw(st.integers(-3 * DAY, DAY))) * MICROS + draw(odd_micros)
    window = Window(instant(start), instant(start + draw(st.integers(0, 5 * DAY)) * MICROS))
    not_before = instant(start + draw(st.integers(-DAY, DAY)) * MICROS + draw(odd_micros))

    rules: list[WeeklyRule] = []
    for _ in range(draw(st.integers(0, 3))):
        if rules and draw(st.integers(0, 2)) == 0:  # the same wall starts again, other places
            again = draw(st.sampled_from(rules))
            end = draw(st.sampled_from([again.end_minute, 1440]))
            rules.append(replace(again, end_minute=end, spots=draw(st.integers(1, 3))))
            continue
        length = draw(SLOT_MINUTES)
        if draw(st.booleans()):  # a rule through a wall time near the change
            minute = draw(near_wall) % DAY // 60
            first = max(0, minute - length * draw(st.integers(0, 3)))
        else:
            first = draw(st.integers(0, 1439))
        end = 1440 if draw(st.booleans()) else draw(st.integers(first + 1, 1440))
        days = draw(st.just(EVERY_DAY) | st.frozensets(st.integers(0, 6), min_size=1))
        rules.append(WeeklyRule(days, first, end, length, spots=draw(st.integers(1, 3))))
    rule_walls = [
        (
            wall((low // DAY + day) * DAY + (r.start_minute + r.slot_minutes * k) * 60),
            r.slot_minutes,
        )
        for r in rules
        for day in (-1, 0, 1)
        for k in range(3)
        if r.start_minute + r.slot_minutes * (k + 1) <= r.end_minute
    ]
    one_offs = []
    for _ in range(draw(st.integers(0, 4))):
        if rule_walls and draw(st.booleans()):  # a weekly slot offered again as a one-off
            start, minutes = draw(st.sampled_from(rule_walls))
        else:
            start, minutes = wall(draw(near_wall)), draw(SLOT_MINUTES)
        one_offs.append(OneOff(start=start, minutes=minutes, spots=draw(st.integers(1, 3))))
    offered = [o.start for o in one_offs] + [w for w, _ in rule_walls]
    booked = [
        (draw(st.sampled_from(offered)), draw(st.integers(1, 3)))
        for _ in range(draw(st.integers(0, 4)) if offered else 0)
    ]
    closed = {
        date.fromordinal(draw(near_wall) // DAY + 719_163) for _ in range(draw(st.integers(0, 2)))
    }
    tz = ZoneInfo(key)
    feed_slots = [
        Slot(at, at + timedelta(minutes=minutes))
        for w, minutes in rule_walls + [(o.start, o.minutes) for o in one_offs]
        if (at := instant_of(w, tz)) is not None
    ]
    overrides: list[Override] = []
    for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 2)) == 0 else 0):
        first = (anchor + draw(st.integers(-DAY, DAY))) * MICROS + draw(odd_micros)
        last = first + draw(st.integers(1, 2 * DAY)) * MICROS
        slots: list[Slot] = []
        for _ in range(draw(st.integers(0, 4))):
            earlier = [s for o in overrides for s in o.slots] + slots + feed_slots
            if earlier and draw(st.integers(0, 2)) == 0:  # a slot listed already
                slots.append(draw(st.sampled_from(earlier)))
                continue
            at = draw(st.integers(first, last - 1))
            if draw(st.booleans()):  # on the minute, as the API's updates mostly are
                at = at // (60 * MICROS) * 60 * MICROS
            slots.append(Slot(instant(at), instant(at + draw(SLOT_MINUTES) * 60 * MICROS)))
        inside = tuple(s for s in slots if first <= micros(s.start) < last)  # as the API asks
        overrides.append(Override(window=Window(instant(first), instant(last)), slots=inside))
    availability = Availability(
        weekly=tuple(rules),
        one_off=tuple(one_offs),
        closed=frozenset(closed),
        booked=tuple(booked),
        overrides=tuple(overrides),
    )
    return key, availability, window, not_before


@CHECK
@given(case=cases(), user_key=st.sampled_from(ALL_ZONES))
def test_random_availability_expands_and_renders_as_the_reference(
    case: tuple[str, Availability, Window, datetime], user_key: str
) -> None:
    key, availability, window, not_before = case
    found = assert_same(availability, key=key, window=window, not_before=not_before)
    assert_same_rendering(found, supplier_id="sup-ü|1", key=key, user_key=user_key)


@CHECK
@given(
    case=cases(),
    user_key=st.sampled_from(ALL_ZONES),
    limit=st.integers(1, 12),
    hours=st.none() | st.tuples(st.integers(0, 1440), st.integers(0, 1440)),
    first_days=st.integers(1, 4),
)
def test_the_first_slots_in_local_hours_are_the_references(
    case: tuple[str, Availability, Window, datetime],
    user_key: str,
    limit: int,
    hours: tuple[int, int] | None,
    first_days: int,
) -> None:
    """What Match takes: the first ``limit`` slots in the user's hours, day chunk by chunk."""
    key, availability, window, not_before = case
    tz, user_tz, table = ZoneInfo(key), ZoneInfo(user_key), zone_table(key)
    wanted = None if hours is None or hours[0] == hours[1] else LocalHours(*hours)
    reference = iter_slots(availability, tz=tz, window=window, not_before=not_before)
    if wanted is not None:
        reference = (s for s in reference if wanted.admits(s.start.astimezone(user_tz)))
    admit = None if wanted is None else admitting(wanted, user=zone_table(user_key))
    prefix, admitted = slot_prefix(
        availability, table=table, window=window, not_before=not_before, limit=limit, admit=admit
    )
    got = prefix.take(np.flatnonzero(admitted)[:limit])
    assert as_tuples(got.slots()) == as_tuples(list(islice(reference, limit)))
    chunks = iter_chunks(
        availability, table=table, window=window, not_before=not_before, first_days=first_days
    )
    everything = SlotArrays.joined(list(chunks))
    assert as_tuples(everything.slots()) == as_tuples(
        reference_expand(availability, tz=tz, window=window, not_before=not_before)
    )


# many suppliers at once, as Match asks


@st.composite
def suppliers_around(draw: st.DrawFn) -> tuple[list[Supplier], Window, datetime]:
    """A window (often across some zone's change), a "now", and suppliers in random zones with
    weekly rules, one-offs, closures, bookings and notice near the window, a few overridden."""
    changing = draw(st.sampled_from(ALL_ZONES))
    changes = changes_of(zone_table(changing))
    if changes and draw(st.booleans()):
        anchor = draw(st.sampled_from(changes))
    else:
        anchor = draw(st.integers(FIRST, LAST))
    start = (anchor + draw(st.integers(-3 * DAY, DAY))) * MICROS + draw(st.sampled_from([0, 0, 7]))
    window = Window(instant(start), instant(start + draw(st.integers(0, 8 * DAY)) * MICROS))
    now = instant(start + draw(st.integers(-2 * DAY, DAY)) * MICROS)
    suppliers = []
    for k in range(draw(st.integers(1, 6))):
        key = draw(st.sampled_from([changing, "UTC", "Europe/London", *ALL_ZONES[::40]]))
        local = start // MICROS + int(zone_table(key).offset_at(np.array([start // MICROS]))[0])
        rules = []
        for _ in range(draw(st.integers(0, 3))):
            length = draw(SLOT_MINUTES)
            first = draw(st.integers(0, 1439))
            end = 1440 if draw(st.booleans()) else draw(st.integers(first + 1, 1440))
            days = draw(st.just(EVERY_DAY) | st.frozensets(st.integers(0, 6), min_size=1))
            rules.append(WeeklyRule(days, first, end, length, spots=draw(st.integers(1, 3))))
        near = st.integers(local - 2 * DAY, local + 6 * DAY).map(lambda w: wall(w // 60 * 60))
        one_offs = tuple(
            OneOff(start=draw(near), minutes=draw(SLOT_MINUTES), spots=draw(st.integers(1, 3)))
            for _ in range(draw(st.integers(0, 3)))
        )
        offered = [o.start for o in one_offs] + [
            wall((local // DAY + d) * DAY + r.start_minute * 60) for r in rules for d in (0, 1, 2)
        ]
        availability = Availability(
            weekly=tuple(rules),
            one_off=one_offs,
            closed=frozenset(draw(near).date() for _ in range(draw(st.integers(0, 2)))),
            booked=tuple(
                (draw(st.sampled_from(offered)), draw(st.integers(1, 3)))
                for _ in range(draw(st.integers(0, 3)) if offered else 0)
            ),
            min_notice=timedelta(minutes=draw(st.integers(0, 3000))),
        )
        if draw(st.integers(0, 5)) == 0:
            at = instant(start + draw(st.integers(0, DAY)) * MICROS)
            extra = Slot(at, at + timedelta(minutes=30))
            cover = Window(at - timedelta(hours=2), at + timedelta(hours=2))
            availability = replace(availability, overrides=(Override(cover, (extra,)),))
        suppliers.append(
            Supplier(
                id=f"s-{k}",
                name="",
                specialties=(),
                languages=(),
                modalities=frozenset(),
                timezone=key,
                location=Point(0.0, 0.0),
                availability=availability,
            )
        )
    return suppliers, window, now


@CHECK
@given(
    case=suppliers_around(),
    user_key=st.sampled_from(ALL_ZONES),
    limit=st.integers(1, 12),
    hours=st.none() | st.tuples(st.integers(0, 1440), st.integers(0, 1440)),
)
def test_many_suppliers_at_once_get_what_each_gets_from_the_reference(
    case: tuple[list[Supplier], Window, datetime],
    user_key: str,
    limit: int,
    hours: tuple[int, int] | None,
) -> None:
    """What Match does: every candidate's first slots in the user's hours, expanded and
    rendered together, are each the reference's, expanded and rendered one by one."""
    suppliers, window, now = case
    wanted = None if hours is None or hours[0] == hours[1] else LocalHours(*hours)
    got = first_bookable(
        suppliers, window=window, now=now, user_zone=user_key, local_hours=wanted, limit=limit
    )
    for supplier, found in zip(suppliers, got, strict=True):
        expected = reference_first_slots(
            supplier.availability,
            supplier_id=supplier.id,
            tz=ZoneInfo(supplier.timezone),
            user_tz=ZoneInfo(user_key),
            window=window,
            not_before=now + supplier.availability.min_notice,
            local_hours=wanted,
            limit=limit,
        )
        assert found.rows() == expected


@CHECK
@given(
    case=suppliers_around(),
    user_key=st.sampled_from(ALL_ZONES),
    limit=st.integers(1, 12),
    hours=st.none() | st.tuples(st.integers(0, 1440), st.integers(0, 1440)),
    preferring=st.lists(st.booleans(), min_size=6, max_size=6),
    slots=st.none() | st.integers(0, 6) | st.integers(0, 40),
)
def test_many_suppliers_charge_a_budget_as_reading_one_by_one_does(
    case: tuple[list[Supplier], Window, datetime],
    user_key: str,
    limit: int,
    hours: tuple[int, int] | None,
    preferring: list[bool],
    slots: int | None,
) -> None:
    """With a slot budget (often spent part way), and remote suppliers' preferred hours: each
    supplier's slots, what is left of the budget and whether it ran out are the reference's,
    reading every supplier's slots one by one, in order."""
    suppliers, window, now = case
    wanted = None if hours is None or hours[0] == hours[1] else LocalHours(*hours)
    preferred = [WAKING_HOURS if p else None for p in preferring[: len(suppliers)]]
    ours, theirs = Budget(slots=slots), Budget(slots=slots)
    got = first_bookable(
        suppliers,
        window=window,
        now=now,
        user_zone=user_key,
        local_hours=wanted,
        limit=limit,
        budget=ours,
        preferred=preferred,
    )
    expected = [
        reference_first_slots_charged(
            supplier,
            user_tz=ZoneInfo(user_key),
            window=window,
            now=now,
            local_hours=wanted,
            limit=limit,
            budget=theirs,
            preferred_hours=hours_first,
        )
        for supplier, hours_first in zip(suppliers, preferred, strict=True)
    ]
    event("budget spent" if theirs.exhausted else "budget not spent")
    event("preferred hours" if any(preferred) else "no preferred hours")
    assert [found.rows() for found in got] == expected
    assert (ours.slots, ours.exhausted) == (theirs.slots, theirs.exhausted)


# named cases


def test_new_york_spring_forward_and_fall_back_as_documented() -> None:
    """docs/feeds.md's worked example: no 02:00 or 02:30 in March, 01:00 and 01:30 once in
    November."""
    night = Availability(weekly=(WeeklyRule(frozenset({6}), 0, 240, 30),))
    table = zone_table("America/New_York")
    march = Window(utc(2027, 3, 14, 5), utc(2027, 3, 14, 15))
    shown = render(
        expand(night, table=table, window=march, not_before=march.start),
        supplier_id="ny",
        supplier=table,
        user=table,
    )
    assert [s.supplier_local_start for s in shown] == [
        "2027-03-14T00:00:00-05:00",
        "2027-03-14T00:30:00-05:00",
        "2027-03-14T01:00:00-05:00",
        "2027-03-14T01:30:00-05:00",
        "2027-03-14T03:00:00-04:00",
        "2027-03-14T03:30:00-04:00",
    ]
    november = Window(utc(2027, 11, 7, 4), utc(2027, 11, 7, 14))
    walls = render(
        expand(night, table=table, window=november, not_before=november.start),
        supplier_id="ny",
        supplier=table,
        user=table,
    )
    assert [s.supplier_local_start for s in walls if "T01:" in s.supplier_local_start] == [
        "2027-11-07T01:00:00-04:00",
        "2027-11-07T01:30:00-04:00",
    ]


def test_a_window_with_microseconds_renders_them_as_isoformat_does() -> None:
    start = utc(2027, 3, 14, 5) + timedelta(microseconds=250)
    slots = [Slot(start, start + timedelta(minutes=30))]
    assert_same_rendering(slots, supplier_id="x", key="Africa/Monrovia", user_key="Asia/Kathmandu")


def test_an_empty_window_and_a_floor_past_it_give_nothing() -> None:
    availability = Availability(weekly=(WeeklyRule(EVERY_DAY, 0, 1440, 30),))
    table = zone_table("Europe/London")
    window = Window(utc(2027, 3, 14, 5), utc(2027, 3, 14, 5))
    assert len(expand(availability, table=table, window=window, not_before=window.start)) == 0
    later = Window(window.start, window.start + timedelta(days=1))
    past = later.end + timedelta(seconds=1)
    assert len(expand(availability, table=table, window=later, not_before=past)) == 0


def test_plans_are_kept_for_recent_availabilities_without_writing_to_them() -> None:
    plans = Kept(2, make_plan)
    one, two, three = (
        Availability(weekly=(WeeklyRule(EVERY_DAY, 540, 600 + k, 30),)) for k in range(3)
    )
    before = dict(one.__dict__)
    first = plans(one)
    assert plans(one) is first
    assert one.__dict__ == before  # the catalogue's objects stay as they were
    plans(two), plans(three)  # one is the least recent: dropped
    assert plans(one) is not first
    same_rules = Availability(weekly=one.weekly)
    assert plans(same_rules) is not plans(one)  # by object, not by value
    assert plans(same_rules).week is plans(one).week  # weekly rules are shared


def offered_thrice(*bookings: datetime) -> Availability:
    """09:00 and 09:30 offered by three rules, in this order, with 2, 1 and 3 places; two
    places booked at each booking."""
    return Availability(
        weekly=tuple(WeeklyRule(EVERY_DAY, 540, 600, 30, spots=n) for n in (2, 1, 3)),
        booked=tuple((b, 2) for b in bookings),
    )


def test_a_wall_start_offered_again_on_a_steady_day_sells_the_fewest_places() -> None:
    """London, 2027-03-01, one offset all day: the offer with the fewest places stands for the
    wall time, so 09:00 (that offer full) is not sold and 09:30 has one place."""
    window = Window(utc(2027, 3, 1), utc(2027, 3, 2))
    found = assert_same(
        offered_thrice(datetime(2027, 3, 1, 9)),
        key="Europe/London",
        window=window,
        not_before=window.start,
    )
    assert [(s.start.hour, s.start.minute, s.spots_total, s.spots_open) for s in found] == [
        (9, 30, 1, 1)
    ]
    with_one_off = replace(  # the same day, expanded on the general path
        offered_thrice(datetime(2027, 3, 1, 9)),
        one_off=(OneOff(start=datetime(2027, 3, 1, 15), minutes=30),),
    )
    found = assert_same(with_one_off, key="Europe/London", window=window, not_before=window.start)
    assert [(s.start.hour, s.start.minute, s.spots_total, s.spots_open) for s in found] == [
        (9, 30, 1, 1),
        (15, 0, 1, 1),
    ]


def test_a_one_off_at_a_weekly_slot_on_a_steady_day_sells_the_fewest_places() -> None:
    """09:00 and 09:30 have 2 places a week; one-offs offer 09:00 with 1 and 09:30 with 3."""
    availability = Availability(
        weekly=(WeeklyRule(EVERY_DAY, 540, 600, 30, spots=2),),
        one_off=(
            OneOff(start=datetime(2027, 3, 1, 9, 0), minutes=30, spots=1),
            OneOff(start=datetime(2027, 3, 1, 9, 30), minutes=30, spots=3),
        ),
    )
    window = Window(utc(2027, 3, 1), utc(2027, 3, 2))
    found = assert_same(availability, key="Europe/London", window=window, not_before=window.start)
    assert [(s.start.minute, s.spots_total, s.spots_open) for s in found] == [(0, 1, 1), (30, 2, 2)]


def test_a_wall_start_offered_again_on_a_changing_day_sells_the_fewest_places_too() -> None:
    """New York's spring-forward day, and London's with an override: each wall time is mapped
    on its own, and the offer with the fewest places still stands for the wall time."""
    march_14 = Window(utc(2027, 3, 14, 5), utc(2027, 3, 15, 5))
    found = assert_same(
        offered_thrice(datetime(2027, 3, 14, 9)),
        key="America/New_York",
        window=march_14,
        not_before=march_14.start,
    )
    assert [(s.start.minute, s.spots_total, s.spots_open) for s in found] == [(30, 1, 1)]
    nothing_there = Override(window=Window(instant(0), instant(MICROS)), slots=())
    march_1 = Window(utc(2027, 3, 1), utc(2027, 3, 2))
    found = assert_same(
        replace(offered_thrice(datetime(2027, 3, 1, 9)), overrides=(nothing_there,)),
        key="Europe/London",
        window=march_1,
        not_before=march_1.start,
    )
    assert [(s.start.minute, s.spots_total, s.spots_open) for s in found] == [(30, 1, 1)]


def test_a_fold_across_midnight_lists_the_days_in_order_as_the_reference() -> None:
    """St John's fell back from 00:01 to 23:01 on 1987-10-25. An override slot at the repeated
    23:30 belongs to the 24th and comes before the 25th's 00:00, though it starts later."""
    change = seconds(1987, 10, 25, 2, 31)
    repeat = Slot(instant((change + 29 * 60) * MICROS), instant((change + 59 * 60) * MICROS))
    availability = Availability(
        weekly=(WeeklyRule(EVERY_DAY, 0, 1440, 30),),
        overrides=(Override(window=Window(repeat.start, repeat.end), slots=(repeat,)),),
    )
    window = Window(instant((change - 3600) * MICROS), instant((change + 3600) * MICROS))
    found = assert_same(
        availability, key="America/St_Johns", window=window, not_before=window.start
    )
    assert repeat in found
    assert found != sorted(found)


def test_a_day_whose_changes_cancel_out_is_mapped_as_the_reference_maps_it() -> None:
    """A made-up zone: on 2027-03-10 midnight falls in a gap and the clocks go back at 20:00
    (one offset at both midnights, but midnight does not happen); on 2027-03-20 a fold at
    00:00-01:00 and a gap at 22:00-23:00 (same offsets at both midnights, which happen)."""
    data = tzif(
        "<+00>0",
        times=tuple(seconds(2027, 3, d, h) for d, h in [(10, 0), (10, 19), (20, 1), (20, 23)]),
        types=(0, 3600, 0, -3600, 0),
    )
    table, tz = read_tzif(data, key="made-up"), ZoneInfo.from_file(io.BytesIO(data))
    availability = Availability(
        weekly=(WeeklyRule(EVERY_DAY, 0, 1440, 30),),
        one_off=(OneOff(start=datetime(2027, 3, 20, 22, 15), minutes=30),),
    )
    window = Window(utc(2027, 3, 9), utc(2027, 3, 22))
    expected = reference_expand(availability, tz=tz, window=window, not_before=window.start)
    got = expand(availability, table=table, window=window, not_before=window.start)
    assert as_tuples(got.slots()) == as_tuples(expected)
    shown = render(got, supplier_id="x", supplier=table, user=zone_table("UTC")).rows()
    assert shown == [
        reference_render(s, supplier_id="x", supplier_tz=tz, user_tz=ZoneInfo("UTC"))
        for s in expected
    ]


def test_a_window_longer_than_the_weeks_laid_out() -> None:
    """The engine itself puts no bound on a window: 80 days, steady and across changes."""
    availability = Availability(weekly=(WeeklyRule(frozenset({0, 2, 4}), 480, 1080, 45),))
    window = Window(utc(2027, 1, 1), utc(2027, 3, 22))
    for key in ("Asia/Kolkata", "Europe/London", "America/Santiago"):
        assert_same(availability, key=key, window=window, not_before=window.start)
