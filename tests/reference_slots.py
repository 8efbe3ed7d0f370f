"""The reference slot engine: availability expanded one Python datetime at a time, for tests.

This was the service's engine before the vectorised one (``matcher.engine.expansion`` and
``matcher.engine.rendering``) replaced it; it stays, used only by the tests, as the plain
statement of the daylight-saving policy that the fast engine must match slot for slot:

- a wall time that does not exist (the spring-forward gap) yields no slot;
- a wall time that happens twice (the fall-back fold) yields one slot, at its first occurrence;
- a slot ends its length in real elapsed minutes after it starts;
- a wall start and length offered more than once on a day (two rules, or a rule and a one-off)
  is one slot with the fewest places any of those offers gives, not offered when they are taken.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice
from typing import TypeVar
from zoneinfo import ZoneInfo

from matcher.engine.budget import Budget
from matcher.engine.slot_ids import slot_id
from matcher.model import (
    Availability,
    LocalHours,
    RenderedSlot,
    Slot,
    Supplier,
    WeeklyRule,
    Window,
)

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
Start = TypeVar("Start", bound=tuple[int, ...])  # (minute of the local day, ...)


@lru_cache(maxsize=1 << 14)
def weekly_starts(weekly: tuple[WeeklyRule, ...], weekday: int) -> tuple[tuple[int, int, int], ...]:
    """(minute, length, places) of the slots weekly rules open on a weekday, sorted, no repeats.

    Cached by the rules themselves: many suppliers keep the same hours.
    """
    return tuple(
        sorted(
            {(m, r.slot_minutes, r.spots) for r in weekly if weekday in r.days for m in r.minutes}
        )
    )


def wall_starts(availability: Availability, day: date) -> list[tuple[int, int, int]]:
    """(minute of the local day, length, places) of every slot opening on a date, closures
    aside."""
    weekday = day.weekday()
    starts = [
        (minute, rule.slot_minutes, rule.spots)
        for rule in availability.weekly
        if weekday in rule.days
        for minute in rule.minutes
    ]
    starts.extend(availability.one_offs_by_day.get(day, ()))
    return starts


def day_starts(availability: Availability, day: date) -> Sequence[tuple[int, int, int]]:
    """``wall_starts`` sorted and without repeats: the order slots open in on a steady day."""
    weekly = weekly_starts(availability.weekly, day.weekday())
    extra = availability.one_offs_by_day.get(day)
    return sorted(set(weekly).union(extra)) if extra else weekly


def instant_of(wall: datetime, tz: ZoneInfo) -> datetime | None:
    """The UTC instant of a wall time: None in a gap, the first occurrence in a fold."""
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return instant


def expand(
    availability: Availability, *, tz: ZoneInfo, window: Window, not_before: datetime
) -> list[Slot]:
    """Every slot starting inside ``window`` and no earlier than ``not_before``, in order."""
    return list(iter_slots(availability, tz=tz, window=window, not_before=not_before))


def iter_slots(
    availability: Availability, *, tz: ZoneInfo, window: Window, not_before: datetime
) -> Iterator[Slot]:
    """The slots of ``expand``, lazily, a local day at a time, so callers can stop early."""
    floor = max(window.start, not_before)
    if floor >= window.end:
        return
    day = (floor.astimezone(tz) - timedelta(days=1)).date()
    last = (window.end.astimezone(tz) + timedelta(days=1)).date()
    while day <= last:
        yield from _day_slots(
            availability, day=day, tz=tz, keep=Window(start=floor, end=window.end)
        )
        day += timedelta(days=1)


def _day_slots(
    availability: Availability, *, day: date, tz: ZoneInfo, keep: Window
) -> Iterator[Slot]:
    """One local day's slots starting in ``keep``, in order.

    On a day with one offset all day and no real-time override touching it, wall order is
    instant order: slots are made only as far as the caller reads. Otherwise each wall time is
    mapped on its own and the overrides applied.
    """
    offset = steady_offset(tz, day)
    midnight = datetime.combine(day, time(), tzinfo=UTC) - (offset or timedelta(0))
    # a day and a day either side: a local date can last longer than 24 hours (St John's fell
    # back at 00:01, so 23:01 to 23:59 of the 24th came twice), and its slots must not be missed
    if offset is None or availability.overridden(midnight - DAY, midnight + 2 * DAY):
        yield from sorted(_mapped_day_slots(availability, day=day, tz=tz, keep=keep))
        return
    if day in availability.closed:
        return
    starts = day_starts(availability, day)
    first = -((midnight - keep.start) // MINUTE)  # the first minute of the day not before it
    previous = None
    for minute, minutes, spots in starts[bisect_left(starts, (first,)) :]:
        instant = midnight + timedelta(minutes=minute)
        if instant >= keep.end:
            return
        if (minute, minutes) != previous:
            slot = _open_slot(
                availability, day=day, minute=minute, at=instant, minutes=minutes, spots=spots
            )
            if slot is not None:
                yield slot
        previous = (minute, minutes)


def _mapped_day_slots(
    availability: Availability, *, day: date, tz: ZoneInfo, keep: Window
) -> set[Slot]:
    """The slots opening on a local date and starting in ``keep``, each wall time mapped on its
    own: the feed's (unless closed; a wall start and length offered twice is one slot with the
    fewest places offered), then each override's in turn."""
    found = set()
    if day not in availability.closed:
        fewest: dict[tuple[int, int], int] = {}
        for minute, minutes, spots in wall_starts(availability, day):
            fewest[minute, minutes] = min(spots, fewest.get((minute, minutes), spots))
        offered = [(minute, minutes, spots) for (minute, minutes), spots in fewest.items()]
        for instant, (minute, minutes, spots) in _instants(offered, day=day, tz=tz):
            if instant in keep:
                slot = _open_slot(
                    availability, day=day, minute=minute, at=instant, minutes=minutes, spots=spots
                )
                if slot is not None:
                    found.add(slot)
    for override in availability.overrides:
        found = {s for s in found if s.start not in override.window}
        found.update(
            s for s in override.slots if s.start in keep and s.start.astimezone(tz).date() == day
        )
    return found


def _open_slot(
    availability: Availability, *, day: date, minute: int, at: datetime, minutes: int, spots: int
) -> Slot | None:
    """The slot at an instant with its open places; None when it is full (not offered)."""
    spots_open = spots - availability.taken(day, minute)
    if spots_open <= 0:
        return None
    return Slot(at, at + timedelta(minutes=minutes), spots_total=spots, spots_open=spots_open)


def _instants(
    starts: Iterable[Start], *, day: date, tz: ZoneInfo
) -> Iterator[tuple[datetime, Start]]:
    """(instant, start) of each start (minute of the local day first); gap minutes are dropped."""
    midnight = datetime.combine(day, time())
    offset = steady_offset(tz, day)
    for start in starts:
        wall = midnight + timedelta(minutes=start[0])
        if offset is not None:
            yield (wall - offset).replace(tzinfo=UTC), start
        else:
            instant = instant_of(wall, tz)
            if instant is not None:
                yield instant, start


@lru_cache(maxsize=1 << 16)
def steady_offset(tz: ZoneInfo, day: date) -> timedelta | None:
    """The zone's UTC offset all through a local date, or None if it changes that day."""
    midnight = datetime.combine(day, time(), tzinfo=tz)
    first = midnight.utcoffset()
    last = (midnight + timedelta(days=1)).utcoffset()
    if first != last or instant_of(midnight.replace(tzinfo=None), tz) is None:
        return None
    return first


def render(
    slot: Slot, *, supplier_id: str, supplier_tz: ZoneInfo, user_tz: ZoneInfo
) -> RenderedSlot:
    """Renders a slot for a user; the offset difference is the one at this slot's instant."""
    user_local = slot.start.astimezone(user_tz)
    supplier_local = slot.start.astimezone(supplier_tz)
    user_end = slot.end.astimezone(user_tz)
    supplier_end = slot.end.astimezone(supplier_tz)
    difference = offset_seconds(supplier_local) - offset_seconds(user_local)
    return RenderedSlot(
        slot_id=slot_id(supplier_id=supplier_id, slot=slot),
        start=slot.start,
        end=slot.end,
        user_local_start=user_local.isoformat(),
        supplier_local_start=supplier_local.isoformat(),
        user_local_end=user_end.isoformat(),
        supplier_local_end=supplier_end.isoformat(),
        offset_difference_minutes=difference // 60,
        day_shift=(supplier_local.date() - user_local.date()).days,
        spots_total=slot.spots_total,
        spots_open=slot.spots_open,
    )


def offset_seconds(local: datetime) -> int:
    """The UTC offset of an aware datetime, in whole seconds."""
    offset = local.utcoffset()
    assert offset is not None  # only called on aware datetimes
    return int(offset.total_seconds())


def first_slots_charged(
    supplier: Supplier,
    *,
    user_tz: ZoneInfo,
    window: Window,
    now: datetime,
    local_hours: LocalHours | None,
    limit: int,
    budget: Budget,
    preferred_hours: LocalHours | None = None,
) -> list[RenderedSlot]:
    """A supplier's first slots as Match asks for them, read one by one and charged to the
    budget; with no hours asked for, the ``preferred_hours`` first (the service's logic before
    slots were expanded in bulk)."""
    if local_hours is None and preferred_hours is not None:
        preferred = first_slots_charged(
            supplier,
            user_tz=user_tz,
            window=window,
            now=now,
            local_hours=preferred_hours,
            limit=limit,
            budget=budget,
        )
        if preferred:
            return preferred
    tz = ZoneInfo(supplier.timezone)
    not_before = now + supplier.availability.min_notice
    found: Iterable[Slot] = budget.expanded(
        iter_slots(supplier.availability, tz=tz, window=window, not_before=not_before)
    )
    if local_hours is not None:
        found = (s for s in found if local_hours.admits(s.start.astimezone(user_tz)))
    return [
        render(s, supplier_id=supplier.id, supplier_tz=tz, user_tz=user_tz)
        for s in islice(found, limit)
    ]


def first_slots(
    availability: Availability,
    *,
    supplier_id: str,
    tz: ZoneInfo,
    user_tz: ZoneInfo,
    window: Window,
    not_before: datetime,
    local_hours: LocalHours | None,
    limit: int,
) -> list[RenderedSlot]:
    """What Match shows of a supplier: its first ``limit`` slots in the user's hours, rendered."""
    found: Iterable[Slot] = iter_slots(availability, tz=tz, window=window, not_before=not_before)
    if local_hours is not None:
        found = (s for s in found if local_hours.admits(s.start.astimezone(user_tz)))
    return [
        render(s, supplier_id=supplier_id, supplier_tz=tz, user_tz=user_tz)
        for s in islice(found, limit)
    ]
