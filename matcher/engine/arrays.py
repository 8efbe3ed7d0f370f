"""Availability expanded to slots as numpy arrays: the same slots as ``matcher.slots.expand``.

Every local day of a window at once: the weekly rules' wall times are laid over the days, turned
into instants through the zone's table, and the one-offs, closures, bookings and real-time
overrides applied as array operations. The daylight-saving policy is the one in
``matcher.slots`` (a wall time in a gap yields no slot, one in a fold yields its first
occurrence, a slot lasts its length in elapsed minutes), and so are its finer points, which the
tests pin against it: a local day with one offset all through it (``steady_offset``) maps wall
times with that offset, and a wall time offered twice with the same length is sold once, the
fewest places first on such a day, the first offered with a place open on any other.

Instants are int64 microseconds since the epoch: windows, notice and overrides carry them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from matcher.engine.zonetable import DAY, ZoneTable
from matcher.slots import Availability, Slot, Window

Ints = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

MICROS = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
DAY_MINUTES = 1440
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: Local days expanded before the first look at how many slots there are: a 7-day window's.
FIRST_DAYS = 9
_ONE_OFF_RANK = 1 << 40  # one-offs come after every weekly rule's slots in ``wall_starts``
_EMPTY = np.empty(0, dtype=np.int64)


def micros(instant: datetime) -> int:
    """An aware instant as whole microseconds since the epoch, exactly."""
    return (instant - EPOCH) // MICROSECOND


def instant(value: int) -> datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, eq=False)
class SlotArrays:
    """Slots as parallel arrays, in the order ``matcher.slots.iter_slots`` yields them."""

    start: Ints  # microseconds since the epoch
    end: Ints
    spots_total: Ints
    spots_open: Ints

    def __len__(self) -> int:
        return len(self.start)

    @property
    def minutes(self) -> Ints:
        """Each slot's real elapsed length in whole minutes."""
        return (self.end - self.start) // (60 * MICROS)

    def take(self, chosen: npt.NDArray[np.intp] | Flags | slice) -> SlotArrays:
        """The slots an index, mask or slice picks."""
        return SlotArrays(
            self.start[chosen], self.end[chosen], self.spots_total[chosen], self.spots_open[chosen]
        )

    def slots(self) -> list[Slot]:
        """As ``Slot`` values."""
        return [
            Slot(instant(a), instant(b), spots_total=t, spots_open=o)
            for a, b, t, o in zip(
                self.start.tolist(),
                self.end.tolist(),
                self.spots_total.tolist(),
                self.spots_open.tolist(),
                strict=True,
            )
        ]

    @staticmethod
    def joined(parts: list[SlotArrays]) -> SlotArrays:
        """Several runs of slots one after another."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return SlotArrays(_EMPTY, _EMPTY, _EMPTY, _EMPTY)
        return SlotArrays(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("start", "end", "spots_total", "spots_open")


@dataclass(frozen=True, eq=False)
class _Offered:
    """Wall starts as arrays: minute (of the week or since 1970), length, places, and rank, the
    position in ``Availability.wall_starts`` order that settles a repeat on a changing day."""

    minute: Ints
    length: Ints
    spots: Ints
    rank: Ints

    def take(self, chosen: npt.NDArray[np.intp] | Flags | slice) -> _Offered:
        """The entries an index, mask or slice picks."""
        return _Offered(
            self.minute[chosen], self.length[chosen], self.spots[chosen], self.rank[chosen]
        )

    @staticmethod
    def of(rows: list[tuple[int, int, int, int]]) -> _Offered:
        """Entries from (minute, length, places, rank) rows, sorted by all four."""
        table = np.array(sorted(rows), dtype=np.int64).reshape(-1, 4)
        return _Offered(table[:, 0], table[:, 1], table[:, 2], table[:, 3])


@dataclass(frozen=True, eq=False)
class _Override:
    """A real-time override as arrays: its window and its slots in order, in microseconds."""

    start: int
    end: int
    slots: SlotArrays


@dataclass(frozen=True, eq=False)
class Plan:
    """What expanding one availability needs, worked out once: its weekly rules as a week of
    wall starts, and its one-offs, bookings, closures and overrides as sorted arrays."""

    week: _Offered  # minute of the week (Monday 00:00 is 0), every repeat kept
    steady_week: _Offered  # the same without repeats, fewest places kept: a steady day's slots
    one_off: _Offered  # minute since 1970-01-01 00:00 wall time
    booked_minute: Ints  # minute since 1970 of each booked wall start, ascending
    booked_places: Ints
    closed: Ints  # local dates as days since 1970, ascending
    overrides: tuple[_Override, ...]


def plan_of(availability: Availability) -> Plan:
    """An availability's plan, made on first use and kept on the (frozen) object, as its own
    cached properties are."""
    found = availability.__dict__.get("_engine_plan")
    if found is None:
        found = _plan(availability)
        object.__setattr__(availability, "_engine_plan", found)
    assert isinstance(found, Plan)
    return found


def _plan(availability: Availability) -> Plan:
    """Builds a plan (see ``plan_of``)."""
    week = _Offered.of(
        [
            (
                weekday * DAY_MINUTES + minute,
                rule.slot_minutes,
                rule.spots,
                k * 2 * DAY_MINUTES + minute,
            )
            for k, rule in enumerate(availability.weekly)
            for weekday in rule.days
            for minute in rule.minutes
        ]
    )
    first = np.ones(len(week.minute), dtype=bool)
    first[1:] = (np.diff(week.minute) != 0) | (np.diff(week.length) != 0)
    one_off = _Offered.of(
        [
            (_wall_minute(o.start), o.minutes, o.spots, _ONE_OFF_RANK + k)
            for k, o in enumerate(availability.one_off)
        ]
    )
    taken: dict[int, int] = {}
    for wall, places in availability.booked:
        taken[_wall_minute(wall)] = taken.get(_wall_minute(wall), 0) + places
    booked = sorted(taken.items())
    return Plan(
        week=week,
        steady_week=week.take(first),
        one_off=one_off,
        booked_minute=np.array([m for m, _ in booked], dtype=np.int64),
        booked_places=np.array([p for _, p in booked], dtype=np.int64),
        closed=np.array(
            sorted(d.toordinal() - EPOCH_ORDINAL for d in availability.closed), dtype=np.int64
        ),
        overrides=tuple(
            _Override(
                start=micros(o.window.start),
                end=micros(o.window.end),
                slots=SlotArrays(
                    np.array([micros(s.start) for s in o.slots], dtype=np.int64),
                    np.array([micros(s.end) for s in o.slots], dtype=np.int64),
                    np.array([s.spots_total for s in o.slots], dtype=np.int64),
                    np.array([s.spots_open for s in o.slots], dtype=np.int64),
                ),
            )
            for o in availability.overrides
        ),
    )


def _wall_minute(wall: datetime) -> int:
    """A naive wall time's minute since 1970-01-01 00:00, seconds dropped as ``wall_starts``
    drops them."""
    return (wall.toordinal() - EPOCH_ORDINAL) * DAY_MINUTES + wall.hour * 60 + wall.minute


def expand(
    availability: Availability, *, table: ZoneTable, window: Window, not_before: datetime
) -> SlotArrays:
    """Every slot starting inside ``window`` and no earlier than ``not_before``, in order."""
    return SlotArrays.joined(
        list(iter_chunks(availability, table=table, window=window, not_before=not_before))
    )


def first_slots(
    availability: Availability,
    *,
    table: ZoneTable,
    window: Window,
    not_before: datetime,
    limit: int,
    admit: Callable[[SlotArrays], Flags] | None = None,
) -> SlotArrays:
    """The first ``limit`` slots of ``expand`` that ``admit`` lets through (all if None),
    expanding only as many local days as it takes."""
    found: list[SlotArrays] = []
    count = 0
    for chunk in iter_chunks(availability, table=table, window=window, not_before=not_before):
        if admit is not None:
            chunk = chunk.take(admit(chunk))
        found.append(chunk.take(slice(0, limit - count)))
        count += len(found[-1])
        if count >= limit:
            break
    return SlotArrays.joined(found)


def iter_chunks(
    availability: Availability,
    *,
    table: ZoneTable,
    window: Window,
    not_before: datetime,
    first_days: int = FIRST_DAYS,
) -> Iterator[SlotArrays]:
    """The slots of ``expand`` in runs of whole local days: ``first_days`` days, then the rest,
    so that a caller wanting the first few slots of a long window stops early."""
    keep_start = max(micros(window.start), micros(not_before))
    keep_end = micros(window.end)
    if keep_start >= keep_end:
        return
    edges = np.array([keep_start // MICROS, keep_end // MICROS], dtype=np.int64)
    local_days = (edges + table.offset_at(edges)) // DAY
    first, last = int(local_days[0]) - 1, int(local_days[1]) + 1
    plan = plan_of(availability)
    while first <= last:
        upto = min(last, first + first_days - 1)
        yield _expand_days(plan, table=table, days=(first, upto), keep=(keep_start, keep_end))
        first, first_days = upto + 1, last - upto


def _expand_days(
    plan: Plan, *, table: ZoneTable, days: tuple[int, int], keep: tuple[int, int]
) -> SlotArrays:
    """The slots of local days ``days`` (first and last, days since 1970) starting in
    ``keep`` (microseconds, half open), in order."""
    first, last = days
    offset, steady = _midnights(table, first=first, last=last)
    bounds = np.array([first, last + 1], dtype=np.int64) * DAY_MINUTES
    one_off = plan.one_off.take(slice(*np.searchsorted(plan.one_off.minute, bounds)))
    simple = bool(steady.all()) and not plan.overrides and not len(one_off.minute)
    offered = _week_days(plan.steady_week if simple else plan.week, first=first, last=last)
    if len(one_off.minute):
        offered = _Offered(
            *(np.concatenate([getattr(offered, f), getattr(one_off, f)]) for f in _OFFERED)
        )
    day = offered.minute // DAY_MINUTES
    if len(plan.closed):
        open_day = ~_member(day, plan.closed)
        offered, day = offered.take(open_day), day[open_day]
    spots_open = offered.spots - _taken(plan, offered.minute)
    if simple:
        chosen = np.flatnonzero(spots_open > 0)
    else:
        fewest_first = steady if not plan.overrides else np.zeros_like(steady)
        chosen = _one_per_wall(
            offered, spots_open=spots_open, fewest_first=fewest_first[day - first]
        )
    offered, spots_open, day = offered.take(chosen), spots_open[chosen], day[chosen]
    walls = offered.minute * 60
    starts = walls - offset[day - first]  # a steady day's wall times, mapped as matcher.slots does
    real = np.ones(len(walls), dtype=bool)
    if not simple:
        changing = ~steady[day - first]
        starts[changing], real[changing] = table.instants(walls[changing])
    starts = starts * MICROS
    inside = real & (keep[0] <= starts) & (starts < keep[1])
    found = SlotArrays(
        starts[inside],
        starts[inside] + offered.length[inside] * (60 * MICROS),
        offered.spots[inside],
        spots_open[inside],
    )
    if plan.overrides:
        return _overridden(found, plan=plan, table=table, days=days, keep=keep, day=day[inside])
    if simple:
        return found  # one offset a day: wall order is instant order
    return found.take(np.lexsort((found.end, found.start, day[inside])))


def _midnights(table: ZoneTable, *, first: int, last: int) -> tuple[Ints, Flags]:
    """For each local day from ``first`` to ``last``: the offset of its midnight, and whether
    the day is steady, as ``matcher.slots.steady_offset`` has it (the same offset at this
    midnight and the next, and this midnight exists)."""
    midnights = np.arange(first, last + 2, dtype=np.int64) * DAY
    offset = table.wall_offset(midnights)
    exists = midnights - offset + table.offset_at(midnights - offset) == midnights
    return offset, (offset[:-1] == offset[1:]) & exists[:-1]


_OFFERED = ("minute", "length", "spots", "rank")


def _week_days(week: _Offered, *, first: int, last: int) -> _Offered:
    """A week's wall starts laid over local days ``first`` to ``last``, minutes since 1970."""
    monday = first - (first + 3) % 7  # 1970-01-01 was a Thursday
    weeks = (last - monday) // 7 + 1
    minutes = (
        (monday + 7 * np.arange(weeks, dtype=np.int64))[:, None] * DAY_MINUTES + week.minute
    ).ravel()
    lo, hi = np.searchsorted(minutes, [first * DAY_MINUTES, (last + 1) * DAY_MINUTES])
    return _Offered(
        minutes[lo:hi],
        np.tile(week.length, weeks)[lo:hi],
        np.tile(week.spots, weeks)[lo:hi],
        np.tile(week.rank, weeks)[lo:hi],
    )


def _member(values: Ints, sorted_set: Ints) -> Flags:
    """Whether each value is in an ascending array."""
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values  # type: ignore[no-any-return]


def _taken(plan: Plan, minutes: Ints) -> Ints | int:
    """Places already booked at each wall start."""
    if not len(plan.booked_minute):
        return 0
    at = np.minimum(np.searchsorted(plan.booked_minute, minutes), len(plan.booked_minute) - 1)
    return np.where(plan.booked_minute[at] == minutes, plan.booked_places[at], 0)


def _one_per_wall(
    offered: _Offered, *, spots_open: Ints, fewest_first: Flags
) -> npt.NDArray[np.intp]:
    """Which entries make slots when a wall start and length may be offered more than once,
    in wall order. Where ``fewest_first`` (a steady day without overrides) the offer with the
    fewest places stands for all and makes no slot when full (``_day_slots``); elsewhere the
    first offer with a place open wins, in ``wall_starts`` order (``_mapped_day_slots``)."""
    tie = np.where(fewest_first, offered.spots, offered.rank)
    order = np.lexsort((tie, offered.length, offered.minute))
    minute, length, has_room = offered.minute[order], offered.length[order], spots_open[order] > 0
    new = np.ones(len(order), dtype=bool)
    new[1:] = (minute[1:] != minute[:-1]) | (length[1:] != length[:-1])
    group = np.cumsum(new)
    roomy = np.flatnonzero(has_room)
    first_roomy = np.zeros(len(order), dtype=bool)
    first_roomy[roomy[np.diff(group[roomy], prepend=0) != 0]] = True
    return order[np.where(fewest_first[order], new & has_room, first_roomy)]


def _overridden(
    found: SlotArrays,
    *,
    plan: Plan,
    table: ZoneTable,
    days: tuple[int, int],
    keep: tuple[int, int],
    day: Ints,
) -> SlotArrays:
    """The feed's slots of some local days with each real-time override applied in turn:
    inside its window the slots are the override's (those starting in ``keep`` on these days),
    and a slot already listed with the same start and end stays as it is."""
    parts = [(found, day)]
    for override in plan.overrides:
        parts = [
            (s.take(outside), d[outside])
            for s, d in parts
            for outside in [(s.start < override.start) | (s.start >= override.end)]
        ]
        extra = override.slots
        seconds = extra.start // MICROS
        local_day = (seconds + table.offset_at(seconds)) // DAY
        wanted = (
            (keep[0] <= extra.start)
            & (extra.start < keep[1])
            & (days[0] <= local_day)
            & (local_day <= days[1])
        )
        listed = {
            (a, b) for s, _ in parts for a, b in zip(s.start.tolist(), s.end.tolist(), strict=True)
        }
        for k in np.flatnonzero(wanted).tolist():
            key = (int(extra.start[k]), int(extra.end[k]))
            if key not in listed:
                listed.add(key)
                parts.append((extra.take(slice(k, k + 1)), local_day[k : k + 1]))
    slots = SlotArrays.joined([s for s, _ in parts])
    day = np.concatenate([d for _, d in parts])
    return slots.take(np.lexsort((slots.end, slots.start, day)))
