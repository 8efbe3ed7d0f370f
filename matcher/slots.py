"""Availability in a supplier's wall time, expanded to instants for one window, and slot ids.

Daylight-saving policy (docs/feeds.md says the same):
- a wall time that does not exist (the spring-forward gap) yields no slot;
- a wall time that happens twice (the fall-back fold) yields one slot, at its first occurrence;
- a slot ends its length in real elapsed minutes after it starts.
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

SLOT_ID_PREFIX = "s1_"
MINUTE = timedelta(minutes=1)
Start = TypeVar("Start", bound=tuple[int, ...])  # (minute of the local day, ...)
#: The instants slots are computed for. Python dates reach years 1 to 9999, but expanding and
#: rendering slots needs the local dates around an instant, which overflow near those ends.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
HHMM = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")


def minute_of_day(text: str) -> int | None:
    """Minutes after midnight of a local "HH:MM" ("24:00" allowed), or None if malformed."""
    found = HHMM.fullmatch(text)
    if found is None:
        return None
    hours, minutes = (g for g in found.groups() if g is not None)
    return int(hours) * 60 + int(minutes)


@dataclass(frozen=True)
class WeeklyRule:
    """Slots back to back from ``start_minute`` while a whole one fits before ``end_minute``."""

    days: frozenset[int]  # 0 is Monday
    start_minute: int  # minutes after local midnight
    end_minute: int  # at most 1440
    slot_minutes: int
    spots: int = 1  # places in each slot

    @cached_property
    def minutes(self) -> tuple[int, ...]:
        """The minutes of the local day at which this rule's slots start."""
        last = self.end_minute - self.slot_minutes
        return tuple(range(self.start_minute, last + 1, self.slot_minutes))


@dataclass(frozen=True, slots=True)
class OneOff:
    """A single slot at a local wall time."""

    start: datetime  # naive, the supplier's wall time
    minutes: int
    spots: int = 1  # places in the slot


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


@dataclass(frozen=True)
class Availability:
    """When a supplier can be booked, in its own wall time, and real-time updates since."""

    weekly: tuple[WeeklyRule, ...] = ()
    one_off: tuple[OneOff, ...] = ()
    closed: frozenset[date] = field(default_factory=frozenset)
    min_notice: timedelta = timedelta(0)
    overrides: tuple[Override, ...] = ()  # applied in order: a later one wins where they overlap
    booked: tuple[tuple[datetime, int], ...] = ()  # (naive wall start, places already taken)

    def wall_starts(self, day: date) -> list[tuple[int, int, int]]:
        """(minute of the local day, length, places) of every slot opening on a date, closures
        aside."""
        weekday = day.weekday()
        starts = [
            (minute, rule.slot_minutes, rule.spots)
            for rule in self.weekly
            if weekday in rule.days
            for minute in rule.minutes
        ]
        starts.extend(self._one_offs_by_day.get(day, ()))
        return starts

    def day_starts(self, day: date) -> Sequence[tuple[int, int, int]]:
        """``wall_starts`` sorted and without repeats: the order slots open in on a steady day."""
        weekly = weekly_starts(self.weekly, day.weekday())
        extra = self._one_offs_by_day.get(day)
        return sorted(set(weekly).union(extra)) if extra else weekly

    def taken(self, day: date, minute: int) -> int:
        """Places already booked in the slot starting at a minute of a local date."""
        return self._taken.get((day, minute), 0) if self.booked else 0

    @cached_property
    def _one_offs_by_day(self) -> dict[date, list[tuple[int, int, int]]]:
        """One-off slots grouped by local date, as (minute of the day, length, places)."""
        by_day: dict[date, list[tuple[int, int, int]]] = {}
        for o in self.one_off:
            minute = o.start.hour * 60 + o.start.minute
            by_day.setdefault(o.start.date(), []).append((minute, o.minutes, o.spots))
        return by_day

    @cached_property
    def _taken(self) -> dict[tuple[date, int], int]:
        """Places booked by local date and minute of the day."""
        taken: dict[tuple[date, int], int] = {}
        for wall, places in self.booked:
            key = (wall.date(), wall.hour * 60 + wall.minute)
            taken[key] = taken.get(key, 0) + places
        return taken


@dataclass(frozen=True, order=True)
class Slot:
    """One bookable interval, as UTC instants, and how many of its places are still open."""

    start: datetime
    end: datetime
    spots_total: int = field(default=1, compare=False)
    spots_open: int = field(default=1, compare=False)

    @property
    def minutes(self) -> int:
        """The slot's real elapsed length."""
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class Window:
    """A half-open interval of instants [start, end)."""

    start: datetime
    end: datetime

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end


@dataclass(frozen=True)
class Override:
    """A real-time update: inside ``window``, the supplier's slots are exactly ``slots``."""

    window: Window
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class LocalHours:
    """Minutes of a local day, start inclusive, end exclusive; end before start wraps midnight."""

    start_minute: int
    end_minute: int

    def admits(self, local: datetime) -> bool:
        """Whether a local time of day falls inside these hours."""
        minute = local.hour * 60 + local.minute
        if self.start_minute <= self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute


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

    On a day with one offset all day and no real-time override, wall order is instant order:
    slots are made only as far as the caller reads. Otherwise each wall time is mapped on its
    own and the overrides applied.
    """
    offset = steady_offset(tz, day)
    if offset is None or availability.overrides:
        yield from sorted(_mapped_day_slots(availability, day=day, tz=tz, keep=keep))
        return
    if day in availability.closed:
        return
    midnight = datetime.combine(day, time(), tzinfo=UTC) - offset
    starts = availability.day_starts(day)
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
    own: the feed's (unless closed), then each override's in turn."""
    found = set()
    if day not in availability.closed:
        for instant, (minute, minutes, spots) in _instants(
            availability.wall_starts(day), day=day, tz=tz
        ):
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


@dataclass(frozen=True)
class SlotRef:
    """What a slot id names: a supplier's slot starting at an instant, of a length."""

    supplier_id: str
    start: datetime
    minutes: int


def slot_id(*, supplier_id: str, slot: Slot) -> str:
    """A stable, opaque, URL-safe id for one supplier's slot."""
    return _encode_slot_id(supplier_id, int(slot.start.timestamp()), slot.minutes)


def _encode_slot_id(supplier_id: str, epoch: int, minutes: int) -> str:
    raw = f"{supplier_id}|{epoch}|{minutes}".encode()
    return SLOT_ID_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_slot_id(text: str) -> SlotRef | None:
    """The slot an id names, or None when it is not an id this service issued."""
    if not text.startswith(SLOT_ID_PREFIX):
        return None
    body = text[len(SLOT_ID_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
        supplier_id, epoch, minutes = raw.rsplit("|", 2)
        seconds = int(epoch)
        start = datetime.fromtimestamp(seconds, tz=UTC)
        length = int(minutes)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        return None
    if not supplier_id or length <= 0 or not EARLIEST <= start <= LATEST:
        return None
    if _encode_slot_id(supplier_id, seconds, length) != text:
        return None  # another spelling (" 30", "1_800", stray characters) of a slot: not issued
    return SlotRef(supplier_id=supplier_id, start=start, minutes=length)


@dataclass(frozen=True)
class RenderedSlot:
    """A slot as a user sees it: both local times and how the two zones differ at its start."""

    slot_id: str
    start: datetime
    end: datetime
    user_local_start: str
    supplier_local_start: str
    offset_difference_minutes: int
    day_shift: int
    spots_total: int
    spots_open: int


def render(
    slot: Slot, *, supplier_id: str, supplier_tz: ZoneInfo, user_tz: ZoneInfo
) -> RenderedSlot:
    """Renders a slot for a user; the offset difference is the one at this slot's instant."""
    user_local = slot.start.astimezone(user_tz)
    supplier_local = slot.start.astimezone(supplier_tz)
    difference = offset_seconds(supplier_local) - offset_seconds(user_local)
    return RenderedSlot(
        slot_id=slot_id(supplier_id=supplier_id, slot=slot),
        start=slot.start,
        end=slot.end,
        user_local_start=user_local.isoformat(),
        supplier_local_start=supplier_local.isoformat(),
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
