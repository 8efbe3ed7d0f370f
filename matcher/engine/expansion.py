"""Availability in a supplier's wall time, expanded to the instants of its slots, as numpy arrays.

Daylight-saving policy (docs/feeds.md says the same):
- a wall time that does not exist (the spring-forward gap) yields no slot;
- a wall time that happens twice (the fall-back fold) yields one slot, at its first occurrence;
- a slot ends its length in real elapsed minutes after it starts;
- a wall start and length offered more than once on a day is one slot, with the fewest places
  any of those offers gives (none open when those are taken).

Every local day of a window at once: the weekly rules' wall times are laid over the days, turned
into instants through the zone's table (``matcher.geo.zonetable``), and the one-offs, closures,
bookings and real-time overrides applied as array operations. The tests hold this engine to the
reference one, which maps one Python datetime at a time (``tests/reference_slots.py``), finer
points included: a local day with one offset all through it maps its wall times with that
offset, and slots are listed by local day, then by instant.

Instants are int64 microseconds since the epoch: windows, notice and overrides carry them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property, lru_cache

import numpy as np
import numpy.typing as npt

from matcher.engine.kept import Kept
from matcher.geo.zonetable import DAY, Flags, ZoneTable
from matcher.instants import from_micros, to_micros
from matcher.model import Availability, Slot, WeeklyRule, Window

Ints = npt.NDArray[np.int64]

MICROS = 1_000_000
DAY_MINUTES = 1440
WEEK_MINUTES = 7 * DAY_MINUTES
MINUTE_MICROS = 60 * MICROS
#: Weeks of a weekly template laid out: the first 9 local days of a window, wherever they start.
TILED_WEEKS = 3
#: Plans kept for the availabilities used most recently.
PLANS_KEPT = 1 << 14
#: Weeks kept for the sets of weekly rules used most recently.
WEEKS_KEPT = 1 << 12
_MONDAY = 4 * DAY_MINUTES  # 1970-01-05 00:00, a Monday, in minutes since 1970
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: Local days expanded before the first look at how many slots there are: a 7-day window's.
FIRST_DAYS = 9
_EMPTY = np.empty(0, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class SlotArrays:
    """Slots as parallel arrays: by local day, then by instant."""

    start: Ints  # microseconds since the epoch
    end: Ints
    spots_total: Ints
    spots_open: Ints

    def __len__(self) -> int:
        return len(self.start)

    @property
    def minutes(self) -> Ints:
        """Each slot's real elapsed length in whole minutes."""
        return (self.end - self.start) // MINUTE_MICROS

    def take(self, chosen: npt.NDArray[np.intp] | Flags | slice) -> SlotArrays:
        """The slots an index, mask or slice picks."""
        return SlotArrays(
            self.start[chosen], self.end[chosen], self.spots_total[chosen], self.spots_open[chosen]
        )

    def slots(self) -> list[Slot]:
        """As ``Slot`` values."""
        return [
            Slot(from_micros(a), from_micros(b), spots_total=t, spots_open=o)
            for a, b, t, o in zip(
                self.start.tolist(),
                self.end.tolist(),
                self.spots_total.tolist(),
                self.spots_open.tolist(),
                strict=True,
            )
        ]

    @staticmethod
    def of(slots: Sequence[Slot]) -> SlotArrays:
        """``Slot`` values as arrays."""
        return SlotArrays(
            np.array([to_micros(s.start) for s in slots], dtype=np.int64),
            np.array([to_micros(s.end) for s in slots], dtype=np.int64),
            np.array([s.spots_total for s in slots], dtype=np.int64),
            np.array([s.spots_open for s in slots], dtype=np.int64),
        )

    @staticmethod
    def joined(parts: list[SlotArrays]) -> SlotArrays:
        """Several runs of slots one after another."""
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return _NO_SLOTS
        return SlotArrays(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("start", "end", "spots_total", "spots_open")
_NO_SLOTS = SlotArrays(_EMPTY, _EMPTY, _EMPTY, _EMPTY)


@dataclass(frozen=True, eq=False)
class _Offered:
    """Wall starts as arrays: minute (of the week or since 1970), length and places."""

    minute: Ints
    length: Ints
    spots: Ints

    def take(self, chosen: npt.NDArray[np.intp] | Flags | slice) -> _Offered:
        """The entries an index, mask or slice picks."""
        return _Offered(self.minute[chosen], self.length[chosen], self.spots[chosen])

    @staticmethod
    def of(rows: list[tuple[int, int, int]]) -> _Offered:
        """Entries from (minute, length, places) rows, sorted by all three; of the rows of one
        minute and length only the first, the fewest places, is kept."""
        table = np.array(sorted(rows), dtype=np.int64).reshape(-1, 3)
        table = table[_new_walls(table[:, 0], table[:, 1])]
        return _Offered(table[:, 0], table[:, 1], table[:, 2])


@dataclass(frozen=True, eq=False)
class _Week:
    """Weekly wall starts, minute of the week first (Monday 00:00 is 0), laid over any run of
    weeks by index arithmetic: entry ``g`` is ``offered[g % n]`` in week ``g // n``. The first
    ``TILED_WEEKS`` weeks are laid out once, so that a window's slots are slices of them."""

    offered: _Offered
    minutes: tuple[int, ...]  # offered.minute, for bisecting one value

    @staticmethod
    def of(offered: _Offered) -> _Week:
        """The week of some wall starts sorted by minute of the week."""
        return _Week(offered=offered, minutes=tuple(offered.minute.tolist()))

    @cached_property
    def tiled(self) -> tuple[Ints, Ints, Ints]:
        """Start (microseconds after the first Monday 00:00), length (microseconds) and
        places of each entry of the first ``TILED_WEEKS`` weeks."""
        weeks = np.arange(TILED_WEEKS, dtype=np.int64)[:, None] * WEEK_MINUTES
        return (
            ((weeks + self.offered.minute) * MINUTE_MICROS).ravel(),
            np.tile(self.offered.length * MINUTE_MICROS, TILED_WEEKS),
            np.tile(self.offered.spots, TILED_WEEKS),
        )

    def position(self, minute: int) -> int:
        """The index of the first entry at or after a minute since 1970 (wall time)."""
        weeks, within = divmod(minute - _MONDAY, WEEK_MINUTES)
        return weeks * len(self.minutes) + bisect_left(self.minutes, within)

    def days(self, first: int, last: int) -> _Offered:
        """Every entry on local days ``first`` to ``last`` (days since 1970)."""
        if not self.minutes:
            return self.offered
        lo, hi = self.position(first * DAY_MINUTES), self.position((last + 1) * DAY_MINUTES)
        weeks, at = np.divmod(np.arange(lo, hi, dtype=np.int64), len(self.minutes))
        o = self.offered
        minute = weeks * WEEK_MINUTES + (o.minute[at] + _MONDAY)
        return _Offered(minute, o.length[at], o.spots[at])

    def slots(self, first: int, last: int, *, offset: int) -> SlotArrays:
        """Entries ``first`` to ``last`` (excluded) as slots, at one UTC offset (seconds)."""
        n = len(self.minutes)
        if not n or first >= last:
            return _NO_SLOTS
        weeks = first // n
        lo, hi = first - weeks * n, last - weeks * n
        shift = (_MONDAY + weeks * WEEK_MINUTES) * MINUTE_MICROS - offset * MICROS
        starts, lengths, places = self.tiled
        if hi <= len(starts):
            start, length, spots = starts[lo:hi] + shift, lengths[lo:hi], places[lo:hi]
        else:  # more weeks than are laid out
            more, at = np.divmod(np.arange(lo, hi, dtype=np.int64), n)
            start = (more * WEEK_MINUTES + self.offered.minute[at]) * MINUTE_MICROS + shift
            length, spots = lengths[at], places[at]
        return SlotArrays(start, start + length, spots, spots)


@lru_cache(maxsize=WEEKS_KEPT)
def _week(weekly: tuple[WeeklyRule, ...]) -> _Week:
    """Weekly rules as a week of wall starts, one per minute and length (the fewest places).

    Cached by the rules themselves: many suppliers keep the same hours, and share these.
    """
    return _Week.of(
        _Offered.of(
            [
                (weekday * DAY_MINUTES + minute, rule.slot_minutes, rule.spots)
                for rule in weekly
                for weekday in rule.days
                for minute in rule.minutes
            ]
        )
    )


def make_weeks(weeklies: Iterable[tuple[WeeklyRule, ...]]) -> None:
    """Makes the weeks of the ``WEEKS_KEPT`` commonest sets of weekly rules up front (the
    commonest last, so kept longest): each takes some 50 µs, which the first Matches after a
    load would otherwise pay, several each."""
    for weekly, _ in reversed(Counter(weeklies).most_common(WEEKS_KEPT)):
        _week(weekly)


@dataclass(frozen=True, eq=False)
class _Override:
    """A real-time override as arrays: its window and its slots in order, in microseconds."""

    start: int
    end: int
    slots: SlotArrays


@dataclass(frozen=True, eq=False)
class Plan:
    """What expanding one availability needs, worked out once: its weekly rules as a week of
    wall starts (shared by every availability with those rules), and its one-offs, bookings
    and closures sorted, as tuples to bisect and, on first use, as arrays."""

    week: _Week  # the weekly wall starts, one per minute and length
    one_offs: tuple[tuple[int, int, int], ...]  # (minute since 1970, length, places), one each
    one_off_minutes: tuple[int, ...]
    booked: tuple[tuple[int, int], ...]  # (minute since 1970, places taken), ascending
    booked_minutes: tuple[int, ...]
    closed_days: tuple[int, ...]  # local dates as days since 1970, ascending
    overrides: tuple[_Override, ...]

    @cached_property
    def one_off(self) -> _Offered:
        """The one-offs as arrays, minute since 1970-01-01 00:00 wall time."""
        return _Offered.of(list(self.one_offs))

    @cached_property
    def booked_minute(self) -> Ints:
        """Minute since 1970 of each booked wall start, ascending."""
        return np.array(self.booked_minutes, dtype=np.int64)

    @cached_property
    def booked_places(self) -> Ints:
        """Places taken at each of ``booked_minute``."""
        return np.array([p for _, p in self.booked], dtype=np.int64)

    @cached_property
    def closed(self) -> Ints:
        """``closed_days`` as an array."""
        return np.array(self.closed_days, dtype=np.int64)


#: An availability's plan, made on first use and kept while it is among the most used.
plan_of: Kept[Availability, Plan] = Kept(PLANS_KEPT, lambda a: make_plan(a))


def make_plan(availability: Availability) -> Plan:
    """Builds an availability's plan (``plan_of`` keeps them)."""
    one_offs: tuple[tuple[int, int, int], ...] = ()
    if availability.one_off:
        fewest: dict[tuple[int, int], int] = {}
        for o in availability.one_off:
            key = (_wall_minute(o.start), o.minutes)
            fewest[key] = min(o.spots, fewest.get(key, o.spots))
        one_offs = tuple(sorted([(m, n, spots) for (m, n), spots in fewest.items()]))
    booked: tuple[tuple[int, int], ...] = ()
    if availability.booked:
        taken: dict[int, int] = {}
        for wall, places in availability.booked:
            taken[_wall_minute(wall)] = taken.get(_wall_minute(wall), 0) + places
        booked = tuple(sorted(taken.items()))
    return Plan(
        week=_week(availability.weekly),
        one_offs=one_offs,
        one_off_minutes=tuple([m for m, _, _ in one_offs]),
        booked=booked,
        booked_minutes=tuple([m for m, _ in booked]),
        closed_days=tuple(sorted([d.toordinal() - EPOCH_ORDINAL for d in availability.closed])),
        overrides=tuple(
            [
                _Override(
                    start=to_micros(o.window.start),
                    end=to_micros(o.window.end),
                    slots=SlotArrays.of(o.slots),
                )
                for o in availability.overrides
            ]
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


def slot_prefix(
    availability: Availability,
    *,
    table: ZoneTable,
    window: Window,
    not_before: datetime,
    limit: int,
    admit: Callable[[SlotArrays], Flags] | None = None,
) -> tuple[SlotArrays, Flags]:
    """The slots of ``expand`` up to (at least) the ``limit``-th that ``admit`` lets through,
    and which it lets through: local days are expanded a run at a time until there are enough."""
    found: list[SlotArrays] = []
    admitted: list[Flags] = []
    count = 0
    for chunk in iter_chunks(availability, table=table, window=window, not_before=not_before):
        found.append(chunk)
        admitted.append(np.ones(len(chunk), dtype=bool) if admit is None else admit(chunk))
        count += int(admitted[-1].sum())
        if count >= limit:
            break
    flags = np.concatenate(admitted) if admitted else np.zeros(0, dtype=bool)
    return SlotArrays.joined(found), flags


def steady_slots(
    plans: Sequence[Plan],
    *,
    offsets: Sequence[int],
    keep_starts: Sequence[int],
    keep_end: int,
    cap: int | None,
) -> tuple[SlotArrays, Ints]:
    """The slots of many availabilities at once (cases), each in a zone that keeps one UTC
    offset (``offsets``, seconds) through the window and a day or two around it, and with no
    real-time override in the window: the common case. Case ``i``'s slots start in
    ``[keep_starts[i], keep_end)`` (microseconds: the window from its notice on).

    The answer: every case's slots one case after another, and the case each slot is of. With
    a ``cap``, at least each case's first ``cap`` slots (more, sometimes), else all. Each case's
    weekly slots are a run of its week's entries (found by bisecting), taken in one gather for
    all cases; one-offs, closures and bookings inside the window are merged and applied to all
    at once.
    """
    k = len(plans)
    lows, highs, bases, sizes = [0] * k, [0] * k, [0] * k, [0] * k
    bases_of: dict[int, int] = {}  # id(week) -> where its entries start in the joined arrays
    joined: list[_Offered] = []
    total = 0
    extra: list[tuple[int, int, int, int]] = []  # (case, one-off wall minute, length, places)
    closed: list[tuple[int, int]] = []  # (case, closed local day in the window)
    booked: list[tuple[int, int, int]] = []  # (case, booked wall minute, places)
    for i, plan in enumerate(plans):
        shift = offsets[i] * MICROS  # wall minutes that start in keep, as a steady day maps
        earliest = -((shift + keep_starts[i]) // -MINUTE_MICROS)
        latest = -((shift + keep_end) // -MINUTE_MICROS)
        week = plan.week
        minutes, n = week.minutes, len(week.minutes)  # ``week.position``, inlined: hot
        weeks, within_week = divmod(earliest - _MONDAY, WEEK_MINUTES)
        low = weeks * n + bisect_left(minutes, within_week)
        weeks, within_week = divmod(latest - _MONDAY, WEEK_MINUTES)
        high = weeks * n + bisect_left(minutes, within_week)
        uncapped = cap is None
        if plan.one_off_minutes:
            within = _within(plan.one_off_minutes, earliest, latest)
            if within is not None:
                extra.extend((i, m, n, p) for m, n, p in plan.one_offs[within])
        if plan.closed_days:
            within = _within(plan.closed_days, earliest // DAY_MINUTES, latest // DAY_MINUTES + 1)
            if within is not None:
                closed.extend((i, d) for d in plan.closed_days[within])
                uncapped = True
        if plan.booked:
            within = _within(plan.booked_minutes, earliest, latest)
            if within is not None:
                booked.extend((i, m, p) for m, p in plan.booked[within])
                uncapped = True
        base = bases_of.get(id(week))
        if base is None:
            base = bases_of[id(week)] = total
            joined.append(week.offered)
            total += n
        lows[i], bases[i], sizes[i] = low, base, n
        highs[i] = max(low, high if uncapped or cap is None else min(high, low + cap))
    low_at = np.array(lows, dtype=np.int64)
    counts = np.array(highs, dtype=np.int64) - low_at
    owner = np.repeat(np.arange(k, dtype=np.int64), counts)
    g = np.arange(len(owner), dtype=np.int64) + (low_at - (np.cumsum(counts) - counts))[owner]
    week_number, at = np.divmod(g, np.maximum(np.array(sizes, dtype=np.int64), 1)[owner])
    at += np.array(bases, dtype=np.int64)[owner]
    if len(joined) == 1:
        offered = joined[0]
    else:
        offered = _Offered(*(np.concatenate([getattr(w, f) for w in joined]) for f in _OFFERED))
    minute = offered.minute[at] + (week_number * WEEK_MINUTES + _MONDAY)
    length, spots = offered.length[at], offered.spots[at]
    if extra:
        rows = np.array(extra, dtype=np.int64)
        owner, minute, length, spots = (
            np.concatenate([column, rows[:, c]])
            for c, column in enumerate((owner, minute, length, spots))
        )
        order = np.lexsort((spots, length, minute, owner))
        owner, minute, length, spots = owner[order], minute[order], length[order], spots[order]
        new = _new_walls(minute, length)
        new[1:] |= owner[1:] != owner[:-1]
        owner, minute, length, spots = owner[new], minute[new], length[new], spots[new]
    spots_open = spots
    if closed or booked:
        keep = np.ones(len(owner), dtype=bool)
        if closed:
            days = np.array(closed, dtype=np.int64)
            keep &= ~member(owner * _CASE_KEY + minute // DAY_MINUTES, days @ _KEY_PARTS)
        if booked:
            taken = np.array(booked, dtype=np.int64)
            keys = taken[:, :2] @ _KEY_PARTS
            at = np.minimum(keys.searchsorted(owner * _CASE_KEY + minute), len(keys) - 1)
            spots_open = spots - np.where(keys[at] == owner * _CASE_KEY + minute, taken[at, 2], 0)
            keep &= spots_open > 0
        owner, minute, length = owner[keep], minute[keep], length[keep]
        spots, spots_open = spots[keep], spots_open[keep]
    start = minute * MINUTE_MICROS - np.array(offsets, dtype=np.int64)[owner] * MICROS
    return SlotArrays(start, start + length * MINUTE_MICROS, spots, spots_open), owner


#: Keys of (case, day or minute) pairs, as case * _CASE_KEY + value: minutes since 1970 stay
#: below 2**33 until the year 10,000.
_CASE_KEY = 1 << 34
_KEY_PARTS = np.array([_CASE_KEY, 1], dtype=np.int64)


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
    keep_start = max(to_micros(window.start), to_micros(not_before))
    keep_end = to_micros(window.end)
    if keep_start >= keep_end:
        return
    floor, end = keep_start // MICROS, keep_end // MICROS
    first = (floor + table.offset_of(floor)) // DAY - 1  # the local days around the window's
    last = (end + table.offset_of(end)) // DAY + 1
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
    offset = None if plan.overrides else table.steady((first - 2) * DAY, until=(last + 3) * DAY)
    if offset is None:
        return _changing_days(plan, table=table, days=days, keep=keep)
    return _steady_days(plan, offset=offset, days=days, keep=keep)


def _steady_days(
    plan: Plan, *, offset: int, days: tuple[int, int], keep: tuple[int, int]
) -> SlotArrays:
    """``_expand_days`` when the zone keeps one offset through those days and a day or two
    around them, and no override applies: the common case. The weekly slots are slices of
    the laid-out week; one-offs, closures and bookings, if any, are array operations."""
    first, last = days
    shift = offset * MICROS  # a wall minute m starts at m * MINUTE_MICROS - shift
    earliest = max(first * DAY_MINUTES, -((shift + keep[0]) // -MINUTE_MICROS))
    latest = min((last + 1) * DAY_MINUTES, -((shift + keep[1]) // -MINUTE_MICROS))
    week = plan.week
    found = week.slots(week.position(earliest), week.position(latest), offset=offset)
    within = _within(plan.one_off_minutes, earliest, latest)
    if within is not None:
        found = _with_one_offs(found, one_off=plan.one_off.take(within), shift=shift)
    closed = _within(plan.closed_days, first, last + 1) is not None
    if closed or _within(plan.booked_minutes, earliest, latest) is not None:
        minute = (found.start + shift) // MINUTE_MICROS
        spots_open = found.spots_total - _taken(plan, minute)
        chosen = spots_open > 0  # a full slot is not offered
        if closed:
            chosen &= ~member(minute // DAY_MINUTES, plan.closed)
        found = SlotArrays(
            found.start[chosen], found.end[chosen], found.spots_total[chosen], spots_open[chosen]
        )
    return found


def _with_one_offs(found: SlotArrays, *, one_off: _Offered, shift: int) -> SlotArrays:
    """Weekly slots of steady days and one-offs together, in order; a wall start and length
    offered twice gives one slot, with the fewest places offered (``Availability.day_starts``)."""
    minute = np.concatenate([(found.start + shift) // MINUTE_MICROS, one_off.minute])
    length = np.concatenate([found.minutes, one_off.length])
    spots = np.concatenate([found.spots_total, one_off.spots])
    order = np.lexsort((spots, length, minute))
    minute, length, spots = minute[order], length[order], spots[order]
    new = _new_walls(minute, length)
    start = minute[new] * MINUTE_MICROS - shift
    return SlotArrays(start, start + length[new] * MINUTE_MICROS, spots[new], spots[new])


def _changing_days(
    plan: Plan, *, table: ZoneTable, days: tuple[int, int], keep: tuple[int, int]
) -> SlotArrays:
    """``_expand_days`` near a change of the zone's offset, or with overrides: every wall start
    mapped on its own, but on steady days (one offset all day) mapped with that offset, as the
    reference does too."""
    first, last = days
    offset, steady = _midnights(table, first=first, last=last)
    bounds = np.array([first, last + 1], dtype=np.int64) * DAY_MINUTES
    one_off = plan.one_off.take(slice(*plan.one_off.minute.searchsorted(bounds)))
    offered = plan.week.days(first, last)
    if len(one_off.minute):
        offered = _Offered(
            *(np.concatenate([getattr(offered, f), getattr(one_off, f)]) for f in _OFFERED)
        )
    day = offered.minute // DAY_MINUTES
    if plan.closed_days:
        open_day = ~member(day, plan.closed)
        offered, day = offered.take(open_day), day[open_day]
    spots_open = offered.spots - _taken(plan, offered.minute)
    chosen = _one_per_wall(offered, spots_open=spots_open)
    offered, spots_open, day = offered.take(chosen), spots_open[chosen], day[chosen]
    walls = offered.minute * 60
    starts = walls - offset[day - first]  # a steady day's wall times: its one offset
    real = np.ones(len(walls), dtype=bool)
    changing = ~steady[day - first]
    starts[changing], real[changing] = table.instants(walls[changing])
    starts = starts * MICROS
    inside = real & (keep[0] <= starts) & (starts < keep[1])
    found = SlotArrays(
        starts[inside],
        starts[inside] + offered.length[inside] * MINUTE_MICROS,
        offered.spots[inside],
        spots_open[inside],
    )
    if plan.overrides:
        return _overridden(found, plan=plan, table=table, days=days, keep=keep, day=day[inside])
    return found.take(np.lexsort((found.end, found.start, day[inside])))


def _new_walls(minute: Ints, length: Ints) -> Flags:
    """For entries sorted by wall minute and length, whether each is the first of its pair:
    one slot is sold per wall start and length however often it is offered."""
    new = np.ones(len(minute), dtype=bool)
    new[1:] = (minute[1:] != minute[:-1]) | (length[1:] != length[:-1])
    return new


def _within(ascending: tuple[int, ...], lo: int, hi: int) -> slice | None:
    """Where an ascending tuple holds values in [lo, hi), if it holds any."""
    if not ascending or ascending[-1] < lo or ascending[0] >= hi:
        return None
    start, stop = bisect_left(ascending, lo), bisect_left(ascending, hi)
    return slice(start, stop) if start < stop else None


def _midnights(table: ZoneTable, *, first: int, last: int) -> tuple[Ints, Flags]:
    """For each local day from ``first`` to ``last``: the offset of its midnight, and whether
    the day is steady, as the reference's ``steady_offset`` has it (the same offset at this
    midnight and the next, and this midnight exists)."""
    midnights = np.arange(first, last + 2, dtype=np.int64) * DAY
    offset = table.wall_offset(midnights)
    exists = midnights - offset + table.offset_at(midnights - offset) == midnights
    return offset, (offset[:-1] == offset[1:]) & exists[:-1]


_OFFERED = ("minute", "length", "spots")


def member(values: Ints, sorted_set: Ints) -> Flags:
    """Whether each value is in an ascending array (not empty)."""
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values  # type: ignore[no-any-return]


def _taken(plan: Plan, minutes: Ints) -> Ints | int:
    """Places already booked at each wall start."""
    if not plan.booked:
        return 0
    at = np.minimum(np.searchsorted(plan.booked_minute, minutes), len(plan.booked_minute) - 1)
    return np.where(plan.booked_minute[at] == minutes, plan.booked_places[at], 0)


def _one_per_wall(offered: _Offered, *, spots_open: Ints) -> npt.NDArray[np.intp]:
    """Which entries make slots, in wall order: of the offers of one wall start and length,
    the one with the fewest places stands for all, and makes no slot when it is full."""
    order = np.lexsort((offered.spots, offered.length, offered.minute))
    new = _new_walls(offered.minute[order], offered.length[order])
    return order[new & (spots_open[order] > 0)]


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
